/**
 * Builds the bench's Nest 12 app: identical for every variant except CORS and the HTTP adapter.
 *   bare         no CORS
 *   enableCors   app.enableCors(corsOptions)          (Express: the `cors` package; Fastify:
 *                                                      @fastify/cors, run by the adapter's
 *                                                      onRequest hook, before middie)
 *   nestjs-cors  CorsModule.forRoot(corsOptions) + CorsModule.mountEarly(app) in main.ts
 *                (this library, from the built dist/; on Fastify it mounts through the
 *                adapter's use(), i.e. @fastify/middie)
 *   noop-use     bare + app.use((req, res, next) => next()): what going through the adapter's
 *                use() costs by itself (on Fastify: middie's per-request work, which the bare
 *                app, middie registered but no middleware, skips)
 * A `-fastify` suffix (`nestjs-cors-fastify`) builds the same app on the FastifyAdapter; no
 * suffix is Express. And, on Fastify only:
 *   floor        bare + the adapter's first onRequest hook (`setOnRequestHook()`, before middie)
 *                writing static CORS headers for the bench's one origin: on an actual request
 *                through `reply.headers()` (Fastify's own header object, written by its single
 *                `writeHead`), on a preflight a 204 written at once on the hijacked raw response.
 *                No decision, no routing: no CORS on Fastify can be cheaper.
 * Plain JS: decorators are applied as functions, so no compile step and no decorator metadata
 * is needed (the controllers have no constructor dependencies).
 */
import 'reflect-metadata';
import { Controller, Get, Module, Put } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { allowedOrigin, corsOptions, parseVariant, pathCount, VARIANTS } from './config.js';

export { VARIANTS } from './config.js';

const DIST = new URL('../../dist/index.js', import.meta.url).href;

/** The library, from the built dist/ (`npm run build`). */
export function loadLibrary() {
  return import(DIST);
}

function decorateMethod(decorator, proto, key) {
  const descriptor = Object.getOwnPropertyDescriptor(proto, key);
  const result = decorator(proto, key, descriptor);
  if (result !== undefined) Object.defineProperty(proto, key, result);
}

/** A distinct handler function per route (Nest keeps route metadata on the function). */
function makeHandler() {
  return function handler() {
    return { ok: true };
  };
}

/** Controllers with `routes` handlers in all (GET and PUT per path), 10 handlers per controller. */
function makeControllers(routes) {
  const paths = pathCount(routes);
  const controllers = [];
  const perController = 5; // paths, so 10 handlers
  for (let first = 0; first < paths; first += perController) {
    const Ctl = class {};
    Object.defineProperty(Ctl, 'name', { value: `Items${first / perController}Controller` });
    for (let i = first; i < Math.min(first + perController, paths); i++) {
      for (const [verb, decorator] of [
        ['get', Get],
        ['put', Put],
      ]) {
        const key = `${verb}${i}`;
        Ctl.prototype[key] = makeHandler();
        decorateMethod(decorator(`items${i}/:id`), Ctl.prototype, key);
      }
    }
    Controller('api')(Ctl);
    controllers.push(Ctl);
  }
  return controllers;
}

/** A fresh root module class for one app. */
export async function makeAppModule({ variant, routes, origins, source = false }) {
  const imports = [];
  if (parseVariant(variant).kind === 'nestjs-cors') {
    const { CorsModule } = await loadLibrary();
    const options = corsOptions(origins);
    // `source`: the same origins from an originSource (a live list) instead of `origin`.
    if (source) {
      const list = options.origin;
      delete options.origin;
      options.originSource = { load: async () => list };
    }
    imports.push(CorsModule.forRoot(options));
  }
  const AppModule = class {};
  Object.defineProperty(AppModule, 'name', { value: 'BenchAppModule' });
  Module({ imports, controllers: makeControllers(routes) })(AppModule);
  return AppModule;
}

/** Creates (not yet initialised) the app of a variant. */
export async function createApp({ variant, routes, origins }) {
  if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`);
  const { kind, adapter } = parseVariant(variant);
  const AppModule = await makeAppModule({ variant, routes, origins });
  let app;
  if (adapter === 'fastify') {
    // Default FastifyAdapter options, as `new FastifyAdapter()` in a main.ts.
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false });
  } else {
    app = await NestFactory.create(AppModule, { logger: false });
  }
  // Each CORS variant takes its one line of main.ts: both then sit before the body parsers.
  if (kind === 'enableCors') app.enableCors(corsOptions(origins));
  if (kind === 'nestjs-cors') (await loadLibrary()).CorsModule.mountEarly(app);
  if (kind === 'noop-use') app.use(noopMiddleware);
  if (kind === 'floor') app.getHttpAdapter().setOnRequestHook(fastifyFloorHook(origins));
  return app;
}

/** The `floor-fastify` hook: static CORS headers for the one origin the load sends. */
function fastifyFloorHook(origins) {
  const origin = allowedOrigin(origins);
  const actual = {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'x-request-id',
    vary: 'Origin',
  };
  const preflight = [
    'Access-Control-Allow-Origin',
    origin,
    'Access-Control-Allow-Credentials',
    'true',
    'Access-Control-Allow-Methods',
    'GET, PUT',
    'Access-Control-Allow-Headers',
    'content-type, authorization, x-requested-with',
    'Access-Control-Max-Age',
    '600',
    'Vary',
    'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  ];
  return (request, reply, done) => {
    const headers = request.headers;
    if (headers.origin !== origin) return done();
    if (
      request.raw.method === 'OPTIONS' &&
      headers['access-control-request-method'] !== undefined
    ) {
      reply.hijack();
      reply.raw.writeHead(204, preflight);
      reply.raw.end();
      return undefined;
    }
    reply.headers(actual);
    return done();
  };
}

function noopMiddleware(_req, _res, next) {
  next();
}
