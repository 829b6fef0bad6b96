/**
 * Machinery of the Fastify router-mirror differential test (fastify-mirror.spec.ts): route sets
 * and request paths in Fastify syntax, a plain `fastify()` instance registered as Nest registers
 * routes, the policy table the module builds for that instance, and the comparison of the two.
 */
import 'reflect-metadata';
import { expect } from '@jest/globals';
import type { HttpServer } from '@nestjs/common';
import fc from 'fast-check';
import fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { IncomingMessage, ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import { CorsPolicy } from '../../lib/engine/cors-policy.js';
import { DEFAULT_METHODS } from '../../lib/engine/preflight.js';
import { fastifyAdapter } from '../../lib/http/fastify.js';
import { PolicyTable, type TableRoute } from '../../lib/routing/policy-table.js';

/** Methods requests are sent with (OPTIONS only reaches `ALL` routes). */
export const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'SEARCH',
  'OPTIONS',
] as const;
export type Method = (typeof METHODS)[number];
export type RouteMethod = Exclude<Method, 'OPTIONS'> | 'ALL';
/** What Nest adds to Fastify before it registers an `@All()` route (or a `@Search()` one). */
const NEST_METHODS = ['SEARCH', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK'];

export const FALLBACK = CorsPolicy.compile({ origin: 'https://fallback.test' });

export interface RouterSettings {
  caseSensitive: boolean;
  ignoreTrailingSlash: boolean;
  ignoreDuplicateSlashes: boolean;
  useSemicolonDelimiter: boolean;
  exposeHeadRoutes: boolean;
}

export interface RouteSpec {
  method: RouteMethod;
  path: string;
}

// ----- route sets ------------------------------------------------------------------------------------

const segmentArb = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'b', 'users', 'Users', 'me', 'drafts'), weight: 6 },
  { arbitrary: fc.constant(':id'), weight: 4 },
  { arbitrary: fc.constant(':lat-:lng'), weight: 1 },
  { arbitrary: fc.constant(':id(^\\d+)'), weight: 2 },
  { arbitrary: fc.constantFrom('file.:ext', 'a%20b'), weight: 1 },
);

/** A Fastify route path; parameters are named by position (`:p0`, `:p1`…). */
const routePathArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(segmentArb, { minLength: 0, maxLength: 3 }),
    fc.oneof(
      { arbitrary: fc.constant(''), weight: 6 },
      { arbitrary: fc.constant('/'), weight: 1 },
      { arbitrary: fc.constant('*'), weight: 2 },
    ),
  )
  .map(([segments, tail]) => {
    let p = 0;
    const named = segments.map((s) => s.replace(/:[a-z]+/g, () => `:p${p++}`));
    const body = named.join('/');
    if (tail === '*') return body.length > 0 ? `/${body}/*` : '/*';
    return `/${body}${tail === '/' && body.length > 0 ? '/' : ''}`;
  });

