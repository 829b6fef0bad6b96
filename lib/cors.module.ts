import { Module, type INestApplication, type NestModule } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { CorsConfigurableModule } from './cors.module-definition.js';
import { CorsService } from './cors.service.js';
import { CorsGuard } from './http/cors.guard.js';
import { CorsInterceptor } from './http/cors.interceptor.js';

/**
 * `CorsModule.forRoot(options)` / `CorsModule.forRootAsync({ useFactory, inject })`: global by
 * default; registers the early middleware, the guard and the interceptor.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    CorsService,
    { provide: APP_GUARD, useClass: CorsGuard },
    { provide: APP_INTERCEPTOR, useClass: CorsInterceptor },
  ],
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
