/**
 * Machinery of the router oracle (router-oracle.spec.ts): random route sets as data, built into
 * real controllers at run time, booted twice — once without the module (the oracle: plain Nest on
 * Express, which tells which handler really runs) and once with `CorsModule.forRoot` — and the
 * checks that compare the CORS answers with the handler the oracle saw (cors-rules §2 items 1, 4,
 * 5, 6, 10, 11). Public API only: `Cors` and `CorsModule` from the package barrel.
 */
import {
  All,
  Controller,
  Delete,
  Get,
  Head,
  Patch,
  Post,
  Propfind,
  Put,
  RequestMethod,
  Res,
  Search,
  Version,
  VERSION_NEUTRAL,
  VersioningType,
  type INestApplication,
  type NestApplicationOptions,
  type Type,
} from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import express from 'express';
import fc from 'fast-check';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cors, CorsModule } from '../../lib/index.js';

// ----- constants -----------------------------------------------------------------------------------

export const FALLBACK = 'https://fallback.test';
export const NOBODY = 'https://nobody.test';
/** The `cors` package's default method list (rule 11: what a path no route serves allows). */
export const DEFAULT_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'];
const SAFELISTED = new Set(['GET', 'HEAD', 'POST']);
/** Methods requests are sent with; PURGE is registered by no route. */
export const METHOD_POOL = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'SEARCH',
  'PROPFIND',
  'PURGE',
];
const HOSTS = ['a.test', 'b.test'];
const VERSION_HEADER = 'x-api-version';
const NEUTRAL = 'NEUTRAL';
const ACAO = 'access-control-allow-origin';
const ACAC = 'access-control-allow-credentials';
const ACAM = 'access-control-allow-methods';
const X_HANDLER = 'x-handler';

export const originOf = (n: number): string => `https://r${n}.test`;

// ----- the route-set model -------------------------------------------------------------------------

export type Verb =
  'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'ALL' | 'SEARCH' | 'PROPFIND';

/** `origin`: `@Cors({ origin: [r<n>], credentials?, enforce? })`; `off`: `@Cors(false)`; `default`: none. */
export interface CorsSpec {
  kind: 'origin' | 'off' | 'default';
  /** Unique per `origin` spec in a route set: the policy's only origin is `https://r<n>.test`. */
  n: number;
  credentials: boolean;
  enforce: boolean;
}

export interface RouteSpec {
  verb: Verb;
  /** One path, or a path array (`@Get(['a', 'b'])`). */
  paths: string[];
  /** `@Version(...)` on the method ('NEUTRAL' = VERSION_NEUTRAL). */
  version?: string[];
  cors: CorsSpec;
}

export interface PlainSpec {
  kind: 'plain';
  n: number;
  paths: string[];
  host?: string;
  version?: string;
  routes: RouteSpec[];
}

/** A subclass of a family's base class: its own `@Controller` and class-level `@Cors`. */
export interface SubSpec {
  paths: string[];
  host?: string;
  version?: string;
  cors: CorsSpec;
}

/** A base class whose methods carry the route decorators, extended by several controllers. */
export interface FamilySpec {
  kind: 'family';
  n: number;
  /** Route-level CORS here is `default` (the subclass's applies) or `off`. */
  routes: RouteSpec[];
  subs: SubSpec[];
}

export type ExcludeSpec = string | { path: string; method: 'GET' | 'POST' };

export interface AppSpec {
  controllers: Array<PlainSpec | FamilySpec>;
  prefix?: { exclude: ExcludeSpec[] };
  versioning: 'none' | 'uri' | 'header' | 'media';
  defaultVersion?: string;
  strict: boolean;
  caseSensitive: boolean;
  specificity: boolean;
}

/** What a handler's effective policy is in this model; `origin: null` = CORS off. */
export interface Policy {
  origin: string | null;
  credentials: boolean;
  enforce: boolean;
}

export const FALLBACK_POLICY: Policy = { origin: FALLBACK, credentials: false, enforce: false };
const OFF: Policy = { origin: null, credentials: false, enforce: false };

function policyOfSpec(cors: CorsSpec): Policy {
  if (cors.kind === 'off') return OFF;
  if (cors.kind === 'default') return FALLBACK_POLICY;
  return { origin: originOf(cors.n), credentials: cors.credentials, enforce: cors.enforce };
}

/** Handler identities (`Class.method`, what the handler writes in `x-handler`) and their policies. */
export function policiesOf(spec: AppSpec): Map<string, Policy> {
  const out = new Map<string, Policy>();
  for (const c of spec.controllers) {
    if (c.kind === 'plain') {
      c.routes.forEach((r, j) => out.set(`C${c.n}.m${j}`, policyOfSpec(r.cors)));
    } else {
      c.subs.forEach((s, k) =>
        c.routes.forEach((r, j) =>
          out.set(`S${c.n}x${k}.m${j}`, r.cors.kind === 'off' ? OFF : policyOfSpec(s.cors)),
        ),
      );
    }
  }
  return out;
}

// ----- generators ----------------------------------------------------------------------------------

export interface Focus {
  versioning: Array<AppSpec['versioning']>;
  families: boolean;
  hosts: boolean;
  prefix: boolean;
  /** Probability-ish switches for Express settings and the specificity strategy. */
  strict: boolean;
  caseSensitive: boolean;
  specificity: boolean;
}

const verbArb: fc.Arbitrary<Verb> = fc.oneof(
  { arbitrary: fc.constant<Verb>('GET'), weight: 6 },
  { arbitrary: fc.constant<Verb>('POST'), weight: 2 },
  { arbitrary: fc.constantFrom<Verb>('PUT', 'DELETE', 'PATCH'), weight: 3 },
  { arbitrary: fc.constant<Verb>('HEAD'), weight: 2 },
  { arbitrary: fc.constant<Verb>('ALL'), weight: 2 },
  { arbitrary: fc.constantFrom<Verb>('SEARCH', 'PROPFIND'), weight: 1 },
);

/** Method paths over a tiny vocabulary, so that routes overlap often. */
const methodPathArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(
      fc.oneof(
        { arbitrary: fc.constantFrom('drafts', 'new'), weight: 3 },
        { arbitrary: fc.constant('Drafts'), weight: 1 },
        { arbitrary: fc.constant(':param'), weight: 3 },
      ),
      { maxLength: 2 },
    ),
    fc.oneof(
      { arbitrary: fc.constant(''), weight: 6 },
      { arbitrary: fc.constantFrom('*rest', '{*rest}', '{/*rest}'), weight: 2 },
    ),
  )
  .map(([segments, tail]) => {
    let params = 0;
    const named = segments.map((s) => (s === ':param' ? (params++ === 0 ? ':id' : ':sub') : s));
    let path = named.join('/');
    if (tail === '{/*rest}') path = path.length > 0 ? `${path}{/*rest}` : '*rest';
    else if (tail !== '') path = path.length > 0 ? `${path}/${tail}` : tail;
    return path;
  });

