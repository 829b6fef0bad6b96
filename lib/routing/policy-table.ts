/**
 * The policy table: built once at boot from the routes Nest registers and their compiled
 * policies, immutable afterwards (a live origin update builds a new one). It answers, per
 * request, the question the whole module rests on (cors-rules §2 item 10): which handler will the
 * router run, hence which policy decides? The router's own matching is mirrored by the adapter
 * module (`RouterMirror`); the order, the host and version filters and the fall-through are here.
 */
import type { CorsPolicy } from '../engine/cors-policy.js';
import {
  makePreflightRoute,
  singlePolicyRoute,
  type MethodPolicy,
  type PreflightRoute,
} from '../engine/preflight.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteRecord, RouteRequest } from './route-record.js';

/** A route with its effective policy (null: CORS off) and where that policy came from. */
export interface TableRoute extends RouteRecord {
  readonly policy: CorsPolicy | null;
  readonly source: string;
  /**
   * Set by a router mirror on a route the router matches but whose handler never runs for this
   * path (Fastify: a parameter matched empty, which Nest answers with 404).
   */
  readonly notFound?: true;
  /** A `proxies` entry: the request is forwarded there instead of going on to the app. */
  readonly proxy?: RouteForwarder;
}

/** Where a proxied prefix sends requests (see `ProxyTarget.forward`). */
export interface RouteForwarder {
  forward(req: IncomingMessage, res: ServerResponse, path: string, protocol: string): void;
}

/** A decider for paths no controller route serves: a `paths` entry or a proxied prefix. */
export interface OffRouteEntry {
  readonly path: string;
  readonly policy: CorsPolicy | null;
  readonly source: string;
  /** Default `paths["<path>"]`. */
  readonly name?: string;
  readonly proxy?: RouteForwarder;
}

/** The adapter's router, mirrored with the library the router itself matches with. */
export interface RouterMirror {
  /**
   * Every route whose path matches `path`, in the order the router tries them. The router stops
   * at `ROUTER_ERROR` (a path it cannot decode): no route after it runs.
   */
  routesAt(path: string): readonly TableRoute[];
  /** Does the router run `route` for `method` (Express: its own method, `ALL`, HEAD for GET)? */
  serves(route: TableRoute, method: string): boolean;
  /**
   * Does Nest pass a request a host-bound route refuses on to the next route (Express), or
   * answer it with 404 (Fastify)?
   */
  readonly passesOnOtherHosts: boolean;
  /**
   * The route whose handler runs for this request, when the mirror can tell it with the router's
   * own matching (Fastify's constraints); otherwise the table walks `routesAt`.
   */
  routeFor?(path: string, method: string, req: RouteRequest): TableRoute | undefined;
  /**
   * Do the router's own route constraints other than the version (Fastify's
   * `@RouteConstraints({ host })`) select `route` for this request? The router passes a request
   * they refuse on to the next route. Absent: the router has none.
   */
  matchesConstraints?(route: TableRoute, req: RouteRequest): boolean;
  /** Has `route` such constraints (then what it decides depends on the request)? */
  isConstrained?(route: TableRoute): boolean;
}

export type RouterMirrorFactory = (routes: readonly TableRoute[]) => RouterMirror;

/** A decider for paths no controller route serves, shaped like a route (`@All()` at `path`). */
function offRoute(
  path: string,
  name: string,
  { policy, source, proxy }: { policy: CorsPolicy | null; source: string; proxy?: RouteForwarder },
  order: number,
): TableRoute {
  return Object.freeze({
    method: 'ALL',
    path,
    controller: OffRoute,
    handler: () => undefined,
    name,
    order,
    policy,
    source,
    ...(proxy !== undefined && { proxy }),
  });
}

class OffRoute {}

/** Marks where the router gives up on a path (a malformed percent-encoding in a parameter). */
export const ROUTER_ERROR: TableRoute = Object.freeze({
  method: '',
  path: '',
  controller: class RouterError {},
  handler: () => undefined,
  name: '(router error)',
  order: -1,
  policy: null,
  source: 'router',
});

