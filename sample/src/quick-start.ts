// The README's quick start, verbatim except for the import path (README: from 'nestjs-cors').
// test/browser/quick-start.spec.ts runs it in Chromium.
import { Controller, Get, Module, Post } from '@nestjs/common';
import { Cors, CorsModule } from '../../lib/index.js';

@Controller('products')
@Cors({ origin: '*' }) // every route here: any site may read
export class ProductsController {
  @Get()
  list() {
    return [{ id: 1, name: 'Espresso cup' }];
  }

  @Post()
  @Cors({ origin: 'http://localhost:4200', credentials: true }) // this route: your front end, cookies
  create() {
    return { id: 2 };
  }

  @Get('stock')
  @Cors(false) // server-to-server only: no CORS headers at all
  stock() {
    return { 1: 12 };
  }
}

@Module({
  imports: [CorsModule.forRoot({ origin: 'http://localhost:4200' })], // routes without @Cors()
  controllers: [ProductsController],
})
export class AppModule {}