export const pathsArb = <T>(single: fc.Arbitrary<T>): fc.Arbitrary<T[]> =>
  fc.oneof(
    { arbitrary: single.map((p) => [p]), weight: 6 },
    {
      arbitrary: fc.uniqueArray(single, { minLength: 2, maxLength: 2, selector: (p) => String(p) }),
      weight: 1,
    },
  );

export const corsArb = (allowOrigin: boolean): fc.Arbitrary<CorsSpec> =>
  fc.record({
    kind: allowOrigin
      ? fc.oneof(
          { arbitrary: fc.constant<CorsSpec['kind']>('origin'), weight: 8 },
          { arbitrary: fc.constant<CorsSpec['kind']>('off'), weight: 1 },
          { arbitrary: fc.constant<CorsSpec['kind']>('default'), weight: 1 },
        )
      : fc.oneof(
          { arbitrary: fc.constant<CorsSpec['kind']>('default'), weight: 6 },
          { arbitrary: fc.constant<CorsSpec['kind']>('off'), weight: 1 },
        ),
    n: fc.constant(0),
    credentials: fc.boolean(),
    enforce: fc.oneof(
      { arbitrary: fc.constant(false), weight: 3 },
      { arbitrary: fc.constant(true), weight: 1 },
    ),
  });

export const ctrlPathArb = fc.constantFrom('items', 'items', 'docs', '');
const versionArb = fc.constantFrom('1', '2', NEUTRAL);