/** Why no policy answers a preflight. */
export type NoPreflightRoute =
  /** Routes match the path, none serves the requested method. */
  | 'method-not-served'
  /**
   * Every handler that may serve it has CORS off, or no route matches and the off-route decider
   * (a `paths` entry, `routes: 'decorated'`) has CORS off: the app answers (§2 items 6, 11).
   */
  | 'cors-off'
  /** Some handler that may serve it (another version) has CORS off: it cannot approve. */
  | 'cors-off-candidate';

/** A preflight's route, with the table routes its policies come from (for messages). */
export type PreflightTarget = PreflightRoute & { readonly routes: readonly TableRoute[] };

const MAX_CACHED_METHODS = 32;

export class PolicyTable {
  private readonly preflights = new WeakMap<
    readonly TableRoute[],
    Map<string, PreflightTarget | NoPreflightRoute>
  >();
  private readonly router: RouterMirror;
  /** The `paths` entries, matched like routes: what decides a path no route serves. */
  private readonly pathsRouter: RouterMirror;
  /** Handlers with a route whose policy has `enforce`: the only ones the guard looks at. */
  private readonly enforced: ReadonlyMap<Function, readonly TableRoute[]>;
  /** How each off-route decider (a `paths` entry, the module defaults) answers preflights. */
  private readonly offRoutePreflights = new Map<TableRoute, PreflightTarget>();

  private constructor(
    readonly routes: readonly TableRoute[],
    /** `paths` entries (method `ALL`), in declaration order. */
    readonly paths: readonly TableRoute[],
    /** The module defaults, for paths no route and no `paths` entry serves. */
    private readonly defaults: TableRoute,
    private readonly createRouter: RouterMirrorFactory,
  ) {
    this.router = createRouter(routes);
    this.pathsRouter = createRouter(paths);
    const byHandler = new Map<Function, TableRoute[]>();
    for (const route of routes) {
      const same = byHandler.get(route.handler);
      if (same === undefined) byHandler.set(route.handler, [route]);
      else same.push(route);
    }
    this.enforced = new Map(
      [...byHandler].filter(([, same]) => same.some((r) => r.policy?.enforce === true)),
    );
    for (const off of [...paths, defaults]) {
      if (off.policy === null) continue;
      this.offRoutePreflights.set(off, { ...singlePolicyRoute(off.policy), routes: [off] });
    }
  }

  /**
   * `routes` with their policies; `defaults`, the module defaults' policy (null: CORS off off
   * routes, `routes: 'decorated'`) and where it came from; `paths`, the `paths` entries.
   */
  static build(
    routes: readonly TableRoute[],
    defaults: { policy: CorsPolicy | null; source: string },
    createRouter: RouterMirrorFactory,
    paths: readonly OffRouteEntry[] = [],
  ): PolicyTable {
    const ordered = [...routes].sort((a, b) => a.order - b.order);
    const entries = paths.map((p, order) =>
      offRoute(p.path, p.name ?? `paths[${JSON.stringify(p.path)}]`, p, order),
    );
    const fallback = offRoute('/{*path}', '(no route)', defaults, -1);
    return new PolicyTable(Object.freeze(ordered), Object.freeze(entries), fallback, createRouter);
  }

  /** The module defaults' policy (null: CORS off where no route and no `paths` entry serves). */
  get fallback(): CorsPolicy | null {
    return this.defaults.policy;
  }

  /** The same table with some policies replaced (a live origin update); this one is unchanged. */
  withPolicies(replace: ReadonlyMap<CorsPolicy, CorsPolicy>): PolicyTable {
    const swap = (r: TableRoute): TableRoute =>
      r.policy === null || !replace.has(r.policy) ? r : { ...r, policy: replace.get(r.policy)! };
    return new PolicyTable(
      Object.freeze(this.routes.map(swap)),
      Object.freeze(this.paths.map(swap)),
      swap(this.defaults),
      this.createRouter,
    );
  }

