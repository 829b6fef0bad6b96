import { SetMetadata } from '@nestjs/common';
import { CORS_METADATA } from './cors.constants.js';
import type { CorsDecoratorValue } from './interfaces/cors-options.interface.js';

/**
 * CORS for a controller or a route handler:
 * - `@Cors()` the module defaults (useful with `routes: 'decorated'`);
 * - `@Cors({ ... })` options merged key by key over the module defaults and the controller's;
 * - `@Cors('admin')` a named policy from `CorsModule.forRoot({ policies })`;
 * - `@Cors(false)` no CORS here.
 */
export const Cors = (policy: CorsDecoratorValue = {}): ClassDecorator & MethodDecorator =>
  SetMetadata(CORS_METADATA, policy);