function routeArb(focus: Focus, family: boolean): fc.Arbitrary<RouteSpec> {
  return fc.record(
    {
      verb: verbArb,
      paths: pathsArb(methodPathArb),
      version: focus.versioning.some((v) => v !== 'none')
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

const hostArb = (focus: Focus) =>
  focus.hosts
    ? fc.option(fc.constantFrom(...HOSTS), { nil: undefined, freq: 2 })
    : fc.constant(undefined);
const ctrlVersionArb = (focus: Focus) =>
  focus.versioning.some((v) => v !== 'none')
    ? fc.option(versionArb, { nil: undefined, freq: 2 })
    : fc.constant(undefined);

function plainArb(focus: Focus): fc.Arbitrary<PlainSpec> {
  return fc.record({
    kind: fc.constant<'plain'>('plain'),
    n: fc.constant(0),
    paths: pathsArb(ctrlPathArb),
    host: hostArb(focus),
    version: ctrlVersionArb(focus),
    routes: fc.array(routeArb(focus, false), { minLength: 1, maxLength: 4 }),
  });
}

function familyArb(focus: Focus): fc.Arbitrary<FamilySpec> {
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

const excludeArb: fc.Arbitrary<ExcludeSpec> = fc.oneof(
  fc.constantFrom('items', 'docs', 'items/{*splat}', 'items/drafts'),
  fc.record({
    path: fc.constantFrom('items/:id', 'docs', 'items/drafts'),
    method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
  }),
);

const weighted = (p: number): fc.Arbitrary<boolean> =>
  fc.integer({ min: 0, max: 99 }).map((x) => x < p * 100);

/** A route set; every `origin` policy gets its own number (hence its own origin). */
export function appSpecArb(focus: Focus): fc.Arbitrary<AppSpec> {
  const controllerArb = focus.families
    ? fc.oneof(
        { arbitrary: plainArb(focus) as fc.Arbitrary<PlainSpec | FamilySpec>, weight: 3 },
        { arbitrary: familyArb(focus), weight: 2 },
      )
    : (plainArb(focus) as fc.Arbitrary<PlainSpec | FamilySpec>);
  return fc
    .record({
      controllers: fc.array(controllerArb, { minLength: 2, maxLength: 6 }),
      prefix: focus.prefix
        ? fc.option(
            fc.record({
              exclude: fc.uniqueArray(excludeArb, {
                maxLength: 2,
                selector: (e) => JSON.stringify(e),
              }),
            }),
            { nil: undefined, freq: 3 },
          )
        : fc.constant(undefined),
      versioning: fc.constantFrom(...focus.versioning),
      defaultVersion: fc.option(fc.constant('1'), { nil: undefined, freq: 3 }),
      strict: focus.strict ? fc.boolean() : fc.constant(false),
      caseSensitive: focus.caseSensitive ? fc.boolean() : fc.constant(false),
      specificity: focus.specificity ? weighted(0.4) : fc.constant(false),
    })
    .map((raw) => numbered({ ...raw, prefix: raw.prefix ?? undefined }));
}

/** Numbers controllers and `origin` policies in order (stable under the reducer's removals). */
function numbered(spec: AppSpec): AppSpec {
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

export interface CaseSeed {
  template: number;
  fills: number[];
  mutation: Mutation;
  extra: Mutation;
  pick: number;
  ownMethod: boolean;
  method: number;
  host: number;
  version: number;
}

export type Mutation =
  | 'none'
  | 'trailing-add'
  | 'trailing-drop'
  | 'upper'
  | 'capitalize'
  | 'double-slash'
  | 'semicolon'
  | 'dot-dot'
  | 'encode-literal'
  | 'malformed'
  | 'query'
  | 'absolute-form'
  | 'drop-prefix'
  | 'add-prefix'
  | 'swap-version'
  | 'random';

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.constant<Mutation>('none'), weight: 14 },
  {
    arbitrary: fc.constantFrom<Mutation>(
      'trailing-add',
      'trailing-drop',
      'upper',
      'capitalize',
      'double-slash',
      'semicolon',
      'dot-dot',
      'encode-literal',
      'malformed',
      'query',
      'absolute-form',
      'drop-prefix',
      'add-prefix',
      'swap-version',
      'random',
    ),
    weight: 10,
  },
);

export const caseSeedArb: fc.Arbitrary<CaseSeed> = fc.record({
  template: fc.nat(),
  fills: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  mutation: mutationArb,
  extra: fc.oneof(
    { arbitrary: fc.constant<Mutation>('none'), weight: 5 },
    { arbitrary: mutationArb, weight: 1 },
  ),
  pick: fc.nat(),
  ownMethod: weighted(0.6),
  method: fc.nat(),
  host: fc.nat(),
  version: fc.nat(),
});

// ----- building the controllers ----------------------------------------------------------------------

const VERB_DECORATORS: Record<Verb, (path?: string | string[]) => MethodDecorator> = {
  GET: Get,
  POST: Post,
  PUT: Put,
  DELETE: Delete,
  PATCH: Patch,
  HEAD: Head,
  ALL: All,
  SEARCH: Search,
  PROPFIND: Propfind,
};

/** Metadata on each handler function: the identities it serves (read back from Express's layers). */
const ORACLE_IDS = 'router-oracle:ids';

type VersionValue = Parameters<typeof Version>[0];
const versionValue = (v: string): VersionValue =>
  v === NEUTRAL ? (VERSION_NEUTRAL as VersionValue) : v;
const one = <T>(list: T[]): T | T[] => (list.length === 1 ? list[0] : list);

function corsDecorator(cors: CorsSpec): (ClassDecorator & MethodDecorator) | undefined {
  if (cors.kind === 'default') return undefined;
  if (cors.kind === 'off') return Cors(false);
  return Cors({
    origin: [originOf(cors.n)],
    ...(cors.credentials ? { credentials: true } : {}),
    ...(cors.enforce ? { enforce: true } : {}),
  });
}

function namedClass(name: string, base?: Type<unknown>): Type<unknown> {
  const cls = base === undefined ? class {} : class extends (base as new () => object) {};
  Object.defineProperty(cls, 'name', { value: name });
  return cls as Type<unknown>;
}

/** Writes one handler per route on `proto`, decorated as the spec says. */
function defineRoutes(proto: Record<string, unknown>, routes: RouteSpec[], ids: string[][]): void {
  routes.forEach((route, j) => {
    const key = `m${j}`;
    proto[key] = function handler(this: object, res: { setHeader(n: string, v: string): void }) {
      const id = `${this.constructor.name}.${key}`;
      res.setHeader(X_HANDLER, id);
      return id;
    };
    Res({ passthrough: true })(proto, key, 0);
    const descriptor = Object.getOwnPropertyDescriptor(proto, key) as PropertyDescriptor;
    Reflect.defineMetadata(ORACLE_IDS, ids[j], descriptor.value);
    VERB_DECORATORS[route.verb](one(route.paths))(proto, key, descriptor);
    if (route.version !== undefined) {
      Version(one(route.version.map(versionValue)) as VersionValue)(proto, key, descriptor);
    }
    corsDecorator(route.cors)?.(proto, key, descriptor);
  });
}

function controllerOptions(paths: string[], host?: string, version?: string) {
  const options: { path: string | string[]; host?: string; version?: VersionValue } = {
    path: one(paths),
  };
  if (host !== undefined) options.host = host;
  if (version !== undefined) options.version = versionValue(version);
  return options;
}

/** Fresh classes for a route set (decorator metadata never leaks between apps of different runs). */
export function buildControllers(spec: AppSpec): Type<unknown>[] {
  const out: Type<unknown>[] = [];
  for (const c of spec.controllers) {
    if (c.kind === 'plain') {
      const cls = namedClass(`C${c.n}`);
      defineRoutes(
        cls.prototype,
        c.routes,
        c.routes.map((_, j) => [`C${c.n}.m${j}`]),
      );
      Controller(controllerOptions(c.paths, c.host, c.version))(cls);
      out.push(cls);
    } else {
      const base = namedClass(`B${c.n}`);
      defineRoutes(
        base.prototype,
        c.routes,
        c.routes.map((_, j) => c.subs.map((_s, k) => `S${c.n}x${k}.m${j}`)),
      );
      c.subs.forEach((s, k) => {
        const sub = namedClass(`S${c.n}x${k}`, base);
        Controller(controllerOptions(s.paths, s.host, s.version))(sub);
        corsDecorator(s.cors)?.(sub);
        out.push(sub);
      });
    }
  }
  return out;
}

// ----- booting -------------------------------------------------------------------------------------

export interface Booted {
  app: INestApplication;
  port: number;
  agent: Agent;
  /** Express's route layers, in the router's order (for choosing competing origins only). */
  layers: RouteLayer[];
}

interface RouteLayer {
  /** The path Express registered (with prefix and URI version). */
  path: string;
  match(path: string): unknown;
  ids: string[];
  methods: string[];
}

interface ExpressRouterLike {
  strict?: boolean;
  caseSensitive?: boolean;
  stack: Array<{
    match(path: string): unknown;
    route?: { path: string; methods: Record<string, boolean>; stack: Array<{ handle: object }> };
  }>;
}

/** Boots the route set on Express, with the module (`withCors`) or without it (the oracle). */
export async function boot(spec: AppSpec, withCors: boolean): Promise<Booted> {
  const instance = express();
  // Read when Express creates its router: before the adapter or Nest touch `app.router`.
  if (spec.strict) instance.set('strict routing', true);
  if (spec.caseSensitive) instance.set('case sensitive routing', true);
  const moduleRef = await Test.createTestingModule({
    imports: withCors ? [CorsModule.forRoot({ origin: FALLBACK })] : [],
    controllers: buildControllers(spec),
  }).compile();
  // Nest 12's option; Nest 11 ignores it (the router then decides in declaration order, and the
  // oracle expects what the router does).
  const app = moduleRef.createNestApplication(new ExpressAdapter(instance), {
    logger: false,
    routeResolutionStrategy: spec.specificity ? 'specificity' : 'declaration',
  } as NestApplicationOptions);
  if (spec.prefix !== undefined) {
    app.setGlobalPrefix('api', {
      exclude: spec.prefix.exclude.map((e) =>
        typeof e === 'string' ? e : { path: e.path, method: RequestMethod[e.method] },
      ),
    });
  }
  const defaultVersion =
    spec.defaultVersion === undefined ? {} : { defaultVersion: spec.defaultVersion };
  if (spec.versioning === 'uri')
    app.enableVersioning({ type: VersioningType.URI, ...defaultVersion });
  if (spec.versioning === 'header') {
    app.enableVersioning({
      type: VersioningType.HEADER,
      header: VERSION_HEADER,
      ...defaultVersion,
    });
  }
  if (spec.versioning === 'media') {
    app.enableVersioning({ type: VersioningType.MEDIA_TYPE, key: 'v=', ...defaultVersion });
  }
  await app.listen(0, '127.0.0.1');
  const router = (instance as unknown as { router: ExpressRouterLike }).router;
  if (!!router.strict !== spec.strict || !!router.caseSensitive !== spec.caseSensitive) {
    await app.close();
    throw new Error('test harness: the Express routing settings did not take effect');
  }
  const layers: RouteLayer[] = router.stack
    .filter((layer) => layer.route !== undefined)
    .map((layer) => ({
      path: layer.route!.path,
      match: (path: string) => layer.match(path),
      ids: (Reflect.getMetadata(ORACLE_IDS, layer.route!.stack[0].handle) as string[]) ?? [],
      methods: Object.keys(layer.route!.methods).map((m) => m.toUpperCase()),
    }));
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, port, agent: new Agent({ keepAlive: true, maxSockets: 8 }), layers };
}

export async function shutdown(booted: Booted | undefined): Promise<void> {
  if (booted === undefined) return;
  booted.agent.destroy();
  await booted.app.close();
}

// ----- HTTP ----------------------------------------------------------------------------------------

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Set when the request failed or timed out (no answer is a violation too). */
  error?: string;
}

/** One request, sent as is (exact request-target, several `Host` values) over a keep-alive agent. */
export function send(
  target: Booted,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<Reply> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (reply: Reply) => {
      if (done) return;
      done = true;
      resolve(reply);
    };
    const req = httpRequest({
      host: '127.0.0.1',
      port: target.port,
      method,
      path,
      agent: target.agent,
      headers,
      timeout: 5000,
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on('error', (e) => finish({ status: 0, headers: {}, error: String(e) }));
    });
    req.on('timeout', () => {
      req.destroy();
      finish({ status: 0, headers: {}, error: 'no answer within 5 s' });
    });
    req.on('error', (e) => finish({ status: 0, headers: {}, error: String(e) }));
    req.end();
  });
}

