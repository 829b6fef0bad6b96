/**
 * The framework-free CORS engine: `CorsPolicy.compile(options)` validates and compiles once (throws
 * `CorsConfigError`), then each request is decided with no merging and no scan over origins.
 */
import type { CorsPolicyOptions } from '../interfaces/cors-options.interface.js';
import { CorsConfigError, ProblemList } from './errors.js';
import {
  CorsDenial,
  OriginRule,
  OriginRuleCache,
  type OriginMode,
  type OriginVerdict,
} from './origin-rule.js';
import { checkRequestHeaders, HeaderListDenial } from './request-headers.js';
import {
  isForbiddenMethod,
  isToken,
  normalizeMethod,
  SAFELISTED_RESPONSE_HEADERS,
  splitList,
  describeValue,
} from './tokens.js';
import { appendVary, type HeaderTarget } from './vary.js';

export type { HeaderTarget } from './vary.js';

export { CorsDenial, DENIED, type OriginVerdict } from './origin-rule.js';

/** The outcome of `decide()`: what to send, in one plain object. */
export interface CorsDecision {
  /** `preflight` (OPTIONS + Origin + ACRM), `actual` (any other request with Origin), or `none`. */
  kind: 'preflight' | 'actual' | 'none';
  allowed: boolean;
  /** For a preflight: the status to answer with (the success status, or 403). */
  status?: number;
  /** Headers to set (names as sent), `Vary` excluded. */
  headers: Record<string, string>;
  /** Fields to append to `Vary` (", "-joined), if any. */
  vary?: string;
  /** Why the request was refused. */
  reason?: string;
}

/** What a request looks like to `decide()`: lowercase header names, as Node gives them. */
export interface CorsRequestLike {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

/** No real method is longer; a longer Access-Control-Request-Method is refused, never echoed. */
const MAX_METHOD_LENGTH = 64;
const DEFAULT_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'];
const KNOWN_KEYS = new Set([
  'origin',
  'methods',
  'allowedHeaders',
  'exposedHeaders',
  'credentials',
  'maxAge',
  'preflightContinue',
  'optionsSuccessStatus',
  'enforce',
  'privateNetwork',
  'preflightCacheControl',
]);
const VARY_PREFLIGHT_DYNAMIC =
  'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
const VARY_PREFLIGHT_STATIC = 'Access-Control-Request-Method, Access-Control-Request-Headers';

/** A compiled, immutable CORS policy. */
export class CorsPolicy {
  readonly credentials: boolean = false;
  /** null: every method the route serves; '*': any method (echoed); else the exact set. */
  readonly methods: ReadonlySet<string> | '*' | null = null;
  /** null: any header (the request's list is echoed); else the allowed lowercase names. */
  readonly allowedHeaders: ReadonlySet<string> | null = null;
  readonly enforce: boolean = false;
  readonly preflightContinue: boolean = false;
  readonly successStatus: number = 204;
  readonly privateNetwork: boolean = false;
  /** Swapped whole by `prepareOrigins()`: one reference, so every request sees one list. */
  private origins!: OriginRule;
  private exposeHeaders: string | undefined;
  private allowHeadersValue: string | undefined;
  /** `methods` as configured, joined (or `cors`'s default list when unset). */
  readonly configuredMethods: string | undefined;
  private maxAgeValue: string | undefined;
  private cacheControlValue: string | undefined;

  private constructor() {}

  /** Validates and compiles `options`; throws `CorsConfigError` listing every problem. */
  static compile(options: CorsPolicyOptions = {}, where = 'policy'): CorsPolicy {
    const problems = new ProblemList();
    const policy = CorsPolicy.compileInto(options, where, problems);
    problems.throwIfAny();
    return policy;
  }

