export { Cors } from './cors.decorator.js';
export { CORS_METADATA } from './cors.constants.js';
export { CorsModule } from './cors.module.js';
export { CORS_MODULE_OPTIONS, type CorsOptionsFactory } from './cors.module-definition.js';
export { CorsService, type CorsRouteReport } from './cors.service.js';
export { CorsGuard } from './http/cors.guard.js';
export {
  CorsPolicy,
  CorsDenial,
  type CorsDecision,
  type CorsRequestLike,
  type HeaderTarget,
  type OriginVerdict,
} from './engine/cors-policy.js';
export { CorsConfigError, type CorsConfigProblem } from './engine/errors.js';
export type {
  CorsDecoratorValue,
  CorsModuleOptions,
  CorsOriginCallback,
  CorsOriginFunction,
  CorsPolicyOptions,
  CorsStaticOrigin,
} from './interfaces/cors-options.interface.js';
