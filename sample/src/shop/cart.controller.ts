import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Put } from '@nestjs/common';
import { Cors } from '../../../lib/index.js';

/**
 * JSON writes from the page: the browser preflights each PUT/PATCH/DELETE. Only the listed request
 * headers may be sent; origins come from the module (CORS_ORIGINS).
 */
@Controller('cart')
@Cors({ allowedHeaders: ['Content-Type', 'X-Request-Id'] })
export class CartController {
  private readonly items = new Map<string, number>();

  @Get()
  view() {
    return Object.fromEntries(this.items);
  }

  @Put('items/:sku')
  put(@Param('sku') sku: string, @Body() body: { quantity?: number }) {
    this.items.set(sku, Number(body?.quantity ?? 1));
    return { sku, quantity: this.items.get(sku) };
  }

  /** The browser may reuse this route's preflight answer for 10 minutes. */
  @Patch('items/:sku')
  @Cors({ maxAge: 600 })
  patch(@Param('sku') sku: string, @Body() body: { quantity?: number }) {
    this.items.set(sku, Number(body?.quantity ?? 1));
    return { sku, quantity: this.items.get(sku) };
  }

  @Delete('items/:sku')
  @HttpCode(204)
  remove(@Param('sku') sku: string) {
    this.items.delete(sku);
  }
}