  /** Compiles `options`, recording errors and warnings in `problems` instead of throwing. */
  static compileInto(
    options: CorsPolicyOptions,
    where: string,
    problems: ProblemList,
    originRules?: OriginRuleCache,
  ): CorsPolicy {
    const p = new CorsPolicy() as unknown as Internals;
    if (options === null || typeof options !== 'object') {
      problems.error(where, 'CORS options must be an object');
      return p as unknown as CorsPolicy;
    }
    for (const key of Object.keys(options)) {
      if (!KNOWN_KEYS.has(key)) problems.error(where, `unknown option "${key}"`);
    }
    for (const key of ['credentials', 'enforce', 'preflightContinue', 'privateNetwork'] as const) {
      const value = options[key];
      if (value !== undefined && typeof value !== 'boolean') {
        problems.error(where, `${key} must be true or false, got ${describeValue(value)}`);
      }
    }
    p.credentials = options.credentials === true;
    p.enforce = options.enforce === true;
    p.preflightContinue = options.preflightContinue === true;
    p.privateNetwork = options.privateNetwork === true;
    p.origins = originRules
      ? originRules.get(options.origin, p.credentials, () =>
          OriginRule.compile(options.origin, p.credentials, where, problems),
        )
      : OriginRule.compile(options.origin, p.credentials, where, problems);
    compileMethods(p, options, where, problems);
    compileHeaders(p, options, where, problems);
    compilePreflightExtras(p, options, where, problems);
    return p as unknown as CorsPolicy;
  }

  // ----- per request -----------------------------------------------------------------------

  /**
   * The `Access-Control-Allow-Origin` value for `origin`, or why it is refused. Synchronous unless
   * the policy has an origin function that answers asynchronously.
   */
  checkOrigin(
    origin: string | undefined,
    request?: object,
  ): OriginVerdict | Promise<OriginVerdict> {
    return this.origins.check(origin, request);
  }

  /** Do both policies decide origins with the same rule (same configuration, same object)? */
  sharesOrigins(other: CorsPolicy): boolean {
    return this.origins === other.origins;
  }

  /** How origins are decided: `any` ('*'), `list`, `reflect` (true), `function` or `none`. */
  get originMode(): OriginMode {
    return this.origins.mode;
  }

  /** True unless the answer is the same for every origin (`'*'`): then `Vary: Origin` is needed. */
  get varyOrigin(): boolean {
    return this.origins.mode !== 'any';
  }

  /** Canonical configured origins and patterns, for reports. */
  get originList(): readonly string[] {
    return this.origins.list;
  }

  /**
   * Validates a new `origin` value against this policy (credentials included) and returns a
   * commit function that swaps it in; throws `CorsConfigError` and changes nothing if invalid.
   */
  prepareOrigins(
    origin: CorsPolicyOptions['origin'],
    where: string,
    problems: ProblemList,
    originRules: OriginRuleCache = new OriginRuleCache(),
  ): () => void {
    const next = originRules.get(origin, this.credentials, () =>
      OriginRule.compile(origin, this.credentials, where, problems),
    );
    return () => {
      this.origins = next;
    };
  }

  /** Writes the headers of an actual (non-preflight) response for `verdict`. */
  writeActual(res: HeaderTarget, verdict: OriginVerdict): void {
    if (typeof verdict === 'string') {
      res.setHeader('Access-Control-Allow-Origin', verdict);
      if (this.credentials) res.setHeader('Access-Control-Allow-Credentials', 'true');
      if (this.exposeHeaders !== undefined) {
        res.setHeader('Access-Control-Expose-Headers', this.exposeHeaders);
      }
    }
    if (this.varyOrigin) appendVary(res, 'Origin');
  }

  /**
   * Checks a preflight's method and headers against the policy (the origin was allowed; whether
   * the path serves the method is the caller's). Returns the `Access-Control-Allow-Headers`
   * value ('' for none) or a denial.
   */
  checkPreflight(requestMethod: string, requestHeaders: string | undefined): string | CorsDenial {
    if (requestMethod.length > MAX_METHOD_LENGTH || !isToken(requestMethod))
      return new CorsDenial('Access-Control-Request-Method is not a valid method');
    if (isForbiddenMethod(requestMethod)) {
      return new CorsDenial(`method ${requestMethod} is forbidden by the Fetch Standard`);
    }
    if (this.methods !== '*' && this.methods !== null && !this.methods.has(requestMethod)) {
      return new CorsDenial(`method ${requestMethod} is not allowed by the policy`);
    }
    const headers = checkRequestHeaders(requestHeaders, this.allowedHeaders);
    if (headers instanceof HeaderListDenial) return new CorsDenial(headers.reason);
    return this.allowHeadersValue ?? headers;
  }

