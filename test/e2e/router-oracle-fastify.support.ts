/**
 * The Fastify side of the router oracle (router-oracle-fastify.spec.ts): route sets in Fastify
 * syntax (static and parametric overlaps, regex and multi-parameter segments, `*`, `@All`,
 * `@Head`, header versioning, host-bound and inherited controllers, router options), booted on
 * the FastifyAdapter twice — without the module (the oracle) and with `CorsModule.forRoot` — and
 * checked by the adapter-neutral `Checker` of the Express oracle (router-oracle.support.ts),
 * whose route-set model, controllers, request generation and HTTP client are reused as they are.
 */
import { VERSION_NEUTRAL, VersioningType } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { Test } from '@nestjs/testing';
import fc from 'fast-check';
import FindMyWay from 'find-my-way';
import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CorsModule } from '../../lib/index.js';
import {
  buildControllers,
  Checker,
  corsArb,
  ctrlPathArb,
  describeSpec,
  FALLBACK,
  METHOD_POOL,
  pathsArb,
  policiesOf,
  reduceWith,
  shutdown,
  smallerControllers,
  type AppSpec,
  type Booted,
  type Case,
  type Outcome,
  type CorsSpec,
  type FamilySpec,
  type PlainSpec,
  type RouteSpec,
  type Stats,
  type SubSpec,
  type Verb,
  type Violation,
} from './router-oracle.support.js';

const VERSION_HEADER = 'x-api-version';
const NEUTRAL = 'NEUTRAL';

/** Fastify's router options (find-my-way), as given to `new FastifyAdapter({ routerOptions })`. */
export interface RouterOptions {
  caseSensitive: boolean;
  ignoreTrailingSlash: boolean;
  ignoreDuplicateSlashes: boolean;
  useSemicolonDelimiter: boolean;
}

export const DEFAULT_ROUTER: RouterOptions = {
  caseSensitive: true,
  ignoreTrailingSlash: false,
  ignoreDuplicateSlashes: false,
  useSemicolonDelimiter: false,
};

/**
 * The Express oracle's route-set model (its Express settings stay off: `strict`,
 * `caseSensitive` and `specificity` are Express's), plus Fastify's router options.
 */
export interface FastifyAppSpec extends AppSpec {
  router: RouterOptions;
}

export interface FastifyFocus {
  versioning: Array<'none' | 'header'>;
  families: boolean;
  hosts: boolean;
  router: boolean;
}

// ----- generators ----------------------------------------------------------------------------------

const verbArb: fc.Arbitrary<Verb> = fc.oneof(
  { arbitrary: fc.constant<Verb>('GET'), weight: 6 },
  { arbitrary: fc.constant<Verb>('POST'), weight: 2 },
  { arbitrary: fc.constantFrom<Verb>('PUT', 'DELETE', 'PATCH'), weight: 3 },
  { arbitrary: fc.constant<Verb>('HEAD'), weight: 2 },
  { arbitrary: fc.constant<Verb>('ALL'), weight: 2 },
  { arbitrary: fc.constantFrom<Verb>('SEARCH', 'PROPFIND'), weight: 1 },
);

/**
 * Method paths in Fastify syntax over a tiny vocabulary, so that routes overlap often: literals,
 * `:id`, a regex parameter `:num(^\d+)`, a multi-parameter segment `:lat-:lng`, and `*`.
 */
const methodPathArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(
      fc.oneof(
        { arbitrary: fc.constantFrom('drafts', 'new'), weight: 3 },
        { arbitrary: fc.constant('Drafts'), weight: 1 },
        { arbitrary: fc.constant(':param'), weight: 3 },
        { arbitrary: fc.constant(':num'), weight: 2 },
        { arbitrary: fc.constant(':geo'), weight: 1 },
      ),
      { maxLength: 2 },
    ),
    fc.oneof({ arbitrary: fc.constant(''), weight: 5 }, { arbitrary: fc.constant('*'), weight: 2 }),
  )
  .map(([segments, tail]) => {
    let k = 0;
    const suffix = () => (k++ === 0 ? '' : String(k));
    const named = segments.map((s) => {
      if (s === ':param') return `:id${suffix()}`;
      if (s === ':num') return `:num${suffix()}(^\\d+)`;
      if (s === ':geo') {
        const n = suffix();
        return `:lat${n}-:lng${n}`;
      }
      return s;
    });
    if (tail === '*') named.push('*');
    return named.join('/');
  });

