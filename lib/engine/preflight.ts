/**
 * The one preflight decision (cors-rules §2 items 5, 10): used by the middleware for Nest routes,
 * by paths no route serves, and by `PreflightPolicy.decide()` alike. It sees routes only through
 * `PreflightRoute`: which policies decide the real request, and which methods an answer may list.
 */
import { CorsDenial, type OriginVerdict } from './origin-rule.js';
import { isForbiddenMethod, isToken } from './tokens.js';
import { appendVary, type HeaderTarget } from './vary.js';

/** The `cors` package's default methods: what a policy without `methods` allows off any route. */
export const DEFAULT_METHODS: readonly string[] = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'];

/** No real method is longer; a longer Access-Control-Request-Method is refused, never echoed. */
const MAX_METHOD_LENGTH = 64;

/**
 * What the preflight decision reads of a policy: a compiled `CorsPolicy` is one. The decision
 * depends on this, not on the class, so the engine has no import cycle.
 */
export interface PreflightPolicy {
  readonly credentials: boolean;
  /** null: the route's methods; '*': any (echoed); else the exact set. */
  readonly methods: ReadonlySet<string> | '*' | null;
  /** null: any header (echoed); else the allowed lowercase names. */
  readonly allowedHeaders: ReadonlySet<string> | null;
  readonly preflightContinue: boolean;
  readonly successStatus: number;
  readonly privateNetwork: boolean;
  readonly maxAgeHeader: string | undefined;
  readonly cacheControlHeader: string | undefined;
  readonly varyOrigin: boolean;
  readonly originMode: string;
  checkOrigin(origin: string | undefined, request?: object): OriginVerdict | Promise<OriginVerdict>;
  sharesOrigins(other: PreflightPolicy): boolean;
  checkPreflight(method: string, headers: string | undefined): string | CorsDenial;
  allowsHeaders(list: string): boolean;
  allowsMethod(method: string): boolean;
}

/** A method the URL serves, with the one policy that decides requests of that method. */
export interface MethodPolicy {
  readonly method: string;
  readonly policy: PreflightPolicy;
}

/** Where a preflight goes, as far as CORS is concerned. Built by `makePreflightRoute()`. */
export interface PreflightRoute {
  /**
   * The policies of every handler that may serve the real request, in router order: usually
   * one; several when the router's choice depends on what a preflight does not carry (a version
   * header). Every one must approve, and the answer is what all of them accept.
   */
  readonly policies: readonly PreflightPolicy[];
  /**
   * Methods this URL serves that an answer may list besides the requested one, each with the
   * policy that decides it. The browser caches one answer for every method it lists, so a method
   * is listed only if its policy accepts that answer.
   */
  readonly methods: readonly MethodPolicy[];
  /** True off any route: a policy without `methods` then allows the `cors` default list only. */
  readonly defaultMethods: boolean;
  /** Decided once: `Vary` of every answer, and the listed methods decided by the first policy. */
  readonly vary: string;
  readonly ownMethods: string;
  readonly onlyOwnMethods: boolean;
  /** With several policies: what every one of them accepts, decided once. */
  readonly shared: SharedAnswer;
}

/** The parts of an answer that several policies must all accept. */
interface SharedAnswer {
  readonly handOn: boolean;
  readonly credentials: boolean;
  /** The shortest max-age; absent if any policy sends none (the browser's 5 s then applies). */
  readonly maxAge: string | undefined;
  readonly cacheControl: string | undefined;
  readonly privateNetwork: boolean;
}

/** A `PreflightRoute`, with what every answer through it shares computed once. */
export function makePreflightRoute(
  policies: readonly PreflightPolicy[],
  methods: readonly MethodPolicy[],
  defaultMethods: boolean,
): PreflightRoute {
  const own = methods.filter((m) => m.policy === policies[0]).map((m) => m.method);
  return {
    policies,
    methods,
    defaultMethods,
    vary: varyOf(policies),
    ownMethods: own.join(', '),
    onlyOwnMethods: own.length === methods.length,
    shared: sharedAnswer(policies),
  };
}