// ----- request generation --------------------------------------------------------------------------

const FILLS = [
  '1',
  '42',
  'drafts',
  'Drafts',
  'new',
  'a%20b',
  '%E2%82%AC',
  'x;y',
  '..',
  'v1',
  'items',
  '%64rafts',
  '%2F',
  '%zz',
];
const RANDOM_PATHS = [
  '/',
  '/nothing',
  '/api',
  '/api/',
  '/items',
  '/v1',
  '/v2/items',
  '/api/v1/docs/drafts',
  '/graphql',
  '/items/drafts/new/x',
  '/docs/',
];

export interface Case {
  method: string;
  path: string;
  host?: string;
  /** The version sent (header or media-type versioning), or undefined for none. */
  version?: string;
}

/** The version values worth sending: every one the route set names, an unknown one, and none. */
export function versionsOf(spec: AppSpec): Array<string | undefined> {
  if (spec.versioning !== 'header' && spec.versioning !== 'media') return [undefined];
  // The generator names versions '1' and '2' (and VERSION_NEUTRAL); '9' is one nobody serves.
  return [undefined, '1', '2', '9'];
}

function fillTemplate(template: string, fills: number[]): string {
  let i = 0;
  const next = () => FILLS[fills[i++ % fills.length] % FILLS.length];
  const wild = () =>
    Array.from({ length: 1 + (fills[(i + 1) % fills.length] % 2) }, () => next()).join('/');
  return template.replace(/\{\/\*\w+\}|\{\*\w+\}|\*\w+|:\w+/g, (token) => {
    if (token.startsWith('{/*')) return fills[i++ % fills.length] % 2 === 0 ? '' : `/${wild()}`;
    if (token.startsWith('{*')) return fills[i++ % fills.length] % 2 === 0 ? '' : wild();
    if (token.startsWith('*')) return wild();
    return next();
  });
}

function mutate(path: string, mutation: Mutation, k: number): string {
  const segments = path.split('/');
  const literal = segments.map((s, i) => (s.length > 0 && !s.includes('%') ? i : -1));
  const literals = literal.filter((i) => i >= 0);
  const at = literals.length > 0 ? literals[k % literals.length] : -1;
  switch (mutation) {
    case 'none':
      return path;
    case 'trailing-add':
      return path.endsWith('/') ? `${path}/` : `${path}/`;
    case 'trailing-drop':
      return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    case 'upper':
      return path.toUpperCase();
    case 'capitalize':
      if (at < 0) return path;
      segments[at] = segments[at][0].toUpperCase() + segments[at].slice(1);
      return segments.join('/');
    case 'double-slash': {
      const i = 1 + (k % Math.max(1, segments.length - 1));
      return [...segments.slice(0, i), '', ...segments.slice(i)].join('/');
    }
    case 'semicolon':
      if (at < 0) return `${path};x=1`;
      segments[at] = `${segments[at]};jsessionid=1`;
      return segments.join('/');
    case 'dot-dot':
      if (at < 0) return `${path}/..`;
      segments.splice(at, 0, 'x', '..');
      return segments.join('/');
    case 'encode-literal': {
      if (at < 0) return path;
      const s = segments[at];
      const c = k % s.length;
      segments[at] =
        s.slice(0, c) +
        `%${s.charCodeAt(c).toString(16).toUpperCase().padStart(2, '0')}` +
        s.slice(c + 1);
      return segments.join('/');
    }
    case 'malformed':
      return k % 2 === 0 ? `${path}%zz` : `${path}/%`;
    case 'query':
      return `${path}?${['q=1', 'a=%zz', 'next=/items/drafts', ''][k % 4]}`;
    case 'absolute-form':
      return `http://${['a.test', '127.0.0.1', 'b.test'][k % 3]}${path}`;
    case 'drop-prefix':
      return path.startsWith('/api/') ? path.slice(4) : path;
    case 'add-prefix':
      return path.startsWith('/api/') ? path : `/api${path === '/' ? '' : path}`;
    case 'swap-version':
      return path.replace(/\/v(\d)(?=\/|$)/, (_m, d: string) => (d === '1' ? '/v2' : '/v1'));
    case 'random':
      return RANDOM_PATHS[k % RANDOM_PATHS.length];
  }
}

/** A request derived from a registered route (the oracle's own layer list) and mutated. */
export function caseFrom(target: Booted, spec: AppSpec, seed: CaseSeed): Case {
  const templates = target.layers;
  const layer = templates[seed.template % templates.length];
  let path = fillTemplate(layer.path, seed.fills);
  path = mutate(path, seed.mutation, seed.pick);
  if (!path.startsWith('http')) path = mutate(path, seed.extra, seed.pick >> 3);
  if (!path.startsWith('/') && !path.startsWith('http')) path = `/${path}`;
  // `app.all()` registers every method Node knows (CONNECT, TRACE…): send the pool's instead.
  const own = layer.methods.filter((m) => METHOD_POOL.includes(m));
  const method =
    seed.ownMethod && own.length > 0 && own.length < 4
      ? own[seed.method % own.length]
      : METHOD_POOL[seed.method % METHOD_POOL.length];
  const hostBound = spec.controllers.some((c) =>
    c.kind === 'plain' ? c.host !== undefined : c.subs.some((s) => s.host !== undefined),
  );
  const host = hostBound ? [...HOSTS, undefined][seed.host % (HOSTS.length + 1)] : undefined;
  const versions = versionsOf(spec);
  const version = versions[seed.version % versions.length];
  return { method, path, host, version };
}