export const routeArb: fc.Arbitrary<RouteSpec> = fc.record({
  method: fc.oneof(
    { arbitrary: fc.constant<RouteMethod>('GET'), weight: 4 },
    { arbitrary: fc.constant<RouteMethod>('ALL'), weight: 1 },
    {
      arbitrary: fc.constantFrom<RouteMethod>('HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'SEARCH'),
      weight: 4,
    },
  ),
  path: routePathArb,
});

export const settingsArb: fc.Arbitrary<RouterSettings> = fc.record({
  caseSensitive: fc.boolean(),
  ignoreTrailingSlash: fc.boolean(),
  ignoreDuplicateSlashes: fc.boolean(),
  useSemicolonDelimiter: fc.boolean(),
  exposeHeadRoutes: fc.oneof(
    { arbitrary: fc.constant(true), weight: 4 },
    { arbitrary: fc.constant(false), weight: 1 },
  ),
});

// ----- request paths ---------------------------------------------------------------------------------

const PARAM_FILLS = [
  '1',
  '42',
  'a',
  'drafts',
  'Users',
  'me',
  '',
  '%20',
  'a%2Fb',
  '%zz',
  'x;y',
  '%C3%A9',
  '%64rafts',
  '1-2',
  'a.b',
];
const WILD_FILLS = ['', 'x', 'x/y', 'drafts/', '%zz', 'a//b'];
const MUTATIONS = [
  'none',
  'none',
  'none',
  'upper',
  'lower',
  'capitalize',
  'trailing-add',
  'trailing-drop',
  'double-slash',
  'semicolon',
  'query',
  'encode-literal',
  'strip-last',
  'long-param',
] as const;
type Mutation = (typeof MUTATIONS)[number];

export interface PathSeed {
  template: number;
  fills: number[];
  mutations: [Mutation, Mutation];
  pick: number;
}

export const pathSeedArb: fc.Arbitrary<PathSeed> = fc.record({
  template: fc.nat(),
  fills: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  mutations: fc.tuple(
    fc.constantFrom(...MUTATIONS),
    fc.oneof(
      { arbitrary: fc.constant<Mutation>('none'), weight: 4 },
      { arbitrary: fc.constantFrom(...MUTATIONS), weight: 1 },
    ),
  ),
  pick: fc.nat(),
});

/** A request path: a route's pattern filled in, then mutated. */
export function requestPath(routes: readonly RouteSpec[], seed: PathSeed): string {
  const template = routes[seed.template % routes.length].path;
  let i = 0;
  const next = (pool: readonly string[]) => pool[seed.fills[i++ % 4] % pool.length];
  let path = template
    .replace(/:p\d+\(\^\\d\+\)/g, () => next(['1', '42', 'a', '', '007']))
    .replace(/:p\d+/g, () => next(PARAM_FILLS))
    .replace(/\*$/, () => next(WILD_FILLS));
  for (const [k, mutation] of seed.mutations.entries())
    path = mutate(path, mutation, seed.pick + k);
  return path.startsWith('/') ? path : `/${path}`;
}

function mutate(path: string, mutation: Mutation, k: number): string {
  const segments = path.split('/');
  const literals = segments.map((s, i) => (/^[a-z]+$/i.test(s) ? i : -1)).filter((i) => i >= 0);
  const at = literals.length > 0 ? literals[k % literals.length] : -1;
  switch (mutation) {
    case 'none':
      return path;
    case 'upper':
      return path.toUpperCase();
    case 'lower':
      return path.toLowerCase();
    case 'capitalize':
      if (at < 0) return path;
      segments[at] = segments[at][0].toUpperCase() + segments[at].slice(1);
      return segments.join('/');
    case 'trailing-add':
      return `${path}/`;
    case 'trailing-drop':
      return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    case 'double-slash': {
      const i = 1 + (k % Math.max(1, segments.length - 1));
      return [...segments.slice(0, i), '', ...segments.slice(i)].join('/');
    }
    case 'semicolon':
      if (at < 0) return `${path};jsessionid=1`;
      segments[at] = `${segments[at]};jsessionid=1`;
      return segments.join('/');
    case 'query':
      return `${path}?${['q=/a/b', '', 'x=%zz', 'a=1;b=2'][k % 4]}`;
    case 'encode-literal': {
      if (at < 0) return path;
      const s = segments[at];
      const c = k % s.length;
      segments[at] =
        `${s.slice(0, c)}%${s.charCodeAt(c).toString(16).toUpperCase()}${s.slice(c + 1)}`;
      return segments.join('/');
    }
    case 'strip-last':
      return segments.slice(0, -1).join('/') || '/';
    case 'long-param':
      // Longer than maxParamLength (100): Fastify answers 414 when only a parameter could take it.
      return `${path.endsWith('/') ? path : `${path}/`}${'x'.repeat(120)}`;
  }
}

// ----- the two sides ---------------------------------------------------------------------------------

/** Options for a plain Fastify instance, as the FastifyAdapter passes them (`routerOptions`). */
export function fastifyOptions(settings: RouterSettings): FastifyServerOptions {
  const { exposeHeadRoutes, ...routerOptions } = settings;
  return { exposeHeadRoutes, routerOptions };
}

/**
 * The handler every route gets: it names the route Fastify matched (`x-matched`), then applies
 * Nest's rule (an empty parameter other than `*` is a 404), else names itself (`x-route`).
 */
function handlerFor(id: number) {
  return (
    req: { params: unknown },
    reply: { callNotFound(): void; header(n: string, v: string): { send(): void } },
  ) => {
    reply.header('x-matched', String(id));
    const params = req.params as Record<string, string>;
    if (Object.entries(params).some(([k, v]) => v === '' && k !== '*')) return reply.callNotFound();
    reply.header('x-route', String(id)).send();
  };
}

/** Registers the routes as Nest does on Fastify (its extra methods first); throws if Fastify refuses. */
export function register(
  routes: readonly RouteSpec[],
  options: FastifyServerOptions,
): FastifyInstance {
  const app = fastify({
    ...options,
    // The raw URL the router saw, for every answer (framework errors included).
    frameworkErrors: ((error: Error, request: FastifyRequest, reply: FastifyReply) => {
      reply.header('x-raw-url', request.raw.url ?? '');
      reply.send(error);
    }) as FastifyServerOptions['frameworkErrors'],
  });
  for (const method of NEST_METHODS) app.addHttpMethod(method, { hasBody: true });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-raw-url', request.raw.url ?? '');
    done();
  });
  routes.forEach(({ method, path }, id) => {
    if (method === 'ALL') app.all(path, handlerFor(id));
    else app.route({ method, url: path, handler: handlerFor(id) });
  });
  return app;
}