function sharedAnswer(policies: readonly PreflightPolicy[]): SharedAnswer {
  const first = policies[0];
  const maxAges = policies.map((p) => p.maxAgeHeader);
  return {
    handOn: policies.every((p) => p.preflightContinue),
    credentials: policies.every((p) => p.credentials),
    maxAge: maxAges.includes(undefined)
      ? undefined
      : String(Math.min(...maxAges.map((m) => Number(m)))),
    cacheControl: policies.every((p) => p.cacheControlHeader === first?.cacheControlHeader)
      ? first?.cacheControlHeader
      : undefined,
    privateNetwork: policies.every((p) => p.privateNetwork),
  };
}

/** The preflight's own headers (lowercase names, as Node gives them). */
export interface PreflightRequest {
  readonly origin: string;
  /** `Access-Control-Request-Method`. */
  readonly method: string;
  /** `Access-Control-Request-Headers`, several lines joined with ','. */
  readonly headers: string | undefined;
  /** `Access-Control-Request-Private-Network: true`. */
  readonly privateNetwork: boolean;
  /** The request itself, for origin functions. */
  readonly request?: object;
}

export interface PreflightAllowed {
  readonly allowed: true;
  readonly status: number;
  /** Hand the preflight on to the app's own OPTIONS route after the headers are set. */
  readonly handOn: boolean;
  readonly allowOrigin: string;
  readonly credentials: boolean;
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly maxAge: string | undefined;
  readonly cacheControl: string | undefined;
  readonly privateNetwork: boolean;
  readonly vary: string;
}

export interface PreflightDenied {
  readonly allowed: false;
  readonly reason: string;
  /** Index in `PreflightRoute.policies` of the policy that refused (-1: none applies). */
  readonly refusedBy: number;
  readonly vary: string;
}

export type PreflightAnswer = PreflightAllowed | PreflightDenied;

const VARY_DYNAMIC = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
const VARY_STATIC = 'Access-Control-Request-Method, Access-Control-Request-Headers';

/** Decides a preflight: synchronous unless an origin function answers asynchronously. */
export function decidePreflight(
  req: PreflightRequest,
  route: PreflightRoute,
): PreflightAnswer | Promise<PreflightAnswer> {
  const invalid = checkRequestMethod(req.method);
  if (invalid !== undefined) return denied(route, invalid, -1);
  if (route.policies.length === 1) {
    // The usual case, without the arrays of the general one.
    const verdict = route.policies[0].checkOrigin(req.origin, req.request);
    if (typeof verdict === 'string' || verdict instanceof CorsDenial) {
      return answerOne(req, route, verdict);
    }
    return verdict.then((settled) => answerOne(req, route, settled));
  }
  const verdicts = originVerdicts(req, route.policies);
  if (!Array.isArray(verdicts)) return verdicts.then((settled) => answer(req, route, settled));
  return answer(req, route, verdicts);
}

/** Writes a preflight answer's headers (status and body are the caller's). */
export function writePreflightHeaders(res: HeaderTarget, a: PreflightAnswer): void {
  if (a.allowed) {
    res.setHeader('Access-Control-Allow-Origin', a.allowOrigin);
    if (a.credentials) res.setHeader('Access-Control-Allow-Credentials', 'true');
    if (a.allowMethods.length > 0) res.setHeader('Access-Control-Allow-Methods', a.allowMethods);
    if (a.allowHeaders.length > 0) res.setHeader('Access-Control-Allow-Headers', a.allowHeaders);
    if (a.maxAge !== undefined) res.setHeader('Access-Control-Max-Age', a.maxAge);
    if (a.cacheControl !== undefined) res.setHeader('Cache-Control', a.cacheControl);
    if (a.privateNetwork) res.setHeader('Access-Control-Allow-Private-Network', 'true');
  }
  appendVary(res, a.vary);
}

function checkRequestMethod(method: string): string | undefined {
  if (method.length > MAX_METHOD_LENGTH || !isToken(method)) {
    return 'Access-Control-Request-Method is not a valid method';
  }
  if (isForbiddenMethod(method)) return `method ${method} is forbidden by the Fetch Standard`;
  return undefined;
}

