import {
  Controller,
  Get,
  Injectable,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * A stand-in for real authentication: `Authorization: Bearer demo-token`, else 401. It reads only
 * the headers, which Express's request and Fastify's request both have.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>();
    if (req.headers.authorization !== 'Bearer demo-token') {
      throw new UnauthorizedException('A bearer token is required');
    }
    return true;
  }
}

/** Module defaults (CORS_ORIGINS). The 401 carries the CORS headers, so the page can read it. */
@Controller('orders')
@UseGuards(BearerAuthGuard)
export class OrdersController {
  @Get()
  list() {
    return [{ id: 'ord-1', total: 58 }];
  }
}