// ----- the checks ----------------------------------------------------------------------------------

export interface Outcome {
  status: number;
  /** The `x-handler` the handler wrote: the handler Express ran, or null. */
  handler: string | null;
}

export interface Violation {
  category: string;
  request: string;
  expected: string;
  actual: string;
  /** What Express does with this URL (the oracle), for the report. */
  context: string;
  case: Case;
}

export interface Stats {
  cases: number;
  requests: number;
  /** Cases where the oracle answered with an error before any handler (400 for `%zz` params). */
  skipped: number;
}

export class Checker {
  private readonly oracleCache = new Map<string, Promise<Outcome>>();
  private readonly preflightsDone = new Set<string>();
  readonly violations: Violation[] = [];
  readonly versions: Array<string | undefined>;

  constructor(
    readonly spec: AppSpec,
    readonly policies: Map<string, Policy>,
    readonly oracleApp: Booted,
    readonly corsApp: Booted,
    readonly stats: Stats,
  ) {
    this.versions = versionsOf(spec);
  }

  private policyOf(handler: string | null): Policy {
    if (handler === null) return FALLBACK_POLICY;
    const policy = this.policies.get(handler);
    if (policy === undefined) throw new Error(`test harness: unknown handler ${handler}`);
    return policy;
  }

  private baseHeaders(c: { host?: string; version?: string }): Record<string, string> {
    const headers: Record<string, string> = {};
    if (c.host !== undefined) headers.host = c.host;
    if (c.version !== undefined) {
      if (this.spec.versioning === 'header') headers[VERSION_HEADER] = c.version;
      if (this.spec.versioning === 'media') headers.accept = `application/json;v=${c.version}`;
    }
    return headers;
  }