/** One verdict per policy; an origin rule shared by several policies is asked once. */
function originVerdicts(
  req: PreflightRequest,
  policies: readonly PreflightPolicy[],
): OriginVerdict[] | Promise<OriginVerdict[]> {
  const verdicts: Array<OriginVerdict | Promise<OriginVerdict>> = [];
  let pending = false;
  for (let i = 0; i < policies.length; i++) {
    const shared = policies.findIndex((p, j) => j < i && p.sharesOrigins(policies[i]));
    const verdict =
      shared === -1 ? policies[i].checkOrigin(req.origin, req.request) : verdicts[shared];
    if (typeof verdict !== 'string' && !(verdict instanceof CorsDenial)) pending = true;
    verdicts.push(verdict);
  }
  return pending ? Promise.all(verdicts) : (verdicts as OriginVerdict[]);
}

function answer(
  req: PreflightRequest,
  route: PreflightRoute,
  verdicts: readonly OriginVerdict[],
): PreflightAnswer {
  const { policies } = route;
  let allowHeaders: string | undefined;
  let sameHeaders = true;
  for (let i = 0; i < policies.length; i++) {
    const headers = check(req, route, policies[i], verdicts[i], i);
    if (typeof headers !== 'string') return headers;
    if (allowHeaders !== undefined && headers !== allowHeaders) sameHeaders = false;
    allowHeaders ??= headers;
  }
  return allowedByAll(req, route, verdicts as string[], sameHeaders ? allowHeaders : undefined);
}

function answerOne(
  req: PreflightRequest,
  route: PreflightRoute,
  verdict: OriginVerdict,
): PreflightAnswer {
  const policy = route.policies[0];
  const headers = check(req, route, policy, verdict, 0);
  if (typeof headers !== 'string') return headers;
  return allowedBy(req, route, policy, verdict as string, headers);
}

/** One policy's verdict on the preflight: the `Access-Control-Allow-Headers` value, or a denial. */
function check(
  req: PreflightRequest,
  route: PreflightRoute,
  policy: PreflightPolicy,
  verdict: OriginVerdict,
  index: number,
): string | PreflightDenied {
  if (typeof verdict !== 'string') return denied(route, verdict.reason, index);
  if (route.defaultMethods && policy.methods === null && !DEFAULT_METHODS.includes(req.method)) {
    return denied(route, `method ${req.method} is not allowed by default`, index);
  }
  const headers = policy.checkPreflight(req.method, req.headers);
  return typeof headers === 'string' ? headers : denied(route, headers.reason, index);
}

function allowedBy(
  req: PreflightRequest,
  route: PreflightRoute,
  policy: PreflightPolicy,
  allowOrigin: string,
  allowHeaders: string,
): PreflightAllowed {
  return {
    allowed: true,
    status: policy.successStatus,
    handOn: policy.preflightContinue,
    allowOrigin,
    credentials: policy.credentials,
    allowMethods: allowMethods(req, route, policy, allowHeaders),
    allowHeaders,
    maxAge: policy.maxAgeHeader,
    cacheControl: policy.cacheControlHeader,
    privateNetwork: policy.privateNetwork && req.privateNetwork,
    vary: route.vary,
  };
}

/**
 * Several handlers may serve the real request: the answer is what every one of them accepts,
 * for the requested method only (credentials only if all send them, the shortest max-age).
 */
function allowedByAll(
  req: PreflightRequest,
  route: PreflightRoute,
  verdicts: readonly string[],
  commonHeaders: string | undefined,
): PreflightAllowed {
  const { shared } = route;
  return {
    allowed: true,
    status: route.policies[0].successStatus,
    handOn: shared.handOn,
    allowOrigin: verdicts.every((v) => v === '*') ? '*' : req.origin,
    credentials: shared.credentials,
    allowMethods: req.method,
    // Each policy accepted the requested list: echo it when their own answers differ.
    allowHeaders: commonHeaders ?? normalizedList(req.headers),
    maxAge: shared.maxAge,
    cacheControl: shared.cacheControl,
    privateNetwork: req.privateNetwork && shared.privateNetwork,
    vary: route.vary,
  };
}

