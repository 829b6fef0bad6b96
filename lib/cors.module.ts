import { Module, type DynamicModule, type INestApplication, type NestModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CORS_OPTIONS_TYPE, CorsConfigurableModule } from './cors.module-definition.js';
import { configProblem, CorsConfigError, MODULE_PLACE } from './engine/errors.js';
import { describeValue } from './engine/tokens.js';
import { CorsRuntime } from './cors.runtime.js';
import { CorsService } from './cors.service.js';
import { CorsGuard } from './http/cors.guard.js';

/**
 * `CorsModule.forRoot(options)` / `CorsModule.forRootAsync({ useFactory, inject })`: global by
 * default. From `configure()`, before any route is registered, it builds the policy table, mounts
 * the middleware, and makes its guard a global guard when a policy enforces.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [CorsRuntime, CorsService, CorsGuard],
  exports: [CorsService],
})
export class CorsModule extends CorsConfigurableModule implements NestModule {
  constructor(
    private readonly runtime: CorsRuntime,
    private readonly guard: CorsGuard,
  ) {
    super();
  }

  /**
   * `forRoot(options)`. Options that are not an object (the `enableCors` options delegate
   * `(req, callback) => …`, `undefined`) are refused here: Nest's module builder would turn them
   * into `{}`, which silently means "every origin".
   */
  static override forRoot(options: typeof CORS_OPTIONS_TYPE): DynamicModule {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      const message =
        typeof options === 'function'
          ? 'CorsModule.forRoot() takes an options object, not a function (an enableCors options delegate cannot be used: use origin: (origin, req) => ... or forRootAsync)'
          : `CorsModule.forRoot() takes an options object, got ${describeValue(options)}`;
      throw new CorsConfigError([
        configProblem(MODULE_PLACE, 'options-not-object', message, options),
      ]);
    }
    return super.forRoot(options);
  }

  /**
   * Kept for apps written for older versions, where it moved the middleware before the body
   * parsers: the module now does that by itself. Does nothing.
   * @deprecated Delete the call.
   */
  static mountEarly(app: INestApplication): void {
    void app;
  }

  /** Runs before any route is registered: the middleware then precedes every route. */
  async configure(): Promise<void> {
    await this.runtime.start(this.guard);
  }
}
