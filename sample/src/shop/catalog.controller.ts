import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { Cors } from '../../../lib/index.js';

const PRODUCTS = [
  { id: 'sku-1', name: 'Espresso cup', price: 9 },
  { id: 'sku-2', name: 'Pour-over kettle', price: 49 },
  { id: 'sku-3', name: 'Grinder', price: 129 },
];

/** Public, read-only: any site may read it, without cookies. */
@Controller('catalog')
@Cors({ origin: '*' })
export class CatalogController {
  @Get('products')
  list() {
    return PRODUCTS;
  }

  /** Same policy, plus one response header the page may read. */
  @Get('products/:id')
  @Cors({ exposedHeaders: ['X-Request-Id'] })
  one(@Param('id') id: string) {
    const product = PRODUCTS.find((p) => p.id === id);
    if (product === undefined) throw new NotFoundException(`No product ${id}`);
    return product;
  }
}