const versionArb = fc.constantFrom('1', '2', NEUTRAL);

function routeArb(focus: FastifyFocus, family: boolean): fc.Arbitrary<RouteSpec> {
  return fc.record(
    {
      verb: verbArb,
      paths: pathsArb(methodPathArb),
      version: focus.versioning.includes('header')
        ? fc.option(
            fc.oneof(
              versionArb.map((v) => [v]),
              fc.constant(['1', '2']).map((v) => [...v]),
            ),
            { nil: undefined, freq: 2 },
          )
        : fc.constant(undefined),
      cors: corsArb(!family),
    },
    { requiredKeys: ['verb', 'paths', 'cors'] },
  );
}

const hostArb = (focus: FastifyFocus) =>
  focus.hosts
    ? fc.option(fc.constantFrom('a.test', 'b.test'), { nil: undefined, freq: 2 })
    : fc.constant(undefined);
const ctrlVersionArb = (focus: FastifyFocus) =>
  focus.versioning.includes('header')
    ? fc.option(versionArb, { nil: undefined, freq: 2 })
    : fc.constant(undefined);

function plainArb(focus: FastifyFocus): fc.Arbitrary<PlainSpec> {
  return fc.record({
    kind: fc.constant<'plain'>('plain'),
    n: fc.constant(0),
    paths: pathsArb(ctrlPathArb),
    host: hostArb(focus),
    version: ctrlVersionArb(focus),
    routes: fc.array(routeArb(focus, false), { minLength: 1, maxLength: 4 }),
  });
}

function familyArb(focus: FastifyFocus): fc.Arbitrary<FamilySpec> {
  return fc.record({
    kind: fc.constant<'family'>('family'),
    n: fc.constant(0),
    routes: fc.array(routeArb(focus, true), { minLength: 1, maxLength: 3 }),
    subs: fc.array(
      fc.record({
        paths: pathsArb(ctrlPathArb),
        host: hostArb(focus),
        version: ctrlVersionArb(focus),
        cors: corsArb(true),
      }),
      { minLength: 2, maxLength: 3 },
    ),
  });
}

const routerArb = (focus: FastifyFocus): fc.Arbitrary<RouterOptions> =>
  focus.router
    ? fc.record({
        caseSensitive: fc.boolean(),
        ignoreTrailingSlash: fc.boolean(),
        ignoreDuplicateSlashes: fc.boolean(),
        useSemicolonDelimiter: fc.boolean(),
      })
    : fc.constant(DEFAULT_ROUTER);

/**
 * A route set Fastify accepts: Fastify refuses a duplicate route (same method, path and
 * constraints; a host is no constraint, and a GET's automatic HEAD route counts) at boot, so
 * the sets it would refuse are filtered out before booting (`registrable`).
 */
export function fastifyAppSpecArb(focus: FastifyFocus): fc.Arbitrary<FastifyAppSpec> {
  const controllerArb = focus.families
    ? fc.oneof(
        { arbitrary: plainArb(focus) as fc.Arbitrary<PlainSpec | FamilySpec>, weight: 3 },
        { arbitrary: familyArb(focus), weight: 1 },
      )
    : (plainArb(focus) as fc.Arbitrary<PlainSpec | FamilySpec>);
  return fc
    .record({
      controllers: fc.array(controllerArb, { minLength: 2, maxLength: 6 }),
      versioning: fc.constantFrom(...focus.versioning),
      defaultVersion: fc.option(fc.constant('1'), { nil: undefined, freq: 3 }),
      router: routerArb(focus),
    })
    .map((raw) => numbered({ ...raw, strict: false, caseSensitive: false, specificity: false }))
    .filter(registrable);
}