  private async request(
    target: Booted,
    method: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<Reply> {
    this.stats.requests++;
    return send(target, method, path, headers);
  }

  /** What plain Nest on Express does with this request (no module, no `Origin`). */
  oracle(c: Case): Promise<Outcome> {
    const key = `${c.method} ${c.path} ${c.host ?? ''} ${c.version ?? ''}`;
    let outcome = this.oracleCache.get(key);
    if (outcome === undefined) {
      outcome = this.request(this.oracleApp, c.method, c.path, this.baseHeaders(c)).then((r) => {
        if (r.error !== undefined)
          throw new Error(`test harness: the oracle app failed: ${r.error}`);
        return { status: r.status, handler: handlerOf(r) };
      });
      this.oracleCache.set(key, outcome);
    }
    return outcome;
  }

  /** Handlers of routes whose path matches (any method, host or version), same method first. */
  private competitors(path: string, method: string): string[] {
    const pathname = pathnameOf(path);
    const same: string[] = [];
    const other: string[] = [];
    for (const layer of this.oracleApp.layers) {
      if (!matchesPath(layer, pathname)) continue;
      // `app.all()` lists every method on its route.
      const serves =
        layer.methods.includes(method) || (method === 'HEAD' && layer.methods.includes('GET'));
      (serves ? same : other).push(...layer.ids);
    }
    return [...new Set([...same, ...other])];
  }

  private competitorOrigins(path: string, method: string, exclude: Set<string>, max: number) {
    const out: string[] = [];
    for (const id of this.competitors(path, method)) {
      const origin = this.policyOf(id).origin;
      if (origin === null || exclude.has(origin) || out.includes(origin)) continue;
      out.push(origin);
      if (out.length >= max) break;
    }
    return out;
  }

  private describeHandler(handler: string | null): string {
    if (handler === null) return 'no handler (module defaults, origin https://fallback.test)';
    const p = this.policyOf(handler);
    if (p.origin === null) return `${handler} (@Cors(false))`;
    const extra = [p.credentials ? 'credentials' : '', p.enforce ? 'enforce' : '']
      .filter(Boolean)
      .join(', ');
    return `${handler} (origin ${p.origin}${extra ? `, ${extra}` : ''})`;
  }

  private add(v: Omit<Violation, 'case'>, c: Case): void {
    this.violations.push({ ...v, case: c });
  }

  /** Every check for one (method, path, host, version). */
  async check(c: Case): Promise<void> {
    this.stats.cases++;
    await this.checkActual(c);
    await this.checkPreflight(c);
  }

  /** Rule 4 and 11 with rule 10: the actual request gets the policy of the handler that runs. */
  async checkActual(c: Case): Promise<void> {
    const o = await this.oracle(c);
    const base = this.baseHeaders(c);
    const describe = (origin?: string) =>
      `${c.method} ${c.path}${headerText({ ...base, ...(origin ? { origin } : {}) })}`;
    const context = `Express runs ${this.describeHandler(o.handler)}, status ${o.status}`;

    const plain = await this.request(this.corsApp, c.method, c.path, base);
    if (plain.error !== undefined || plain.status !== o.status || handlerOf(plain) !== o.handler) {
      this.add(
        {
          category: 'actual, no Origin: the module changed what runs',
          request: describe(),
          expected: `status ${o.status}, x-handler ${o.handler ?? '(none)'}`,
          actual: summary(plain),
          context,
        },
        c,
      );
    }
    if (o.handler === null && o.status !== 404) {
      this.stats.skipped++;
      return;
    }
    const policy = this.policyOf(o.handler);
    const origins = [NOBODY, FALLBACK];
    if (policy.origin !== null && !origins.includes(policy.origin)) origins.unshift(policy.origin);
    origins.push(...this.competitorOrigins(c.path, c.method, new Set(origins), 2));

    for (const origin of origins) {
      const r = await this.request(this.corsApp, c.method, c.path, { ...base, origin });
      const fail = (category: string, expected: string) =>
        this.add({ category, request: describe(origin), expected, actual: summary(r), context }, c);
      if (r.error !== undefined) {
        fail('actual: no answer', `status ${o.status}`);
        continue;
      }
      const acao = r.headers[ACAO];
      const tag = o.handler === null ? 'actual (no route)' : 'actual';
      if (policy.origin === null) {
        if (acao !== undefined) fail(`${tag}: CORS headers on a @Cors(false) route`, 'no ACAO');
        if (r.status !== o.status || handlerOf(r) !== o.handler) {
          fail(`${tag}: the module changed what runs`, `${o.status}, x-handler ${o.handler}`);
        }
        continue;
      }
      if (origin === policy.origin) {
        if (acao !== origin)
          fail(`${tag}: the running handler's origin is refused`, `ACAO ${origin}`);
        else if ((r.headers[ACAC] === 'true') !== policy.credentials) {
          fail(
            `${tag}: Access-Control-Allow-Credentials is not the running handler's`,
            policy.credentials ? 'ACAC true' : 'no ACAC',
          );
        }
        if (r.status !== o.status || handlerOf(r) !== o.handler) {
          fail(
            `${tag}: an allowed request does not run what Express runs`,
            `status ${o.status}, x-handler ${o.handler ?? '(none)'}`,
          );
        }
        continue;
      }
      const ac = accessControl(r);
      if (ac.length > 0) {
        fail(
          `${tag}: another route's origin is allowed`,
          'no Access-Control-* header (the origin is not the running handler policy)',
        );
      }
      if (policy.enforce) {
        if (r.status !== 403 || handlerOf(r) !== null) {
          fail(
            `${tag}: enforce of the running handler is not applied`,
            '403 before the handler (no x-handler)',
          );
        }
      } else if (r.status !== o.status || handlerOf(r) !== o.handler) {
        fail(
          `${tag}: a refused request does not run what Express runs`,
          `status ${o.status}, x-handler ${o.handler ?? '(none)'} (the policy does not enforce)`,
        );
      }
    }
  }

  /**
   * Rules 1, 5, 6, 10 and 11 for the preflight of `c.method` at `c.path` (host included; the
   * version is not carried by a preflight: every version is a candidate).
   */
  async checkPreflight(c: Case): Promise<void> {
    const key = `${c.method} ${c.path} ${c.host ?? ''}`;
    if (this.preflightsDone.has(key)) return;
    this.preflightsDone.add(key);
    const verdict = await this.candidates(c.method, c.path, c.host);
    if (verdict === undefined) {
      this.stats.skipped++;
      return;
    }
    const { handlers, policies } = verdict;
    const anyOff = policies.some((p) => p.origin === null);
    const allOff = policies.every((p) => p.origin === null);
    const origins = new Set(policies.map((p) => p.origin).filter((o) => o !== null));
    const approvedOrigin = !anyOff && origins.size === 1 ? [...origins][0] : null;
    const noRoute = handlers.length === 0;
    // Routes whose path matches, for any method, host or version (a base-class handler names
    // every subclass: a superset).
    const atPath = noRoute ? this.competitors(c.path, c.method) : [];
    // No handler for this method (or host, or version) although routes match the path: rule 11
    // (module defaults) or rule 5 (the method is not served here, 403) — both are accepted for
    // the defaults' origin. With a route whose CORS is off there, rule 6 (not answered) too.
    const pathServed = atPath.length > 0;
    const offAtPath = atPath.some((id) => this.policyOf(id).origin === null);
    const probe = [...origins, NOBODY, FALLBACK];
    probe.push(...this.competitorOrigins(c.path, c.method, new Set(probe), 3));
    const context =
      `Express runs for ${c.method}: ` +
      (noRoute
        ? `no handler (404)${pathServed ? `; routes at this path: ${atPath.join(', ')}` : ''}`
        : handlers.map((h) => this.describeHandler(h)).join(' | ') +
          (handlers.length > 1 ? ' (depending on the version the preflight does not carry)' : ''));
    const tag = !noRoute
      ? handlers.length > 1
        ? 'preflight (versions)'
        : 'preflight'
      : pathServed
        ? 'preflight (method not served there)'
        : 'preflight (no route)';
    const headersFor = (origin: string): Record<string, string> => ({
      ...(c.host !== undefined ? { host: c.host } : {}),
      origin,
      'access-control-request-method': c.method,
      ...(this.spec.versioning === 'header'
        ? { 'access-control-request-headers': VERSION_HEADER }
        : {}),
    });
    const defaultsAllow = (origin: string) =>
      origin === FALLBACK && DEFAULT_METHODS.includes(c.method);

    for (const origin of new Set(probe)) {
      let want: 'approve' | 'deny' | 'approve-or-deny' | 'not-approved' | 'any';
      if (allOff || anyOff) want = 'not-approved';
      else if (!noRoute) want = origin === approvedOrigin ? 'approve' : 'deny';
      else if (!pathServed) want = defaultsAllow(origin) ? 'approve' : 'deny';
      else if (offAtPath) want = origin === FALLBACK ? 'any' : 'not-approved';
      else want = defaultsAllow(origin) ? 'approve-or-deny' : 'deny';
      if (want === 'any') continue;

      const headers = headersFor(origin);
      const r = await this.request(this.corsApp, 'OPTIONS', c.path, headers);
      const request = `OPTIONS ${c.path}${headerText(headers)}`;
      const fail = (category: string, expected: string) =>
        this.add({ category, request, expected, actual: summary(r), context }, c);
      if (r.error !== undefined) {
        fail('preflight: no answer', 'an answer');
        continue;
      }
      const answered = r.status >= 200 && r.status < 300 && r.headers[ACAO] !== undefined;
      if (want === 'not-approved') {
        if (!answered) continue;
        if (allOff) {
          fail(
            `${tag}: 2xx with ACAO although the handler for the method has CORS off` +
              (handlerOf(r) !== null ? ' (and a handler ran for the preflight)' : ''),
            'not answered by the module, or denied (never 2xx with ACAO)',
          );
        } else if (anyOff) {
          fail(`${tag}: approved although a candidate handler has CORS off`, 'not approved');
        } else {
          fail(`${tag}: approved for an origin no handler here allows`, 'not approved');
        }
        continue;
      }
      if (want === 'approve' || (want === 'approve-or-deny' && answered)) {
        await this.expectApproved(c, origin, r, policies[0], { tag, request, context });
        continue;
      }
      if (r.status !== 403 || accessControl(r).length > 0 || handlerOf(r) !== null) {
        fail(
          `${tag}: ${answered && r.headers[ACAO] === origin ? 'approved' : 'not a clean 403'} for an origin the running handler refuses`,
          '403, no Access-Control-* header, no handler',
        );
      }
    }
  }

  /** An approved preflight: the handler's origin and credentials, no handler ran, honest ACAM. */
  private async expectApproved(
    c: Case,
    origin: string,
    r: Reply,
    policy: Policy,
    where: { tag: string; request: string; context: string },
  ): Promise<void> {
    const { tag, request, context } = where;
    const fail = (category: string, expected: string) =>
      this.add({ category, request, expected, actual: summary(r), context }, c);
    if (r.status < 200 || r.status >= 300 || r.headers[ACAO] !== origin) {
      fail(
        `${tag}: refused for the origin of the handler that will run`,
        `2xx with ACAO ${origin}`,
      );
      return;
    }
    if ((r.headers[ACAC] === 'true') !== policy.credentials) {
      fail(
        `${tag}: Access-Control-Allow-Credentials is not the running handler's`,
        policy.credentials ? 'ACAC true' : 'no ACAC',
      );
    }
    if (handlerOf(r) !== null) fail(`${tag}: a handler ran for the preflight`, 'no handler');
    const listed = listOf(r.headers[ACAM]);
    if (!SAFELISTED.has(c.method) && !listed.includes(c.method) && !listed.includes('*')) {
      fail(`${tag}: Access-Control-Allow-Methods lacks the requested method`, c.method);
    }
    await this.checkAllowMethods(c, origin, listed, request, r);
  }

  /** (c): every method listed in ACAM is served here by handlers that all allow `origin`. */
  private async checkAllowMethods(
    c: Case,
    origin: string,
    listed: string[],
    request: string,
    r: Reply,
  ): Promise<void> {
    const methods = listed.includes('*') ? METHOD_POOL : listed;
    for (const method of methods) {
      if (method === c.method) continue;
      const verdict = await this.candidates(method, c.path, c.host);
      if (verdict === undefined) continue;
      const refusing = verdict.policies.filter((p) => p.origin !== origin);
      if (refusing.length === 0) continue;
      const runs =
        verdict.handlers.length === 0
          ? 'no handler (module defaults)'
          : verdict.handlers.map((h) => this.describeHandler(h)).join(' | ');
      this.add(
        {
          category:
            'preflight: Access-Control-Allow-Methods lists a method whose handler refuses the origin' +
            (SAFELISTED.has(method) ? ' (a safelisted one: no effect in a browser)' : ''),
          request,
          expected: `no ${method} in ACAM: for ${method} Express runs ${runs}`,
          actual: summary(r),
          context: `${origin} asked for ${c.method}`,
        },
        c,
      );
    }
  }

  /**
   * The handlers that may run for (method, path, host) over every version value, and their
   * policies (module defaults when none does); undefined when Express fails the request before
   * any handler (a malformed parameter: 400).
   */
  private async candidates(
    method: string,
    path: string,
    host: string | undefined,
  ): Promise<{ handlers: string[]; policies: Policy[] } | undefined> {
    const outcomes = await Promise.all(
      this.versions.map((version) => this.oracle({ method, path, host, version })),
    );
    if (outcomes.some((o) => o.handler === null && o.status !== 404)) return undefined;
    const handlers = [...new Set(outcomes.map((o) => o.handler).filter((h) => h !== null))];
    const policies =
      handlers.length === 0 ? [FALLBACK_POLICY] : handlers.map((h) => this.policyOf(h));
    return { handlers, policies };
  }
}

// ----- small helpers ---------------------------------------------------------------------------------

function handlerOf(r: Reply): string | null {
  const value = r.headers[X_HANDLER];
  return typeof value === 'string' ? value : null;
}

function accessControl(r: Reply): string[] {
  return Object.keys(r.headers).filter((name) => name.startsWith('access-control-'));
}

export function listOf(value: unknown): string[] {
  if (value === undefined) return [];
  return String(value)
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function matchesPath(layer: RouteLayer, pathname: string): boolean {
  try {
    return Boolean(layer.match(pathname));
  } catch {
    return true; // a malformed parameter: the path matched all the same
  }
}

function pathnameOf(path: string): string {
  let p = path;
  if (/^https?:\/\//.test(p)) {
    const slash = p.indexOf('/', p.indexOf('//') + 2);
    p = slash === -1 ? '/' : p.slice(slash);
  }
  const query = p.indexOf('?');
  return query === -1 ? p : p.slice(0, query);
}

function headerText(headers: Record<string, string>): string {
  const entries = Object.entries(headers);
  return entries.length === 0 ? '' : ` [${entries.map(([k, v]) => `${k}: ${v}`).join(', ')}]`;
}

function summary(r: Reply): string {
  if (r.error !== undefined) return `error: ${r.error}`;
  const ac = Object.entries(r.headers)
    .filter(([k]) => k.startsWith('access-control-'))
    .map(([k, v]) => `${k.replace('access-control-', 'AC-')}: ${String(v)}`);
  return [`${r.status}`, `x-handler ${handlerOf(r) ?? '(none)'}`, ...ac].join(', ');
}

// ----- describing a route set ----------------------------------------------------------------------

function corsText(cors: CorsSpec): string {
  if (cors.kind === 'default') return '';
  if (cors.kind === 'off') return '@Cors(false) ';
  const opts = [`origin: ['${originOf(cors.n)}']`];
  if (cors.credentials) opts.push('credentials: true');
  if (cors.enforce) opts.push('enforce: true');
  return `@Cors({ ${opts.join(', ')} }) `;
}

const listText = (paths: string[]) =>
  paths.length === 1 ? `'${paths[0]}'` : `[${paths.map((p) => `'${p}'`).join(', ')}]`;

function controllerText(paths: string[], host?: string, version?: string): string {
  if (host === undefined && version === undefined) return `@Controller(${listText(paths)})`;
  const opts = [`path: ${listText(paths)}`];
  if (host !== undefined) opts.push(`host: '${host}'`);
  if (version !== undefined)
    opts.push(`version: ${version === NEUTRAL ? 'VERSION_NEUTRAL' : `'${version}'`}`);
  return `@Controller({ ${opts.join(', ')} })`;
}

function routeText(r: RouteSpec, j: number): string {
  const verb = r.verb[0] + r.verb.slice(1).toLowerCase();
  const version =
    r.version === undefined
      ? ''
      : `@Version(${r.version.length === 1 ? `'${r.version[0]}'` : `[${r.version.map((v) => `'${v}'`).join(', ')}]`}) `;
  return `    @${verb}(${listText(r.paths)}) ${version}${corsText(r.cors)}m${j}()`;
}

/** The route set as the decorators a user would write, plus the app settings. */
export function describeSpec(spec: AppSpec): string {
  const lines: string[] = [];
  const settings = [
    "CorsModule.forRoot({ origin: 'https://fallback.test' })",
    spec.prefix
      ? `setGlobalPrefix('api', { exclude: ${JSON.stringify(spec.prefix.exclude)} })`
      : '',
    spec.versioning === 'none'
      ? ''
      : `enableVersioning({ type: ${
          {
            uri: 'URI',
            header: `HEADER, header: '${VERSION_HEADER}'`,
            media: "MEDIA_TYPE, key: 'v='",
          }[spec.versioning]
        }${spec.defaultVersion ? `, defaultVersion: '${spec.defaultVersion}'` : ''} })`,
    spec.strict ? "set('strict routing', true)" : '',
    spec.caseSensitive ? "set('case sensitive routing', true)" : '',
    spec.specificity ? "routeResolutionStrategy: 'specificity'" : '',
  ].filter(Boolean);
  lines.push(`  ${settings.join('; ')}`);
  for (const c of spec.controllers) {
    if (c.kind === 'plain') {
      lines.push(`  ${controllerText(c.paths, c.host, c.version)} class C${c.n} {`);
      c.routes.forEach((r, j) => lines.push(routeText(r, j)));
      lines.push('  }');
    } else {
      lines.push(`  class B${c.n} {`);
      c.routes.forEach((r, j) => lines.push(routeText(r, j)));
      lines.push('  }');
      c.subs.forEach((s, k) =>
        lines.push(
          `  ${controllerText(s.paths, s.host, s.version)} ${corsText(s.cors)}class S${c.n}x${k} extends B${c.n} {}`,
        ),
      );
    }
  }
  return lines.join('\n');
}

export function routeCount(spec: AppSpec): number {
  return spec.controllers.reduce(
    (n, c) => n + (c.kind === 'plain' ? c.routes.length : c.routes.length * c.subs.length),
    0,
  );
}

// ----- one run, and the reducer ------------------------------------------------------------------------

/** Boots the oracle app and the CORS app for `spec`, runs `work`, closes both. */
export async function withApps<T>(
  spec: AppSpec,
  stats: Stats,
  work: (checker: Checker, oracleApp: Booted) => Promise<T>,
): Promise<T> {
  let oracleApp: Booted | undefined;
  let corsApp: Booted | undefined;
  try {
    // The oracle first: the module's boot must not influence it.
    oracleApp = await boot(spec, false);
    corsApp = await boot(spec, true);
    const checker = new Checker(spec, policiesOf(spec), oracleApp, corsApp, stats);
    return await work(checker, oracleApp);
  } finally {
    await shutdown(corsApp);
    await shutdown(oracleApp);
  }
}

/** Runs `fn` over `items` with at most `width` at a time. */
export async function inPool<T>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** One-step smaller route sets: fewer controllers, routes, subclasses, paths or settings. */
function smaller(spec: AppSpec): AppSpec[] {
  const out = smallerControllers(spec);
  if (spec.prefix !== undefined) out.push({ ...spec, prefix: undefined });
  if (spec.specificity) out.push({ ...spec, specificity: false });
  if (spec.strict) out.push({ ...spec, strict: false });
  if (spec.caseSensitive) out.push({ ...spec, caseSensitive: false });
  if (spec.defaultVersion !== undefined) out.push({ ...spec, defaultVersion: undefined });
  return out;
}

/** The route sets one step smaller in their controllers: a controller, a route, a detail less. */
export function smallerControllers<S extends AppSpec>(spec: S): S[] {
  const out: S[] = [];
  const withControllers = (controllers: AppSpec['controllers']) => ({ ...spec, controllers });
  spec.controllers.forEach((c, i) => {
    const replace = (next: PlainSpec | FamilySpec) =>
      withControllers(spec.controllers.map((x, k) => (k === i ? next : x)));
    if (spec.controllers.length > 1) {
      out.push(withControllers(spec.controllers.filter((_, k) => k !== i)));
    }
    if (c.kind === 'family') {
      if (c.subs.length > 1) {
        c.subs.forEach((_, k) =>
          out.push(replace({ ...c, subs: c.subs.filter((_s, x) => x !== k) })),
        );
      }
    }
    if (c.routes.length > 1) {
      // The handlers after it are renamed (m<j>); identities are recomputed from the reduced set.
      c.routes.forEach((_, j) => {
        const routes = c.routes.filter((_r, x) => x !== j);
        out.push(replace({ ...c, routes } as PlainSpec | FamilySpec));
      });
    }
    c.routes.forEach((r, j) => {
      const set = (route: RouteSpec) =>
        replace({ ...c, routes: c.routes.map((x, k) => (k === j ? route : x)) } as
          PlainSpec | FamilySpec);
      if (r.paths.length > 1) r.paths.forEach((p) => out.push(set({ ...r, paths: [p] })));
      if (r.version !== undefined) out.push(set({ ...r, version: undefined }));
      if (r.cors.credentials) out.push(set({ ...r, cors: { ...r.cors, credentials: false } }));
      if (r.cors.enforce) out.push(set({ ...r, cors: { ...r.cors, enforce: false } }));
    });
    if (c.kind === 'plain') {
      if (c.paths.length > 1) c.paths.forEach((p) => out.push(replace({ ...c, paths: [p] })));
      if (c.host !== undefined) out.push(replace({ ...c, host: undefined }));
      if (c.version !== undefined) out.push(replace({ ...c, version: undefined }));
    }
  });
  return out;
}

/**
 * Greedy reduction of a failing route set: drops whatever it can while the same request still
 * shows a violation of the same category. Bounded by `budgetMs`.
 */
export function reduce(
  spec: AppSpec,
  violation: Violation,
  budgetMs: number,
): Promise<{ spec: AppSpec; violation: Violation }> {
  return reduceWith(spec, violation, budgetMs, smaller, reproduce);
}

/** `reduce`, with the steps (`smaller`) and the check (`reproduce`) of an oracle of its own. */
export async function reduceWith<S>(
  spec: S,
  violation: Violation,
  budgetMs: number,
  smaller: (spec: S) => S[],
  reproduce: (spec: S, c: Case, category: string) => Promise<Violation | undefined>,
): Promise<{ spec: S; violation: Violation }> {
  const deadline = Date.now() + budgetMs;
  let current = { spec, violation };
  let progress = true;
  while (progress && Date.now() < deadline) {
    progress = false;
    for (const candidate of smaller(current.spec)) {
      if (Date.now() >= deadline) break;
      const found = await reproduce(candidate, violation.case, violation.category);
      if (found !== undefined) {
        current = { spec: candidate, violation: found };
        progress = true;
        break;
      }
    }
  }
  return current;
}

/** Runs the checks of one case on `spec`; the violation of `category` it shows, if any. */
export async function reproduce(
  spec: AppSpec,
  c: Case,
  category: string,
): Promise<Violation | undefined> {
  const stats: Stats = { cases: 0, requests: 0, skipped: 0 };
  try {
    return await withApps(spec, stats, async (checker) => {
      await checker.check(c);
      return checker.violations.find((v) => v.category === category);
    });
  } catch {
    return undefined; // a reduced set that does not boot shows nothing
  }
}
