/**
 * What every bench app shares: the variant names, the CORS options (identical for
 * `app.enableCors()` and `CorsModule.forRoot()`), the origin lists, the route table and the
 * requests of each scenario.
 */

/** The CORS setups, each on either adapter. */
export const CORS_KINDS = ['bare', 'enableCors', 'nestjs-cors', 'noop-use'];
export const ADAPTERS = ['express', 'fastify'];
/**
 * Every Nest app variant; `floor` (a raw Express app, apps/floor.js) is not one of them, while
 * `floor-fastify` is: a bare Fastify Nest app whose first onRequest hook writes static CORS headers.
 */
export const VARIANTS = [
  ...ADAPTERS.flatMap((adapter) => CORS_KINDS.map((kind) => variantName(kind, adapter))),
  'floor-fastify',
];

/** `nestjs-cors` + `fastify` → `nestjs-cors-fastify`; Express has no suffix. */
export function variantName(kind, adapter) {
  return adapter === 'express' ? kind : `${kind}-${adapter}`;
}

/** `nestjs-cors-fastify` → { kind: 'nestjs-cors', adapter: 'fastify' }. */
export function parseVariant(variant) {
  for (const adapter of ADAPTERS.slice(1)) {
    if (variant.endsWith(`-${adapter}`)) {
      return { kind: variant.slice(0, -adapter.length - 1), adapter };
    }
  }
  return { kind: variant, adapter: 'express' };
}

/** `n` exact allowed origins: https://app0.example.com … */
export function originList(n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = `https://app${i}.example.com`;
  return out;
}

/** The origin the load sends: the last one listed (the worst case for a list scan). */
export function allowedOrigin(origins) {
  return `https://app${origins - 1}.example.com`;
}

/** The same options for both CORS variants. */
export function corsOptions(origins) {
  return {
    origin: originList(origins),
    credentials: true,
    methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
    allowedHeaders: ['Content-Type', 'Authorization', 'X-Requested-With'],
    exposedHeaders: ['X-Request-Id'],
    maxAge: 600,
  };
}

/**
 * `routes` handlers: routes/2 paths `/api/items{i}/:id`, each with a GET and a PUT handler, in
 * controllers of 10 handlers. The load hits the middle path (`hitPath`).
 */
export function pathCount(routes) {
  return Math.max(1, Math.floor(routes / 2));
}

export function hitPath(routes) {
  return `/api/items${Math.floor(pathCount(routes) / 2)}/42`;
}

/** The first path: every app (the floor too) answers GET here once it is ready. */
export const READY_PATH = '/api/items0/1';