export function registrable(routes: readonly RouteSpec[], settings: RouterSettings): boolean {
  try {
    void register(routes, fastifyOptions(settings)).close();
    return true;
  } catch {
    return false; // a duplicate route (for these options): Nest would not boot
  }
}

/** The policy table the module builds for this Fastify instance (its adapter, its mirror). */
export function tableFor(app: FastifyInstance, routes: readonly RouteSpec[]): PolicyTable {
  const rows: TableRoute[] = routes.map(({ method, path }, order) => ({
    method,
    path,
    order,
    controller: class Controller {},
    handler: () => order,
    name: `route ${order}`,
    policy: CorsPolicy.compile({ origin: `https://r${order}.test` }),
    source: 'test',
  }));
  // The FastifyAdapter of Nest 12 as the module sees it: the instance, and `addHttpMethod` (Nest
  // 12 adds its extra methods, which `register` added to the instance before any route).
  const adapter = fastifyAdapter({
    getInstance: () => app,
    addHttpMethod: () => undefined,
  } as unknown as HttpServer);
  return PolicyTable.build(rows, { policy: FALLBACK, source: 'module' }, adapter.routerFactory());
}

export interface Real {
  status: number;
  /** The route whose handler ran, or undefined. */
  route: number | undefined;
  /** The route Fastify's router matched (its handler may have answered 404), or undefined. */
  matched: number | undefined;
  rawUrl: string;
}

/**
 * One request through Fastify's request handler (`fastify.routing`, what its server calls): an
 * in-memory request and response, as `inject()` makes them. (`inject()` itself cannot load
 * under jest's ESM mode on Node 20: light-my-request requires an ESM-only `cookie`.) Fastify
 * ends every answer here with `writeHead()` and `end()`.
 */
export function dispatch(app: FastifyInstance, method: Method, url: string): Promise<Real> {
  return new Promise((resolve, reject) => {
    const req = new IncomingMessage(new Socket());
    req.method = method;
    req.url = url;
    req.headers = { host: 'localhost' };
    req.push(null);
    const res = new ServerResponse(req);
    let head: OutgoingHttpHeaders = {};
    res.writeHead = function (this: ServerResponse, status: number, headers?: unknown) {
      this.statusCode = status;
      if (headers !== undefined && !Array.isArray(headers)) head = headers as OutgoingHttpHeaders;
      return this;
    } as ServerResponse['writeHead'];
    res.end = function (this: ServerResponse) {
      const headers = { ...this.getHeaders(), ...head };
      const id = headers['x-route'];
      const matched = headers['x-matched'];
      const rawUrl = headers['x-raw-url'];
      if (typeof rawUrl !== 'string') {
        reject(new Error(`test harness: no x-raw-url for ${method} ${url}`));
      } else {
        resolve({
          status: this.statusCode,
          route: id === undefined ? undefined : Number(id),
          matched: matched === undefined ? undefined : Number(matched),
          rawUrl,
        });
      }
      return this;
    } as ServerResponse['end'];
    app.routing(req, res);
  });
}

/** How a preflight target names the module defaults' decider (a path no route serves). */
export const NO_ROUTE = '(no route)';

/** What the table says for one (raw URL, method), in comparable terms. */
export function mirrored(table: PolicyTable, rawUrl: string, method: Method) {
  const req = { method, url: rawUrl, headers: { host: 'localhost' } };
  const route = table.routeFor(rawUrl, method, req)?.order;
  const target = table.preflightRoute(rawUrl, method, req);
  const preflight =
    typeof target === 'string'
      ? target
      : target.routes.map((r) => (r.controller.name === 'Controller' ? r.order : NO_ROUTE));
  const listed =
    typeof target === 'string' ? [] : target.methods.map((m) => [m.method, m.policy] as const);
  return { route, preflight, listed };
}

/** A cheap comparison; on a difference, jest's, with the whole context. */
function agree(what: string, actual: unknown, expected: unknown, where: () => object): void {
  if (JSON.stringify(actual) === JSON.stringify(expected)) return;
  expect({ ...where(), [what]: actual }).toEqual({ ...where(), [what]: expected });
}