/** Numbers controllers and `origin` policies in order, as the Express oracle does. */
function numbered(spec: FastifyAppSpec): FastifyAppSpec {
  let next = 1;
  const number = (cors: CorsSpec): CorsSpec => ({
    ...cors,
    n: cors.kind === 'origin' ? next++ : 0,
  });
  return {
    ...spec,
    defaultVersion: spec.versioning === 'none' ? undefined : spec.defaultVersion,
    controllers: spec.controllers.map((c, i) =>
      c.kind === 'plain'
        ? { ...c, n: i, routes: c.routes.map((r) => ({ ...r, cors: number(r.cors) })) }
        : {
            ...c,
            n: i,
            routes: c.routes.map((r) => ({ ...r, cors: { ...r.cors, n: 0 } })),
            subs: c.subs.map((s) => ({ ...s, cors: number(s.cors) })),
          },
    ),
  };
}

// ----- the routes Nest registers ---------------------------------------------------------------------

/** One route Nest registers on Fastify for a route set, in registration order. */
export interface PlannedRoute {
  verb: Verb;
  path: string;
  /** The version the route is registered with (undefined: none, or VERSION_NEUTRAL only). */
  version?: Array<string | symbol>;
  ids: string[];
}

const versionValue = (v: string): string | symbol => (v === NEUTRAL ? VERSION_NEUTRAL : v);

/** The full path Nest registers for a controller path and a method path (no prefix here). */
function joinPath(ctrlPath: string, methodPath: string): string {
  return `/${[ctrlPath, methodPath].filter((p) => p.length > 0).join('/')}`;
}

/**
 * The routes of a route set, as RoutesResolver and RouterExplorer register them: controllers in
 * order, each controller path, each handler, each method path. The harness checks this plan
 * against the routes Fastify really receives (its `onRoute` hook) at every boot.
 */
export function plannedRoutes(spec: FastifyAppSpec): PlannedRoute[] {
  const out: PlannedRoute[] = [];
  const versionOf = (route: RouteSpec, ctrl?: string): Array<string | symbol> | undefined => {
    if (spec.versioning === 'none') return undefined;
    const values = route.version ?? [ctrl ?? spec.defaultVersion].filter((v) => v !== undefined);
    if (values.length === 0) return undefined;
    // A route whose only version is VERSION_NEUTRAL is registered without a constraint.
    if (values.length === 1 && values[0] === NEUTRAL) return undefined;
    return values.map(versionValue);
  };
  const add = (
    ctrl: { paths: string[]; version?: string },
    routes: RouteSpec[],
    ids: (j: number) => string,
  ) => {
    for (const ctrlPath of ctrl.paths) {
      routes.forEach((route, j) => {
        for (const methodPath of route.paths) {
          out.push({
            verb: route.verb,
            path: joinPath(ctrlPath, methodPath),
            version: versionOf(route, ctrl.version),
            ids: [ids(j)],
          });
        }
      });
    }
  };
  for (const c of spec.controllers) {
    if (c.kind === 'plain') add(c, c.routes, (j) => `C${c.n}.m${j}`);
    else c.subs.forEach((s: SubSpec, k) => add(s, c.routes, (j) => `S${c.n}x${k}.m${j}`));
  }
  return out;
}

/**
 * Registers the planned routes on a bare FastifyAdapter as Nest does (the adapter's route
 * methods, its version constraint): false when Fastify refuses one (a duplicate route).
 */
export function registrable(spec: FastifyAppSpec): boolean {
  const adapter = new FastifyAdapter({ routerOptions: { ...spec.router } });
  try {
    for (const route of plannedRoutes(spec)) {
      const handler = Object.assign(() => undefined, {
        version: route.version === undefined ? undefined : one(route.version),
      });
      const method = route.verb.toLowerCase() as 'get';
      (adapter[method] as (path: string, handler: unknown) => unknown).call(
        adapter,
        route.path,
        handler,
      );
    }
    return true;
  } catch {
    return false;
  } finally {
    void adapter.getInstance().close();
  }
}

const one = <T>(list: T[]): T | T[] => (list.length === 1 ? list[0] : list);

// ----- booting ---------------------------------------------------------------------------------------

/**
 * The request template of a route for `caseFrom` (which fills Express-style tokens): a regex
 * parameter becomes a plain one (the fills are digits and words), `*` an optional wildcard
 * (Fastify's `*` also matches the empty rest).
 */