  /** `Access-Control-Allow-Methods` for `requestMethod` given the served methods ('ALL' = any). */
  private allowMethodsOf(requestMethod: string, served: readonly string[] | undefined): string {
    if (this.methods === '*') return requestMethod;
    // An `@All()` route serves whatever the policy lists.
    if (served === undefined || (served.includes('ALL') && this.methods !== null)) {
      return this.configuredMethods as string;
    }
    const listed = served.filter((m) => m !== 'ALL' && this.allowsMethod(m));
    if (!listed.includes(requestMethod)) listed.push(requestMethod);
    return listed.join(', ');
  }

  /** Would a preflight asking for these headers (a comma-separated list) be allowed? */
  allowsHeaders(list: string): boolean {
    return typeof checkRequestHeaders(list, this.allowedHeaders) === 'string';
  }

  /** Is `method` allowed by the policy's own `methods` (route-independent)? */
  allowsMethod(method: string): boolean {
    return this.methods === null || this.methods === '*' || this.methods.has(method);
  }

  /** Writes a successful preflight's headers (status and body are the caller's). */
  writePreflight(
    res: HeaderTarget,
    allowOrigin: string,
    allowMethods: string,
    allowHeaders: string,
    privateNetworkRequested: boolean,
  ): void {
    res.setHeader('Access-Control-Allow-Origin', allowOrigin);
    if (this.credentials) res.setHeader('Access-Control-Allow-Credentials', 'true');
    if (allowMethods.length > 0) res.setHeader('Access-Control-Allow-Methods', allowMethods);
    if (allowHeaders.length > 0) res.setHeader('Access-Control-Allow-Headers', allowHeaders);
    if (this.maxAgeValue !== undefined) res.setHeader('Access-Control-Max-Age', this.maxAgeValue);
    if (this.cacheControlValue !== undefined)
      res.setHeader('Cache-Control', this.cacheControlValue);
    if (this.privateNetwork && privateNetworkRequested) {
      res.setHeader('Access-Control-Allow-Private-Network', 'true');
    }
    this.writePreflightVary(res);
  }

  /** `Vary` of every preflight answer, allowed or denied (defence against caching intermediaries). */
  writePreflightVary(res: HeaderTarget): void {
    const vary = this.varyOrigin ? VARY_PREFLIGHT_DYNAMIC : VARY_PREFLIGHT_STATIC;
    appendVary(res, this.privateNetwork ? `${vary}, Access-Control-Request-Private-Network` : vary);
  }

  /**
   * The whole decision for one request, as a plain object: for use without Nest. `servedMethods`
   * (optional) narrows `Access-Control-Allow-Methods` to what the target route serves.
   */
  async decide(request: CorsRequestLike, servedMethods?: readonly string[]): Promise<CorsDecision> {
    const origin = single(request.headers['origin']);
    const requestMethod = single(request.headers['access-control-request-method']);
    const recorder = new HeaderRecorder();
    if (request.method === 'OPTIONS' && origin !== undefined && requestMethod !== undefined) {
      const deny = (d: CorsDenial): CorsDecision => {
        const vary = new HeaderRecorder();
        this.writePreflightVary(vary);
        return {
          kind: 'preflight',
          allowed: false,
          status: 403,
          headers: {},
          vary: vary.vary,
          reason: d.reason,
        };
      };
      const verdict = await this.checkOrigin(origin, request);
      if (typeof verdict !== 'string') return deny(verdict);
      const allowHeaders = this.checkPreflight(
        requestMethod,
        headerList(request.headers['access-control-request-headers']),
      );
      if (typeof allowHeaders !== 'string') return deny(allowHeaders);
      // Without route information the policy's own list (or `cors`'s default list) applies.
      const served = servedMethods ?? (this.methods === null ? DEFAULT_METHODS : undefined);
      if (served !== undefined && !served.includes(requestMethod) && !served.includes('ALL')) {
        const where = servedMethods === undefined ? 'allowed by default' : 'served at this path';
        return deny(new CorsDenial(`method ${requestMethod} is not ${where}`));
      }
      const allowMethods = this.allowMethodsOf(requestMethod, served);
      const pna = single(request.headers['access-control-request-private-network']) === 'true';
      this.writePreflight(recorder, verdict, allowMethods, allowHeaders, pna);
      return {
        kind: 'preflight',
        allowed: true,
        status: this.successStatus,
        headers: recorder.headers,
        vary: recorder.vary,
      };
    }
    const verdict = await this.checkOrigin(origin, request);
    this.writeActual(recorder, verdict);
    const kind = origin === undefined ? 'none' : 'actual';
    return {
      kind,
      allowed: typeof verdict === 'string',
      headers: recorder.headers,
      vary: recorder.vary,
      reason: typeof verdict === 'string' ? undefined : verdict.reason,
    };
  }