/**
 * Known disagreements (module bugs pinned by the examples of fastify-mirror.spec.ts), by kind:
 * see KNOWN in `comparePath`. Counted instead of failed only when asked (ORACLE_KNOWN=tolerate),
 * to look for other disagreements past them.
 */
export type Tolerated = Record<Known, number>;
export type Known =
  'head-empty-param' | 'empty-param-method-not-served' | 'empty-param-defaults-methods';
export const noneTolerated = (): Tolerated => ({
  'head-empty-param': 0,
  'empty-param-method-not-served': 0,
  'empty-param-defaults-methods': 0,
});

/**
 * Every method at one request path: the table against Fastify. Returns the number of cases.
 * Answers 400 (malformed escape) and 414 (parameter longer than maxParamLength) come from the
 * router before any hook, hence before the CORS middleware: only `routeFor` is compared there.
 * `tolerated` undefined: every disagreement fails; otherwise the known ones are counted there.
 */
export async function comparePath(
  app: FastifyInstance,
  table: PolicyTable,
  context: object,
  path: string,
  tolerated?: Tolerated,
): Promise<number> {
  const answers = await Promise.all(METHODS.map((method) => dispatch(app, method, path)));
  const real = new Map<Method, Real>(METHODS.map((method, i) => [method, answers[i]]));
  // A handler runs at this path for some method.
  const served = answers.some((r) => r.route !== undefined);
  // Some route matched this path with an empty parameter (Nest's 404 for that method).
  const emptyMatch = answers.some((r) => r.matched !== undefined && r.route === undefined);
  const known = (kind: Known, when: boolean): boolean => {
    if (!when || tolerated === undefined) return false;
    tolerated[kind]++;
    return true;
  };
  for (const method of METHODS) {
    const { route, matched, status, rawUrl } = real.get(method)!;
    const mine = mirrored(table, rawUrl, method);
    const where = () => ({ ...context, method, path, rawUrl, fastify: { status, route, matched } });
    agree('route', mine.route, route, where);
    if (status === 400 || status === 414) continue;
    // The preflight names the route that will run; where none does, the module defaults
    // (rule 11) — or a 'method-not-served' denial where a handler serves the path for another
    // method (rule 5), or where the defaults would deny the method anyway (not in the `cors`
    // default list: the defaults' policy configures no `methods`).
    const expected: unknown = route !== undefined ? [route] : [NO_ROUTE];
    const alsoFine =
      route === undefined &&
      (served || !DEFAULT_METHODS.includes(method)) &&
      mine.preflight === 'method-not-served';
    if (!alsoFine && JSON.stringify(mine.preflight) !== JSON.stringify(expected)) {
      // KNOWN 1: HEAD, where the GET route Fastify matched has an empty parameter: the table
      // passes over that route and names the next one (its `serves()` misses the HEAD route of
      // the route's empty-parameter copy).
      const headEmpty =
        method === 'HEAD' &&
        matched !== undefined &&
        route === undefined &&
        Array.isArray(mine.preflight) &&
        typeof mine.preflight[0] === 'number';
      // KNOWN 2: nothing serves the path, a route matched it with an empty parameter for some
      // method: the table answers 'method-not-served' for the other methods, not the defaults.
      const notServed = !served && emptyMatch && mine.preflight === 'method-not-served';
      if (
        !known('head-empty-param', headEmpty) &&
        !known('empty-param-method-not-served', notServed)
      ) {
        agree('preflight', mine.preflight, expected, where);
      }
      continue;
    }
    // Access-Control-Allow-Methods: every listed method runs, here, the route of the listed
    // policy (the module defaults' policy: no route).
    for (const [listedMethod, policy] of mine.listed) {
      const runs = real.get(listedMethod as Method)?.route;
      const policyRoute = table.routes.find((r) => r.policy === policy)?.order;
      if (policyRoute === runs) continue;
      // KNOWN 3: the module defaults answer (a route matched with an empty parameter) with
      // their own method list, although other methods run other routes at this path.
      const defaults = route === undefined && emptyMatch && policyRoute === undefined;
      // KNOWN 1 again: HEAD listed with the policy of a route that never runs for `HEAD` here,
      // the route Fastify matches for HEAD having an empty parameter.
      const head = real.get(listedMethod as Method)!;
      const headEmpty = listedMethod === 'HEAD' && head.matched !== undefined && runs === undefined;
      if (
        !known('empty-param-defaults-methods', defaults) &&
        !known('head-empty-param', headEmpty)
      ) {
        agree(
          `Access-Control-Allow-Methods ${listedMethod}: the route of`,
          policyRoute,
          runs,
          where,
        );
      }
    }
  }
  return METHODS.length;
}