function template(path: string): string {
  return path.replace(/\(\^\\d\+\)/g, '').replace(/\*$/, '{*rest}');
}

/**
 * Does `pattern` serve `pathname` under these router options: matched by find-my-way (Fastify's
 * router) with no empty parameter but `*` (Nest answers 404 for an empty one)? For the checker's
 * "routes at this path" (which origins to probe; whether a 404 path is served for another method).
 */
function matcher(pattern: string, router: RouterOptions): (pathname: string) => boolean {
  const fmw = FindMyWay({ ...router });
  fmw.on('GET', pattern, () => undefined);
  return (pathname) => {
    const found = fmw.find('GET', pathname);
    if (found === null) return false;
    return !Object.entries(found.params).some(([k, v]) => v === '' && k !== '*');
  };
}

/** Boots the route set on Fastify, with the module (`withCors`) or without it (the oracle). */
export async function bootFastify(spec: FastifyAppSpec, withCors: boolean): Promise<Booted> {
  const adapter = new FastifyAdapter({ routerOptions: { ...spec.router } });
  // The shared handlers (router-oracle.support.ts) name themselves with `res.setHeader()`, the
  // Node/Express call; a Fastify reply has `header()` instead: the same call, under that name.
  adapter
    .getInstance()
    .decorateReply('setHeader', function (this: FastifyReply, name: string, value: string) {
      return this.header(name, value);
    });
  const registered = new Set<string>();
  adapter.getInstance().addHook('onRoute', (route) => {
    registered.add(route.url);
  });
  const moduleRef = await Test.createTestingModule({
    imports: withCors ? [CorsModule.forRoot({ origin: FALLBACK })] : [],
    controllers: buildControllers(spec),
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, { logger: false });
  if (spec.versioning === 'header') {
    app.enableVersioning({
      type: VersioningType.HEADER,
      header: VERSION_HEADER,
      ...(spec.defaultVersion === undefined ? {} : { defaultVersion: spec.defaultVersion }),
    });
  }
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  const planned = plannedRoutes(spec);
  const expected = new Set(planned.map((r) => r.path));
  if ([...expected].sort().join(' ') !== [...registered].sort().join(' ')) {
    await app.close();
    throw new Error(
      `test harness: Nest registered ${JSON.stringify([...registered])}, ` +
        `the plan says ${JSON.stringify([...expected])}`,
    );
  }
  const layers: Booted['layers'] = planned.map((route) => ({
    path: template(route.path),
    match: matcher(route.path, spec.router),
    ids: route.ids,
    methods: route.verb === 'ALL' ? [...METHOD_POOL] : [route.verb],
  }));
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, port, agent: new Agent({ keepAlive: true, maxSockets: 8 }), layers };
}

/** The checker's counts, and how many oracle answers came from a handler. */
export interface FastifyStats extends Stats {
  handled: number;
}

/**
 * The shared checker, whose oracle answers are watched: a 5xx without a handler is a harness
 * fault (a handler that cannot run on Fastify), never a case to skip.
 */
class FastifyChecker extends Checker {
  constructor(
    spec: FastifyAppSpec,
    oracleApp: Booted,
    corsApp: Booted,
    private readonly counts: FastifyStats,
  ) {
    super(spec, policiesOf(spec), oracleApp, corsApp, counts);
  }

  /**
   * Fastify answers some requests before any hook runs, so before the module: a malformed escape
   * (400) or an over-long parameter (414), and, for a request no route matches, a path its
   * not-found router cannot decode — with `useSemicolonDelimiter`, `OPTIONS /x;y/%` is a 400
   * although `DELETE /x;y/%` runs `/:id` (the not-found router splits no `;`). Those answers
   * carry no CORS headers on Fastify, whatever the module: a preflight Fastify itself refuses is
   * not checked (counted as skipped).
   */
  override async checkPreflight(c: Case): Promise<void> {
    const plain = await this.oracle({ method: 'OPTIONS', path: c.path, host: c.host });
    if (answeredBeforeHooks(plain, c.path)) {
      this.counts.skipped++;
      return;
    }
    await super.checkPreflight(c);
  }