/**
 * `Access-Control-Allow-Methods`: the requested method, plus the URL's other methods whose policy
 * accepts what the browser caches from this answer for them: the origin, the credentials mode and
 * every allowed header (Chromium reuses one answer, with its headers and max-age, per URL).
 */
function allowMethods(
  req: PreflightRequest,
  route: PreflightRoute,
  policy: PreflightPolicy,
  allowHeaders: string,
): string {
  if (policy.methods === '*') return req.method;
  if (route.onlyOwnMethods && policy === route.policies[0]) {
    // Every listed method is this policy's own: nothing to check per request.
    const own = route.ownMethods;
    if (own.length === 0) return req.method;
    return isListed(own, req.method) ? own : `${req.method}, ${own}`;
  }
  let value = '';
  let listed = false;
  for (const { method, policy: other } of route.methods) {
    if (method === req.method) listed = true;
    else if (!accepts(other, policy, req, allowHeaders)) continue;
    value = value.length === 0 ? method : `${value}, ${method}`;
  }
  if (!listed) value = value.length === 0 ? req.method : `${req.method}, ${value}`;
  return value;
}

/** Would `other` accept the answer `policy` gives to this preflight, for one of its methods? */
function accepts(
  other: PreflightPolicy,
  policy: PreflightPolicy,
  req: PreflightRequest,
  allowHeaders: string,
): boolean {
  if (other === policy) return true;
  if (policy.credentials && !other.credentials) return false;
  if (!other.sharesOrigins(policy)) {
    // An origin function is never called for another route's sake.
    if (other.originMode === 'function') return false;
    if (typeof other.checkOrigin(req.origin) !== 'string') return false;
  }
  return other.allowedHeaders === null || other.allowsHeaders(allowHeaders);
}

function denied(route: PreflightRoute, reason: string, refusedBy: number): PreflightDenied {
  return { allowed: false, reason, refusedBy, vary: route.vary };
}

/** A refusal decided before any policy is asked (the method is not served at this path). */
export function deniedPreflight(route: PreflightRoute, reason: string): PreflightDenied {
  return denied(route, reason, -1);
}

/**
 * One policy, alone: off any route (`served` undefined: its `methods`, or the `cors` default list,
 * are what is served), or at a route serving `served` (`'ALL'`: any method; then the policy's
 * own `methods`, when set, are what an answer lists).
 */
export function singlePolicyRoute(
  policy: PreflightPolicy,
  served?: readonly string[],
): PreflightRoute {
  const configured = policy.methods instanceof Set ? [...policy.methods] : undefined;
  let listed: readonly string[];
  if (served === undefined) listed = configured ?? DEFAULT_METHODS;
  else if (served.includes('ALL')) listed = configured ?? served.filter((m) => m !== 'ALL');
  else listed = served;
  const methods = listed
    .filter((m) => policy.allowsMethod(m))
    .map((method) => ({ method, policy }));
  return makePreflightRoute([policy], methods, served === undefined);
}

/** Is `method` one of the `, `-joined `list`? */
function isListed(list: string, method: string): boolean {
  let start = 0;
  while (start <= list.length) {
    let end = list.indexOf(', ', start);
    if (end === -1) end = list.length;
    if (end - start === method.length && list.startsWith(method, start)) return true;
    start = end + 2;
  }
  return false;
}

function varyOf(policies: readonly PreflightPolicy[]): string {
  const dynamic = policies.some((p) => p.varyOrigin);
  const vary = dynamic || policies.length === 0 ? VARY_DYNAMIC : VARY_STATIC;
  return policies.some((p) => p.privateNetwork)
    ? `${vary}, Access-Control-Request-Private-Network`
    : vary;
}

function normalizedList(headers: string | undefined): string {
  if (headers === undefined) return '';
  const names = headers
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h.length > 0);
  return [...new Set(names)].sort().join(',');
}
