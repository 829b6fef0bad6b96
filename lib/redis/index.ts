/**
 * `nestjs-cors/redis`: live origin lists in Redis, shared by every app instance. Needs `ioredis`
 * 5 or later (an optional peer of the package); the core package imports nothing from here.
 */
export { RedisOriginSource, type RedisOriginSourceOptions } from './redis-origin-source.js';
