/**
 * The Fastify adapter: the middleware goes through the adapter's `use()` (@fastify/middie), and
 * the router is mirrored with find-my-way, the library Fastify routes with, built with the very
 * router options (and constraint strategies: Nest's version constraint) of the application's
 * instance. Loaded only for Fastify applications.
 */
import type { HttpServer } from '@nestjs/common';
import FindMyWay from 'find-my-way';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouterMirror, RouterMirrorFactory, TableRoute } from '../routing/policy-table.js';
import type { CorsAdapter, NodeMiddleware } from './cors-adapter.js';

type Router = FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;
type Found = { store: unknown; params: Record<string, string | undefined> } | null;
type RouterOptions = FindMyWay.Config<FindMyWay.HTTPVersion.V1>;

/** What the adapter reads from the Fastify instance (public Fastify API). */
interface FastifyInstanceLike {
  initialConfig: { routerOptions?: RouterOptions; exposeHeadRoutes?: boolean };
  supportedMethods: readonly string[];
  hasPlugin(name: string): boolean;
  addHook(name: 'onReady', hook: () => Promise<void>): unknown;
}

/** Methods Nest 12 adds to Fastify before it registers an `@All()` route. */
const NEST_ALL_METHODS = [
  'SEARCH',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
];

/** Does Nest add SEARCH, PROPFIND, … to Fastify before an `@All()` route (Nest 12)? */
function nestAddsAllMethods(httpAdapter: HttpServer): readonly string[] {
  const adds = typeof (httpAdapter as { addHttpMethod?: unknown }).addHttpMethod === 'function';
  return adds ? NEST_ALL_METHODS : [];
}