  /** A description of the policy, for reports and debugging. */
  describe(): {
    origins: readonly string[] | '*' | 'reflect' | 'function' | 'none';
    credentials: boolean;
    methods: readonly string[] | '*' | 'route';
    allowedHeaders: readonly string[] | 'any';
    exposedHeaders: string | undefined;
    maxAge: number | undefined;
    enforce: boolean;
  } {
    const origins =
      this.originMode === 'any'
        ? '*'
        : this.originMode === 'list'
          ? this.originList
          : this.originMode;
    return {
      origins,
      credentials: this.credentials,
      methods: this.methods === null ? 'route' : this.methods === '*' ? '*' : [...this.methods],
      allowedHeaders: this.allowedHeaders === null ? 'any' : [...this.allowedHeaders],
      exposedHeaders: this.exposeHeaders,
      maxAge: this.maxAgeValue === undefined ? undefined : Number(this.maxAgeValue),
      enforce: this.enforce,
    };
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// ----- compilation ---------------------------------------------------------------------------

/** Private fields are compiled through this view (TypeScript hides them from the class type). */
type Internals = Mutable<CorsPolicy> & {
  origins: OriginRule;
  exposeHeaders: string | undefined;
  allowHeadersValue: string | undefined;
  maxAgeValue: string | undefined;
  cacheControlValue: string | undefined;
};

function compileMethods(
  pp: Mutable<CorsPolicy>,
  options: CorsPolicyOptions,
  where: string,
  problems: ProblemList,
): void {
  const p = pp as Internals;
  if (options.methods === undefined) {
    p.methods = null;
    p.configuredMethods = DEFAULT_METHODS.join(', ');
    return;
  }
  if (typeof options.methods !== 'string' && !Array.isArray(options.methods)) {
    problems.error(where, 'methods must be a string or an array of strings');
    return;
  }
  const names = splitList(options.methods);
  if (names === undefined) {
    problems.error(where, 'methods must be a string or an array of strings');
    return;
  }
  if (names.includes('*')) {
    p.methods = '*';
    return;
  }
  const set = new Set<string>();
  for (const raw of names) {
    if (!isToken(raw)) {
      problems.error(where, `method ${JSON.stringify(raw)} is not a valid method token`);
      continue;
    }
    if (isForbiddenMethod(raw)) {
      problems.error(where, `method ${raw} is forbidden: browsers never send it`);
      continue;
    }
    const method = normalizeMethod(raw);
    if (method !== method.toUpperCase()) {
      problems.warn(
        where,
        `method "${method}" is not upper case: method names are case-sensitive and browsers send "${method}" only if the page wrote it so`,
      );
    }
    set.add(method);
  }
  p.methods = set;
  p.configuredMethods = [...set].join(', ');
}

function compileHeaderNames(
  value: string | string[] | undefined,
  key: string,
  where: string,
  problems: ProblemList,
): string[] | '*' | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' && !Array.isArray(value)) {
    problems.error(where, `${key} must be a string or an array of strings`);
    return undefined;
  }
  const names = splitList(value);
  if (names === undefined) {
    problems.error(where, `${key} must be a string or an array of strings`);
    return undefined;
  }
  if (names.includes('*')) return '*';
  const out: string[] = [];
  for (const name of names) {
    if (!isToken(name)) {
      problems.error(where, `${key}: ${JSON.stringify(name)} is not a valid header name`);
      continue;
    }
    const lower = name.toLowerCase();
    if (!out.includes(lower)) out.push(lower);
  }
  return out;
}

function compileHeaders(
  pp: Mutable<CorsPolicy>,
  options: CorsPolicyOptions,
  where: string,
  problems: ProblemList,
): void {
  const p = pp as Internals;
  const allowed = compileHeaderNames(options.allowedHeaders, 'allowedHeaders', where, problems);
  if (allowed === undefined || allowed === '*') {
    p.allowedHeaders = null; // echo the request's list (never a literal '*': Authorization)
  } else {
    p.allowedHeaders = new Set(allowed);
    p.allowHeadersValue = allowed.join(', ');
  }
  const exposed = compileHeaderNames(options.exposedHeaders, 'exposedHeaders', where, problems);
  if (exposed === '*') {
    if (p.credentials) {
      problems.warn(
        where,
        "exposedHeaders '*' with credentials exposes only a header literally named '*': list the headers",
      );
    }
    p.exposeHeaders = '*';
  } else if (exposed !== undefined) {
    for (const name of exposed) {
      if (name === 'set-cookie' || name === 'set-cookie2') {
        problems.error(where, `exposedHeaders: ${name} can never be exposed to a page`);
      }
    }
    const useful = exposed.filter((n) => !SAFELISTED_RESPONSE_HEADERS.has(n));
    if (useful.length > 0) p.exposeHeaders = useful.join(', ');
  }
}

function compilePreflightExtras(
  pp: Mutable<CorsPolicy>,
  options: CorsPolicyOptions,
  where: string,
  problems: ProblemList,
): void {
  const p = pp as Internals;
  if (options.maxAge !== undefined) {
    const maxAge = options.maxAge;
    if (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 0 || maxAge > 86400) {
      problems.error(
        where,
        `maxAge must be an integer number of seconds in 0..86400, got ${describeValue(maxAge)}`,
      );
    } else {
      if (maxAge > 7200) {
        problems.warn(
          where,
          `maxAge ${maxAge} is above what Chromium honours (7200 s; Safari 600 s)`,
        );
      }
      p.maxAgeValue = String(maxAge);
    }
  }
  if (options.optionsSuccessStatus !== undefined) {
    const status = options.optionsSuccessStatus;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 299) {
      problems.error(
        where,
        `optionsSuccessStatus must be 200..299 (browsers fail any other preflight status), got ${describeValue(status)}`,
      );
    } else {
      p.successStatus = status;
    }
  }
  const cacheControl = options.preflightCacheControl;
  if (cacheControl !== undefined) {
    if (typeof cacheControl === 'number') {
      if (!Number.isInteger(cacheControl) || cacheControl < 0) {
        problems.error(
          where,
          `preflightCacheControl must be a non-negative integer, got ${cacheControl}`,
        );
      } else {
        p.cacheControlValue = `max-age=${cacheControl}`;
      }
    } else if (typeof cacheControl !== 'string' || !/^[\x20-\x7e]+$/.test(cacheControl)) {
      problems.error(
        where,
        'preflightCacheControl must be a number of seconds or a printable header value',
      );
    } else {
      p.cacheControlValue = cacheControl;
    }
  }
}

// ----- helpers for decide() ---------------------------------------------------------------------

function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : value.join(', ');
  return value;
}

function headerList(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** Collects what the engine writes, for `decide()`. */
class HeaderRecorder implements HeaderTarget {
  headers: Record<string, string> = {};
  vary: string | undefined;
  setHeader(name: string, value: string): void {
    if (name === 'Vary') this.vary = value;
    else this.headers[name] = value;
  }
  getHeader(name: string): string | undefined {
    return name === 'Vary' ? this.vary : this.headers[name];
  }
  removeHeader(name: string): void {
    delete this.headers[name];
  }
}

export { CorsConfigError };
