import { Module, type INestApplication, type NestModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CorsConfigurableModule } from './cors.module-definition.js';
import { CorsService } from './cors.service.js';

/**
 * `CorsModule.forRoot(options)` / `CorsModule.forRootAsync({ useFactory, inject })`: global by
 * default. At boot it mounts the early middleware and puts the guard on the handlers that need it.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [CorsService],
  exports: [CorsService],
})
export class CorsModule extends CorsConfigurableModule implements NestModule {
  constructor(private readonly cors: CorsService) {
    super();
  }

  /**
   * Mount the middleware before the body parser: call in `main.ts` before `listen()` so that
   * body-parser errors (malformed JSON, payload too large) carry the CORS headers too.
   */
  static mountEarly(app: INestApplication): void {
    app.get(CorsService).mount();
  }

  /** Runs before any route is registered: the middleware then precedes every route. */
  configure(): void {
    this.cors.start();
  }
}