export function fastifyAdapter(httpAdapter: HttpServer): CorsAdapter {
  const instance = httpAdapter.getInstance() as FastifyInstanceLike;
  const routerOptions = (): RouterOptions => ({
    ...instance.initialConfig.routerOptions,
    ...matchingOptions(httpAdapter, instance),
    // Copies: find-my-way marks the strategies it is given, and Fastify froze these.
    constraints: Object.fromEntries(
      Object.entries(instance.initialConfig.routerOptions?.constraints ?? {}).map(
        ([name, strategy]) => [name, { ...strategy }],
      ),
    ),
    // The mirror never reads the query string: no parsing, no allocation.
    querystringParser: () => NO_QUERY,
  });
  return {
    kind: 'fastify',
    mount: (middleware: NodeMiddleware) => mount(httpAdapter, middleware),
    // find-my-way takes the whole target: it splits the query and decodes as the router does.
    pathOf: (req: IncomingMessage) => req.url,
    // Fastify's request, or the raw one middie copied it onto (trustProxy included either way).
    protocolOf: (req: IncomingMessage) => (req as { protocol?: string }).protocol ?? 'http',
    // `enableCors()` and the `cors` option register @fastify/cors (Nest names its wrapper
    // 'nestjs-cors'), loaded at `ready()`: the check runs again then.
    otherCorsMiddleware: () =>
      instance.hasPlugin('@fastify/cors') || instance.hasPlugin('nestjs-cors')
        ? '@fastify/cors (app.enableCors())'
        : undefined,
    whenLoaded: (check: () => void) => instance.addHook('onReady', async () => check()),
    checkPath: (pattern: string) => {
      try {
        FindMyWay(routerOptions()).on('GET', pattern, noop);
        return undefined;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    },
    routerFactory: () =>
      fastifyRouterMirror({
        routerOptions: routerOptions(),
        supportedMethods: [...instance.supportedMethods],
        nestAddsAllMethods: nestAddsAllMethods(httpAdapter),
        exposeHeadRoutes: instance.initialConfig.exposeHeadRoutes !== false,
      }),
  };
}

/**
 * Where the middleware runs. Nest's FastifyAdapter runs one request hook, meant for CORS, from an
 * `onRequest` hook it adds in its constructor (the slot `app.enableCors()` fills): before middie,
 * hence before every Nest and `app.use()` middleware, on every encapsulated context, at the cost
 * of one function call. The middleware takes the slot, with Fastify's request (whose `url`,
 * `method` and `headers` are the raw request's). Without that slot (an older adapter), it goes
 * through the adapter's `use()` (middie), the generic way.
 */
function mount(httpAdapter: HttpServer, middleware: NodeMiddleware): void {
  const adapter = httpAdapter as unknown as CorsHookSlot;
  if (typeof adapter.copyCorsHeadersToRaw === 'function' && adapter.corsHook === undefined) {
    adapter.corsHook = (request, reply, done) =>
      middleware(request as unknown as IncomingMessage, reply.raw, done);
    return;
  }
  useThroughMiddie(httpAdapter, middleware);
}

interface CorsHookSlot {
  corsHook?: (
    request: object,
    reply: { raw: ServerResponse },
    done: (err?: unknown) => void,
  ) => void;
  copyCorsHeadersToRaw?: unknown;
}

/**
 * On the root context through the adapter's `use()` (middie): every context created from now on
 * gets a copy. Contexts created earlier (a plugin `main.ts` registered with an awaited
 * `register()` before `init()`) have their own copy of the middleware of that time: Nest adds its
 * middleware to them (the adapter tracks them, Nest 12), and so does the module.
 */
function useThroughMiddie(httpAdapter: HttpServer, middleware: NodeMiddleware): void {
  httpAdapter.use(middleware);
  const contexts = (httpAdapter as { middieContexts?: unknown }).middieContexts;
  if (!Array.isArray(contexts)) return;
  for (const context of contexts as Array<{ use?: (fn: NodeMiddleware) => void }>) {
    // A context older than middie (`skipMiddie`) shares the root's middleware: it has it already.
    if (Object.hasOwn(context, 'use')) context.use!(middleware);
  }
}

/**
 * The matching options the router was built with, wherever they were given: Fastify still takes
 * them at the top level of its options (an instance the app built and passed to the adapter), and
 * Nest's `getRouteMatchingOptions()` reads them as Fastify does.
 */
function matchingOptions(httpAdapter: HttpServer, instance: FastifyInstanceLike): RouterOptions {
  // Fastify keeps them in `routerOptions` when it was given (Nest always gives it), else at the top.
  const config = instance.initialConfig as Record<string, unknown> & { routerOptions?: object };
  const source = (config.routerOptions ?? config) as Record<string, unknown>;
  const read = (key: string) => source[key];
  const nest = (
    httpAdapter as {
      getRouteMatchingOptions?(): {
        caseSensitive?: boolean;
        ignoreTrailingSlash?: boolean;
        maxParamLength?: number;
        useSemicolonDelimiter?: boolean;
      };
    }
  ).getRouteMatchingOptions?.();
  return {
    caseSensitive: nest?.caseSensitive ?? read('caseSensitive') !== false,
    ignoreTrailingSlash: nest?.ignoreTrailingSlash ?? Boolean(read('ignoreTrailingSlash')),
    ignoreDuplicateSlashes: Boolean(read('ignoreDuplicateSlashes')),
    useSemicolonDelimiter: nest?.useSemicolonDelimiter ?? Boolean(read('useSemicolonDelimiter')),
    maxParamLength: nest?.maxParamLength ?? ((read('maxParamLength') as number) || 100),
    allowUnsafeRegex: Boolean(read('allowUnsafeRegex')),
  } as RouterOptions;
}

const NO_QUERY = Object.freeze({});
const NONE: readonly TableRoute[] = Object.freeze([]);
const noop = () => undefined;
const MAX_CACHED_LISTS = 1024;

export interface FastifyMirrorOptions {
  routerOptions: RouterOptions;
  /** Fastify's methods when the routes are not registered yet (`supportedMethods`). */
  supportedMethods: readonly string[];
  /** The methods Nest adds to Fastify before it registers an `@All()` route. */
  nestAddsAllMethods: readonly string[];
  /** Fastify's `exposeHeadRoutes`: a GET route gets a HEAD route (unless one exists). */
  exposeHeadRoutes: boolean;
}

export function fastifyRouterMirror(options: FastifyMirrorOptions): RouterMirrorFactory {
  return (routes) => new FastifyRouterMirror(routes, options);
}

/** The routes registered with one path pattern, for the order in which patterns are tried. */
interface PatternGroup {
  readonly id: number;
  /** Constrained (versioned) routes first, as find-my-way tries them within a node. */
  readonly routes: readonly TableRoute[];
  /** The same routes marked `notFound`: matched with an empty parameter, Nest answers 404. */
  readonly emptyParam: readonly TableRoute[];
}

/** The constraint the pattern router uses to ask "your best match, leaving out these patterns". */
const EXCLUDE = 'nestjsCorsExclude';

/**
 * Two find-my-way routers built from the table:
 * - a replica of the application's router (same routes, methods, constraints, HEAD routes),
 *   which tells the one route a request runs, with the router's own constraint matching;
 * - a pattern router holding each pattern once, which tells every pattern a path matches in the
 *   order the router tries them (static, then parametric, then wildcard, with backtracking),
 *   for preflights, whose version is unknown.
 */
class FastifyRouterMirror implements RouterMirror {
  readonly passesOnOtherHosts = false;
  private readonly replica: Router;
  private readonly patterns: Router;
  /** The route each empty-parameter copy stands for. */
  private readonly originals = new Map<TableRoute, TableRoute>();
  /** The methods each `@All()` route is registered for. */
  private readonly allMethodsOf = new Map<TableRoute, ReadonlySet<string>>();
  /** GET routes Fastify gave a HEAD route. */
  private readonly headRoutes = new Set<TableRoute>();
  private readonly lists = new Map<string, readonly TableRoute[]>();
  /**
   * Routes with `@RouteConstraints()`: each alone in a router with those constraints (not the
   * version, which a preflight does not carry), to ask whether the router's strategies select it.
   */
  private readonly constrained = new Map<TableRoute, Router>();

  constructor(routes: readonly TableRoute[], options: FastifyMirrorOptions) {
    this.methodsOfAll(routes, options);
    this.replica = FindMyWay(options.routerOptions);
    for (const route of routes) this.register(route, options);
    for (const route of routes) {
      const own = Reflect.getMetadata(ROUTE_CONSTRAINTS, route.handler) as object | undefined;
      if (own === undefined || Object.keys(own).length === 0) continue;
      const alone = FindMyWay(options.routerOptions);
      alone.on('GET', '/', { constraints: { ...own } }, noop);
      this.constrained.set(route, alone);
    }
    this.patterns = FindMyWay({
      ...options.routerOptions,
      constraints: {
        ...options.routerOptions.constraints,
        [EXCLUDE]:
          excludeStrategy() as unknown as FindMyWay.ConstraintStrategy<FindMyWay.HTTPVersion.V1>,
      },
    });
    const groups = new Map<string, TableRoute[]>();
    for (const route of routes) {
      const same = groups.get(route.path);
      if (same === undefined) groups.set(route.path, [route]);
      else same.push(route);
    }
    let id = 0;
    for (const [pattern, same] of groups) {
      // As find-my-way tries a node's handlers: the most constrained first, and of equally
      // constrained ones the last registered (it takes the highest matching index).
      const ordered = [...same].sort(
        (a, b) => constraintCount(b) - constraintCount(a) || b.order - a.order,
      );
      const emptyParam = ordered.map((r) => Object.freeze({ ...r, notFound: true as const }));
      // A copy serves what its route serves.
      emptyParam.forEach((copy, i) => this.originals.set(copy, ordered[i]));
      const group: PatternGroup = {
        id,
        routes: Object.freeze(ordered),
        emptyParam: Object.freeze(emptyParam),
      };
      this.patterns.on('GET', pattern, { constraints: { [EXCLUDE]: id++ } }, noop, group);
    }
  }

  routeFor(path: string, method: string, req: IncomingMessage): TableRoute | undefined {
    const found = this.replica.find(
      method as FindMyWay.HTTPMethod,
      path,
      deriveConstraints(this.replica, req),
    ) as Found;
    if (found === null || hasEmptyParam(found.params)) return undefined;
    const route = found.store as TableRoute;
    // Nest answers a request for another host with 404 on Fastify: nothing else runs.
    return route.acceptsHost === undefined || route.acceptsHost(req) ? route : undefined;
  }

  routesAt(path: string): readonly TableRoute[] {
    const excluded = new Set<number>();
    const found: Array<readonly TableRoute[]> = [];
    let key = '';
    for (;;) {
      const match = this.patterns.find('GET', path, { [EXCLUDE]: excluded }) as Found;
      if (match === null) break;
      const group = match.store as PatternGroup;
      const empty = hasEmptyParam(match.params);
      found.push(empty ? group.emptyParam : group.routes);
      key += empty ? `${group.id}!,` : `${group.id},`;
      excluded.add(group.id);
    }
    if (found.length <= 1) return found[0] ?? NONE;
    // The same patterns always make the same (frozen) list: what the table caches per list holds.
    let list = this.lists.get(key);
    if (list === undefined) {
      list = Object.freeze(found.flat());
      if (this.lists.size < MAX_CACHED_LISTS) this.lists.set(key, list);
    }
    return list;
  }

  matchesConstraints(route: TableRoute, req: IncomingMessage): boolean {
    const router = this.constrained.get(route);
    if (router === undefined) return true;
    return router.find('GET', '/', deriveConstraints(router, req)) !== null;
  }

  isConstrained(route: TableRoute): boolean {
    return this.constrained.has(route);
  }

  serves(copy: TableRoute, method: string): boolean {
    const route = this.originals.get(copy) ?? copy;
    return (
      route.method === method ||
      (route.method === 'ALL' && this.allMethodsOf.get(route)?.has(method) === true) ||
      (method === 'HEAD' && this.headRoutes.has(route))
    );
  }

  /**
   * Fastify registers an `@All()` route for the methods it supports at that moment: its own, those
   * Nest adds first (Nest 12), and those of the routes registered before it (Nest adds a route's
   * method to Fastify when it registers the route).
   */
  private methodsOfAll(routes: readonly TableRoute[], options: FastifyMirrorOptions): void {
    const supported = new Set(options.supportedMethods);
    for (const route of routes) {
      if (route.method !== 'ALL') {
        supported.add(route.method);
        continue;
      }
      for (const method of options.nestAddsAllMethods) supported.add(method);
      this.allMethodsOf.set(route, new Set(supported));
    }
  }

  /** As Fastify registers a Nest route: its methods, its constraints, a HEAD route for a GET. */
  private register(route: TableRoute, options: FastifyMirrorOptions): void {
    const constraints = routeConstraints(route);
    const methods = route.method === 'ALL' ? [...this.allMethodsOf.get(route)!] : [route.method];
    const opts = { constraints };
    const headFree =
      route.method === 'GET' &&
      options.exposeHeadRoutes &&
      this.replica.findRoute('HEAD', route.path, constraints) === null;
    try {
      this.replica.on(methods as FindMyWay.HTTPMethod[], route.path, opts, noop, route);
    } catch {
      return; // a duplicate route: Fastify refuses it at boot, the first one stays
    }
    if (headFree) {
      this.replica.on('HEAD', route.path, opts, noop, route);
      this.headRoutes.add(route);
    }
  }
}

/** The constraints Nest registers a route with: `@RouteConstraints()`, then its version. */
function routeConstraints(route: TableRoute): Record<string, unknown> {
  const own = Reflect.getMetadata(ROUTE_CONSTRAINTS, route.handler) as object | undefined;
  const versions = route.versions === undefined ? undefined : [...route.versions];
  return {
    ...own,
    ...(versions !== undefined && { version: versions.length === 1 ? versions[0] : versions }),
  };
}

/** `@RouteConstraints()` of @nestjs/platform-fastify stores its value under this key. */
const ROUTE_CONSTRAINTS = '__fastify_route_constraints__';

/** How many constraints Nest registers the route with (its own ones and the version). */
function constraintCount(route: TableRoute): number {
  return Object.keys(routeConstraints(route)).length;
}

/** What the router derives from a request (the version header, the host), as it does. */
function deriveConstraints(
  router: Router,
  req: IncomingMessage,
): Record<string, unknown> | undefined {
  return (
    router as unknown as {
      constrainer: { deriveConstraints(req: unknown): Record<string, unknown> | undefined };
    }
  ).constrainer.deriveConstraints(req);
}

/**
 * Nest turns a route matched with an empty parameter (`/users//profile` for `/users/:id/profile`)
 * into a 404; only the wildcard may be empty.
 */
function hasEmptyParam(params: Record<string, string | undefined>): boolean {
  for (const name in params) if (params[name] === '' && name !== '*') return true;
  return false;
}

/**
 * A find-my-way constraint strategy: each pattern is registered with its id, and a lookup passes
 * the ids to leave out; a node answers with its first pattern not left out.
 */
function excludeStrategy() {
  return {
    name: EXCLUDE,
    mustMatchWhenDerived: true,
    deriveConstraint: () => undefined,
    storage() {
      const ids = new Map<number, number>();
      return {
        get(value: number | ReadonlySet<number>): number | null {
          if (typeof value === 'number') return ids.get(value) ?? null;
          for (const [id, handlers] of ids) if (!value.has(id)) return handlers;
          return null;
        },
        set(id: number, handlers: number) {
          ids.set(id, handlers);
        },
      };
    },
  };
}
