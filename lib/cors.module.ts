import { Module, type INestApplication, type NestModule } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { CorsConfigurableModule } from './cors.module-definition.js';
import { CorsRuntime } from './cors.runtime.js';
import { CorsService } from './cors.service.js';
import { CorsGuard } from './http/cors.guard.js';

/**
 * `CorsModule.forRoot(options)` / `CorsModule.forRootAsync({ useFactory, inject })`: global by
 * default. It registers the early middleware (from `configure()`, before any route), the guard
 * (`enforce`), and the service.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [CorsRuntime, CorsService, CorsGuard, { provide: APP_GUARD, useExisting: CorsGuard }],
  exports: [CorsService],
})
export class CorsModule extends CorsConfigurableModule implements NestModule {
  constructor(private readonly runtime: CorsRuntime) {
    super();
  }

  /**
   * Mount the middleware before the body parser: call in `main.ts` before `listen()` so that
   * body-parser errors (malformed JSON, payload too large) carry the CORS headers too.
   */
  static mountEarly(app: INestApplication): void {
    app.get(CorsRuntime).mount();
  }

  /** Runs before any route is registered: the middleware then precedes every route. */
  configure(): void {
    this.runtime.start();
  }
}