  /** The same for actual requests. */
  override async checkActual(c: Case): Promise<void> {
    if (answeredBeforeHooks(await this.oracle(c), c.path)) {
      this.counts.skipped++;
      return;
    }
    await super.checkActual(c);
  }

  override oracle(c: Case): Promise<Outcome> {
    return super.oracle(c).then((outcome) => {
      if (outcome.handler === null && outcome.status >= 500) {
        throw new Error(
          `test harness: the oracle answered ${outcome.status} for ${c.method} ${c.path}`,
        );
      }
      if (outcome.handler !== null) this.counts.handled++;
      return outcome;
    });
  }
}

/**
 * Did Fastify answer before any hook? Its own 400 (a malformed escape; 404 with the Fastify that
 * Nest 11 installs) and 414 (an over-long parameter), with no handler.
 */
function answeredBeforeHooks(outcome: Outcome, path: string): boolean {
  if (outcome.handler !== null) return false;
  if (outcome.status === 400 || outcome.status === 414) return true;
  return outcome.status === 404 && hasMalformedEscape(path);
}

function hasMalformedEscape(path: string): boolean {
  const pathname = path.split('?', 1)[0];
  try {
    decodeURIComponent(pathname);
    return false;
  } catch {
    return true;
  }
}

/** Boots the oracle app and the CORS app for `spec`, runs `work`, closes both. */
export async function withFastifyApps<T>(
  spec: FastifyAppSpec,
  stats: FastifyStats,
  work: (checker: Checker, oracleApp: Booted) => Promise<T>,
): Promise<T> {
  let oracleApp: Booted | undefined;
  let corsApp: Booted | undefined;
  try {
    // The oracle first: the module's boot must not influence it.
    oracleApp = await bootFastify(spec, false);
    corsApp = await bootFastify(spec, true);
    const checker = new FastifyChecker(spec, oracleApp, corsApp, stats);
    return await work(checker, oracleApp);
  } finally {
    await shutdown(corsApp);
    await shutdown(oracleApp);
  }
}

// ----- reports ---------------------------------------------------------------------------------------

/** The route set as the decorators a user would write, with the adapter's router options. */
export function describeFastifySpec(spec: FastifyAppSpec): string {
  const options = Object.entries(spec.router)
    .filter(([key, value]) => value !== DEFAULT_ROUTER[key as keyof RouterOptions])
    .map(([key, value]) => `${key}: ${String(value)}`);
  return (
    `  new FastifyAdapter(${options.length === 0 ? '' : `{ routerOptions: { ${options.join(', ')} } }`})\n` +
    describeSpec(spec)
  );
}

/** One-step smaller route sets that Fastify still accepts. */
function smaller(spec: FastifyAppSpec): FastifyAppSpec[] {
  const out = smallerControllers(spec);
  for (const key of Object.keys(spec.router) as Array<keyof RouterOptions>) {
    if (spec.router[key] !== DEFAULT_ROUTER[key]) {
      out.push({ ...spec, router: { ...spec.router, [key]: DEFAULT_ROUTER[key] } });
    }
  }
  if (spec.defaultVersion !== undefined) out.push({ ...spec, defaultVersion: undefined });
  return out.filter(registrable);
}

/** Runs the checks of one case on `spec`; the violation of `category` it shows, if any. */
async function reproduce(
  spec: FastifyAppSpec,
  c: Case,
  category: string,
): Promise<Violation | undefined> {
  const stats: FastifyStats = { cases: 0, requests: 0, skipped: 0, handled: 0 };
  try {
    return await withFastifyApps(spec, stats, async (checker) => {
      await checker.check(c);
      return checker.violations.find((v) => v.category === category);
    });
  } catch {
    return undefined;
  }
}

/**
 * Greedy reduction of a failing route set: drops whatever it can while the same request still
 * shows a violation of the same category. Bounded by `budgetMs`.
 */
export function reduceFastify(
  spec: FastifyAppSpec,
  violation: Violation,
  budgetMs: number,
): Promise<{ spec: FastifyAppSpec; violation: Violation }> {
  return reduceWith(spec, violation, budgetMs, smaller, reproduce);
}
