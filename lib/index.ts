export { Cors } from './cors.decorator.js';
export { CorsModule } from './cors.module.js';
export type { CorsOptionsFactory } from './cors.module-definition.js';
export { CorsService, type CorsRouteReport } from './cors.service.js';
export type { ProxyDescription } from './proxy/proxy-target.js';
export { CorsPolicy, type CorsDecision, type CorsRequestLike } from './engine/cors-policy.js';
export {
  CorsConfigError,
  type CorsConfigProblem,
  type CorsErrorSink,
  type CorsProblemCode,
  type CorsProblemSource,
} from './engine/errors.js';
export type {
  CorsDecoratorValue,
  CorsModuleOptions,
  CorsNamedPolicyOptions,
  CorsOriginCallback,
  CorsOriginFunction,
  CorsPolicyOptions,
  CorsProxyOptions,
  CorsStaticOrigin,
} from './interfaces/cors-options.interface.js';
export type { OriginsInForce } from './live/origin-owners.js';
export type {
  OriginSnapshot,
  OriginSource,
  OriginSourceStatus,
  OriginUnsubscribe,
} from './live/origin-source.js';