  /**
   * What decides a path no route serves (a 404, a GraphQL endpoint, a static file): the first
   * `paths` entry matching it, else the module defaults (cors-rules §2 item 11).
   */
  offRouteFor(path: string): TableRoute {
    if (this.paths.length === 0) return this.defaults;
    const entry = this.pathsRouter.routesAt(path)[0];
    return entry === undefined || entry === ROUTER_ERROR ? this.defaults : entry;
  }

  /**
   * The route whose handler runs for an actual request, or undefined when none does (a 404, a
   * path the router cannot decode). The first route that serves the method and whose host and
   * version filters accept the request: Nest passes the others on, like the router.
   */
  routeFor(path: string, method: string, req: RouteRequest): TableRoute | undefined {
    if (this.router.routeFor !== undefined) return this.router.routeFor(path, method, req);
    const routes = this.router.routesAt(path);
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i];
      if (route === ROUTER_ERROR) return undefined;
      if (!this.router.serves(route, method)) continue;
      if (route.acceptsHost !== undefined && !route.acceptsHost(req)) {
        if (this.router.passesOnOtherHosts) continue;
        return undefined;
      }
      if (route.acceptsVersion !== undefined && !route.acceptsVersion(req)) continue;
      return route.notFound ? undefined : route;
    }
    return undefined;
  }

  /**
   * What decides a preflight for (path, requested method): the routes whose handler may serve
   * the real request. The host is known (preflights carry it); a version is not, so every
   * version-filtered route before the first unfiltered one is a candidate. Where no route
   * matches, `offRouteFor(path)` decides.
   */
  preflightRoute(
    path: string,
    method: string,
    req: RouteRequest,
  ): PreflightTarget | NoPreflightRoute {
    const routes = this.router.routesAt(path);
    // No route serves the path (a route matched with an empty parameter is Nest's 404).
    if (routes.length === 0 || routes[0] === ROUTER_ERROR || routes.every((r) => r.notFound)) {
      return this.offRoutePreflights.get(this.offRouteFor(path)) ?? 'cors-off';
    }
    let cache = this.preflights.get(routes);
    const hit = cache?.get(method);
    if (hit !== undefined) return hit;
    const resolved = this.resolvePreflight(routes, method, req);
    const target = resolved === 'not-found' ? this.notFoundPreflight(path, method) : resolved;
    // The mirror's own (frozen) route lists are stable: what they decide per method is kept,
    // unless a host filter makes it depend on the request.
    if (Object.isFrozen(routes) && !routes.some((r) => this.dependsOnHost(r))) {
      if (cache === undefined) this.preflights.set(routes, (cache = new Map()));
      // Bounded: an @All() route serves any method name a request makes up.
      if (cache.size < MAX_CACHED_METHODS) cache.set(method, target);
    }
    return target;
  }

  /**
   * Routes match the path, but the request for this method is a 404 (another host, an empty
   * parameter): the off-route decider answers, for the requested method only, since the path's
   * other methods run route handlers with policies of their own.
   */
  private notFoundPreflight(path: string, method: string): PreflightTarget | NoPreflightRoute {
    const off = this.offRouteFor(path);
    const listed = this.offRoutePreflights.get(off);
    if (listed === undefined) return 'cors-off';
    // The methods a path no route serves may ask for (the policy's, or the `cors` default list).
    const own = listed.methods.find((m) => m.method === method);
    if (own === undefined) return 'method-not-served';
    return { ...makePreflightRoute([own.policy], [own], false), routes: [off] };
  }

  /**
   * Does some route at the path run for some method? Not when every route is matched with an
   * empty parameter, or comes after one that is for its method (Fastify): then no method is
   * served here, and a preflight for any of them is a 404's (item 11), not a 403.
   */
  private servesSomeMethod(routes: readonly TableRoute[]): boolean {
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i];
      if (route === ROUTER_ERROR) break;
      if (route.notFound) continue;
      const shadowed = routes
        .slice(0, i)
        .some((p) => p.notFound && (route.method === 'ALL' || this.router.serves(p, route.method)));
      if (!shadowed) return true;
    }
    return false;
  }

  /** Does the request's host decide whether the router runs `route`? */
  private dependsOnHost(route: TableRoute): boolean {
    return route.acceptsHost !== undefined || this.router.isConstrained?.(route) === true;
  }

  private resolvePreflight(
    routes: readonly TableRoute[],
    method: string,
    req: RouteRequest,
  ): PreflightTarget | NoPreflightRoute | 'not-found' {
    const candidates = this.candidates(routes, method, req);
    if (candidates === 'not-found') return candidates;
    if (candidates.length === 0)
      return this.servesSomeMethod(routes) ? 'method-not-served' : 'not-found';
    const policies: CorsPolicy[] = [];
    for (const route of candidates) if (route.policy !== null) policies.push(route.policy);
    if (policies.length === 0) return 'cors-off';
    if (policies.length < candidates.length) return 'cors-off-candidate';
    const methods = policies.length === 1 ? this.methodsAt(routes, req) : [];
    return { ...makePreflightRoute(policies, methods, false), routes: candidates };
  }

  /** Does any route's policy enforce (then the module needs its guard)? */
  get enforces(): boolean {
    return this.enforced.size > 0;
  }

  /** The guard's question: the table routes of a handler whose policy has `enforce`. */
  enforcedRoutesOf(handler: Function): readonly TableRoute[] | undefined {
    return this.enforced.get(handler);
  }

  /**
   * The routes that may run for a request of `method` whose version is unknown: every
   * version-filtered route up to the first unfiltered one, less those whose versions earlier
   * candidates all accept (they can never run). 'not-found': the router matches, but the request
   * gets a 404 whatever its version (the off-route decider answers).
   */
  private candidates(
    routes: readonly TableRoute[],
    method: string,
    req: RouteRequest,
  ): TableRoute[] | 'not-found' {
    const candidates: TableRoute[] = [];
    let taken: Set<unknown> | undefined;
    // A route serves the method, but not this request's host: a 404 if no other route does.
    let otherHostsOnly = false;
    for (const route of routes) {
      if (route === ROUTER_ERROR) break;
      if (!this.router.serves(route, method)) continue;
      const otherHost = route.acceptsHost !== undefined && !route.acceptsHost(req);
      const passedOn = otherHost
        ? this.router.passesOnOtherHosts
        : this.router.matchesConstraints?.(route, req) === false;
      if (passedOn) {
        otherHostsOnly = true;
        continue;
      }
      if (otherHost || route.notFound) {
        // The router runs it, and it answers 404: for its versions only, if it has some.
        if (route.acceptsVersion === undefined)
          return candidates.length === 0 ? 'not-found' : candidates;
        taken ??= new Set();
        for (const v of route.versions ?? []) taken.add(v);
        otherHostsOnly = true;
        continue;
      }
      if (route.acceptsVersion === undefined) {
        candidates.push(route);
        break;
      }
      const versions = route.versions ?? new Set([route]);
      if (taken !== undefined && [...versions].every((v) => taken!.has(v))) continue;
      candidates.push(route);
      taken ??= new Set();
      for (const v of versions) taken.add(v);
    }
    return candidates.length === 0 && otherHostsOnly ? 'not-found' : candidates;
  }

  /**
   * The methods the URL serves that an answer may list, each with the one policy deciding it:
   * the methods routes are registered for, and the listed methods of an `@All()` route. A method
   * whose handler depends on a version, or has CORS off, is never listed.
   */
  private methodsAt(routes: readonly TableRoute[], req: RouteRequest): MethodPolicy[] {
    const methods = new Set<string>();
    for (const route of routes) {
      if (route === ROUTER_ERROR) break;
      if (route.notFound) continue;
      if (route.method !== 'ALL') methods.add(route.method);
      else if (route.policy !== null && route.policy.methods instanceof Set) {
        for (const m of route.policy.methods) methods.add(m);
      }
    }
    const out: MethodPolicy[] = [];
    for (const method of methods) {
      const candidates = this.candidates(routes, method, req);
      const policy =
        candidates !== 'not-found' && candidates.length === 1 ? candidates[0].policy : null;
      if (policy !== null && policy.allowsMethod(method)) out.push({ method, policy });
    }
    return out;
  }
}
