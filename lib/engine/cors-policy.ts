/**
 * The framework-free CORS engine: `CorsPolicy.compile(options)` validates and compiles once (throws
 * `CorsConfigError`), then each request is decided with no merging and no scan over origins.
 */
import type { CorsPolicyOptions } from '../interfaces/cors-options.interface.js';
import {
  CorsConfigError,
  placeOf,
  ProblemList,
  type CorsErrorSink,
  type CorsProblemPlace,
} from './errors.js';
import {
  CorsDenial,
  DEFAULT_ORIGIN_TIMEOUT_MS,
  MAX_ORIGIN_TIMEOUT_MS,
  OriginRule,
  OriginRuleCache,
  type OriginMode,
  type OriginVerdict,
} from './origin-rule.js';
import {
  DEFAULT_METHODS,
  decidePreflight,
  deniedPreflight,
  singlePolicyRoute,
  writePreflightHeaders,
} from './preflight.js';
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
  'originTimeout',
  // The `cors` package's alias of `allowedHeaders`.
  'headers',
]);

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
  /** Replaced only in a new policy (`withOrigins()`): a compiled policy never changes. */
  private readonly origins!: OriginRule;
  private readonly exposeHeaders: string | undefined;
  private readonly allowHeadersValue: string | undefined;
  /** `methods` as configured, joined (or `cors`'s default list when unset). */
  readonly configuredMethods: string | undefined;
  private readonly maxAgeValue: string | undefined;
  private readonly cacheControlValue: string | undefined;

  private constructor() {}

  /**
   * Validates and compiles `options`; throws `CorsConfigError` listing every problem. `where`
   * names the place in messages (see `placeOf` for text); `sink` receives the run-time errors of
   * an origin function (default: `console.error`).
   */
  static compile(
    options: CorsPolicyOptions = {},
    where: string | CorsProblemPlace = 'policy',
    sink?: CorsErrorSink,
  ): CorsPolicy {
    const problems = new ProblemList();
    const policy = CorsPolicy.compileInto(options, where, problems, undefined, sink);
    problems.throwIfAny();
    return policy;
  }

  /**
   * Compiles `options`, recording errors and warnings in `problems` instead of throwing. Policies
   * compiled with one `originRules` cache share the rule of an identical `origin` value. The
   * result is frozen.
   */
  static compileInto(
    options: CorsPolicyOptions,
    where: string | CorsProblemPlace,
    problems: ProblemList,
    originRules?: OriginRuleCache,
    sink?: CorsErrorSink,
  ): CorsPolicy {
    const p = new CorsPolicy() as unknown as Internals;
    compilePolicy(p, options, placeOf(where), problems, originRules, sink);
    return Object.freeze(p) as unknown as CorsPolicy;
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
   * A new policy, identical except that its origins are `origin`, validated against this policy
   * (credentials included) with problems recorded at `where`. This policy is unchanged; when
   * `problems` has errors, discard the result. Policies updated with one `originRules` cache
   * share the new rule.
   */
  withOrigins(
    origin: CorsPolicyOptions['origin'],
    where: string | CorsProblemPlace,
    problems: ProblemList,
    originRules?: OriginRuleCache,
  ): CorsPolicy {
    const origins = this.origins.recompile(origin, placeOf(where), problems, originRules);
    const copy = Object.assign(Object.create(CorsPolicy.prototype) as CorsPolicy, this, {
      origins,
    });
    return Object.freeze(copy);
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
   * Checks a preflight's method (a valid token) and headers against the policy; whether the
   * route serves the method is the caller's. Returns the `Access-Control-Allow-Headers` value
   * ('' for none) or a denial.
   */
  checkPreflight(requestMethod: string, requestHeaders: string | undefined): string | CorsDenial {
    if (this.methods !== '*' && this.methods !== null && !this.methods.has(requestMethod)) {
      return new CorsDenial(`method ${requestMethod} is not allowed by the policy`);
    }
    const headers = checkRequestHeaders(requestHeaders, this.allowedHeaders);
    if (headers instanceof HeaderListDenial) return new CorsDenial(headers.reason);
    return this.allowHeadersValue ?? headers;
  }

  /** Would a preflight asking for these headers (a comma-separated list) be allowed? */
  allowsHeaders(list: string): boolean {
    return typeof checkRequestHeaders(list, this.allowedHeaders) === 'string';
  }

  /** Is `method` allowed by the policy's own `methods` (route-independent)? */
  allowsMethod(method: string): boolean {
    return this.methods === null || this.methods === '*' || this.methods.has(method);
  }

  /**
   * The whole decision for one request, as a plain object: for use without Nest. The preflight
   * is decided by the same code as in the module. `servedMethods` (optional) are the methods of
   * the route the request goes to (`'ALL'`: any); without them the policy's `methods`, or the
   * `cors` default list, are what is served.
   */
  async decide(request: CorsRequestLike, servedMethods?: readonly string[]): Promise<CorsDecision> {
    const origin = single(request.headers['origin']);
    const requestMethod = single(request.headers['access-control-request-method']);
    const recorder = new HeaderRecorder();
    if (request.method === 'OPTIONS' && origin !== undefined && requestMethod !== undefined) {
      const route = singlePolicyRoute(this, servedMethods);
      const answer =
        servedMethods === undefined ||
        servedMethods.includes(requestMethod) ||
        servedMethods.includes('ALL')
          ? await decidePreflight(
              {
                origin,
                method: requestMethod,
                headers: headerList(request.headers['access-control-request-headers']),
                privateNetwork:
                  single(request.headers['access-control-request-private-network']) === 'true',
                request,
              },
              route,
            )
          : deniedPreflight(route, `method ${requestMethod} is not served at this path`);
      writePreflightHeaders(recorder, answer);
      return {
        kind: 'preflight',
        allowed: answer.allowed,
        status: answer.allowed ? answer.status : 403,
        headers: recorder.headers,
        vary: recorder.vary,
        ...(!answer.allowed && { reason: answer.reason }),
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

  /** `Access-Control-Max-Age` of a successful preflight, if configured. */
  get maxAgeHeader(): string | undefined {
    return this.maxAgeValue;
  }

  /** `Cache-Control` of a successful preflight, if configured. */
  get cacheControlHeader(): string | undefined {
    return this.cacheControlValue;
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

const BOOLEAN_KEYS = ['credentials', 'enforce', 'preflightContinue', 'privateNetwork'] as const;

/** Validates `options` and fills the fresh policy `p` (frozen by the caller). */
function compilePolicy(
  p: Internals,
  given: CorsPolicyOptions,
  where: CorsProblemPlace,
  problems: ProblemList,
  originRules: OriginRuleCache | undefined,
  sink: CorsErrorSink | undefined,
): void {
  const options = checkOptionsObject(given, where, problems) ? given : {};
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) {
      problems.error(where, 'unknown-option', `unknown option "${key}"`, key);
    }
  }
  for (const key of BOOLEAN_KEYS) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') {
      problems.error(
        where,
        'invalid-boolean',
        `${key} must be true or false, got ${describeValue(value)}`,
        value,
      );
    }
  }
  p.credentials = options.credentials === true;
  p.enforce = options.enforce === true;
  p.preflightContinue = options.preflightContinue === true;
  p.privateNetwork = options.privateNetwork === true;
  const timeoutMs = compileOriginTimeout(options.originTimeout, where, problems);
  const compileOrigins = () =>
    OriginRule.compile(options.origin, p.credentials, where, problems, sink, {
      timeoutMs,
      label: originRules?.label,
    });
  p.origins = originRules
    ? originRules.get(options.origin, p.credentials, timeoutMs, compileOrigins)
    : compileOrigins();
  compileMethods(p, options, where, problems);
  compileHeaders(p, options, where, problems);
  compilePreflightExtras(p, options, where, problems);
}

/**
 * Options must be a plain object. A function is most likely the `enableCors` options delegate
 * `(req, callback) => callback(null, options)`, which this module does not call.
 */
export function checkOptionsObject(
  options: unknown,
  where: CorsProblemPlace,
  problems: ProblemList,
): options is CorsPolicyOptions {
  if (typeof options === 'function') {
    problems.error(
      where,
      'options-not-object',
      'CORS options must be an object, got a function: the enableCors options delegate (req, callback) => … is not supported; give the options, with an origin function (origin, req) => boolean for per-request decisions',
      options,
    );
    return false;
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    problems.error(
      where,
      'options-not-object',
      `CORS options must be an object, got ${Array.isArray(options) ? 'an array' : describeValue(options)}`,
      options,
    );
    return false;
  }
  return true;
}

function compileOriginTimeout(
  value: unknown,
  where: CorsProblemPlace,
  problems: ProblemList,
): number {
  if (value === undefined) return DEFAULT_ORIGIN_TIMEOUT_MS;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > MAX_ORIGIN_TIMEOUT_MS
  ) {
    problems.error(
      where,
      'invalid-origin-timeout',
      `originTimeout must be an integer number of milliseconds in 1..${MAX_ORIGIN_TIMEOUT_MS}, got ${describeValue(value)}`,
      value,
    );
    return DEFAULT_ORIGIN_TIMEOUT_MS;
  }
  return value;
}

/**
 * The items of a `methods`/`allowedHeaders`/`exposedHeaders` list (`'a, b'` or `['a', 'b']`), or
 * undefined after reporting it: not a string or string array, or an empty item (`'a,,b'`, `''`).
 */
function listItems(
  value: unknown,
  key: string,
  where: CorsProblemPlace,
  problems: ProblemList,
): string[] | undefined {
  const items = typeof value === 'string' || Array.isArray(value) ? splitList(value) : undefined;
  if (items === undefined) {
    problems.error(
      where,
      'invalid-list',
      `${key} must be a string or an array of strings, got ${describeValue(value)}`,
      value,
    );
    return undefined;
  }
  if (items.includes('')) {
    problems.error(
      where,
      'empty-list-item',
      `${key} has an empty item in ${describeList(value)}: remove it (or the extra comma)`,
      value,
    );
    return items.filter((item) => item.length > 0);
  }
  return items;
}

function describeList(value: unknown): string {
  return Array.isArray(value)
    ? `[${value.map((v) => describeValue(v)).join(', ')}]`
    : describeValue(value);
}

function compileMethods(
  pp: Mutable<CorsPolicy>,
  options: CorsPolicyOptions,
  where: CorsProblemPlace,
  problems: ProblemList,
): void {
  const p = pp as Internals;
  if (options.methods === undefined) {
    p.methods = null;
    p.configuredMethods = DEFAULT_METHODS.join(', ');
    return;
  }
  const names = listItems(options.methods, 'methods', where, problems);
  if (names === undefined) return;
  if (names.includes('*')) {
    p.methods = '*';
    return;
  }
  const set = new Set<string>();
  for (const raw of names) {
    if (!isToken(raw)) {
      problems.error(
        where,
        'invalid-method',
        `method ${JSON.stringify(raw)} is not a valid method token`,
        raw,
      );
      continue;
    }
    if (isForbiddenMethod(raw)) {
      problems.error(
        where,
        'forbidden-method',
        `method ${raw} is forbidden: browsers never send it`,
        raw,
      );
      continue;
    }
    const method = normalizeMethod(raw);
    if (method !== method.toUpperCase()) {
      problems.warn(
        where,
        'method-not-upper-case',
        `method "${method}" is not upper case: method names are case-sensitive and browsers send "${method}" only if the page wrote it so`,
        raw,
      );
    }
    set.add(method);
  }
  p.methods = set;
  p.configuredMethods = [...set].join(', ');
}

function compileHeaderNames(
  value: unknown,
  key: string,
  where: CorsProblemPlace,
  problems: ProblemList,
): string[] | '*' | undefined {
  if (value === undefined) return undefined;
  const names = listItems(value, key, where, problems);
  if (names === undefined) return undefined;
  if (names.includes('*')) return '*';
  const out: string[] = [];
  for (const name of names) {
    if (!isToken(name)) {
      problems.error(
        where,
        'invalid-header-name',
        `${key}: ${JSON.stringify(name)} is not a valid header name`,
        name,
      );
      continue;
    }
    const lower = name.toLowerCase();
    if (!out.includes(lower)) out.push(lower);
  }
  return out;
}

/**
 * `allowedHeaders`, or its `cors` alias `headers`. Both given: they must name the same headers
 * (case, spaces and order aside).
 */
function allowedHeadersOption(
  options: CorsPolicyOptions,
  where: CorsProblemPlace,
  problems: ProblemList,
): { value: unknown; key: string } {
  const { allowedHeaders, headers } = options;
  if (headers === undefined) return { value: allowedHeaders, key: 'allowedHeaders' };
  if (allowedHeaders === undefined) return { value: headers, key: 'headers' };
  const names = namesKey(allowedHeaders);
  if (names === undefined || names !== namesKey(headers)) {
    problems.error(
      where,
      'conflicting-headers-alias',
      `headers (the cors alias of allowedHeaders) is ${describeList(headers)} but allowedHeaders is ${describeList(allowedHeaders)}: give allowedHeaders only`,
      headers,
    );
  }
  return { value: allowedHeaders, key: 'allowedHeaders' };
}

/** A header list as a set (case, spaces and order aside), for comparison. */
function namesKey(value: unknown): string | undefined {
  if (typeof value !== 'string' && !Array.isArray(value)) return undefined;
  return splitList(value)
    ?.map((n) => n.toLowerCase())
    .sort()
    .join(',');
}

function compileHeaders(
  pp: Mutable<CorsPolicy>,
  options: CorsPolicyOptions,
  where: CorsProblemPlace,
  problems: ProblemList,
): void {
  const p = pp as Internals;
  const option = allowedHeadersOption(options, where, problems);
  const allowed = compileHeaderNames(option.value, option.key, where, problems);
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
        'exposed-wildcard-with-credentials',
        "exposedHeaders '*' with credentials exposes only a header literally named '*': list the headers",
        options.exposedHeaders,
      );
    }
    p.exposeHeaders = '*';
  } else if (exposed !== undefined) {
    for (const name of exposed) {
      if (name === 'set-cookie' || name === 'set-cookie2') {
        problems.error(
          where,
          'exposed-set-cookie',
          `exposedHeaders: ${name} can never be exposed to a page`,
          name,
        );
      }
    }
    const useful = exposed.filter((n) => !SAFELISTED_RESPONSE_HEADERS.has(n));
    if (useful.length > 0) p.exposeHeaders = useful.join(', ');
  }
}

function compilePreflightExtras(
  pp: Mutable<CorsPolicy>,
  options: CorsPolicyOptions,
  where: CorsProblemPlace,
  problems: ProblemList,
): void {
  const p = pp as Internals;
  p.maxAgeValue = compileMaxAge(options.maxAge, where, problems);
  p.successStatus = compileSuccessStatus(options.optionsSuccessStatus, where, problems);
  p.cacheControlValue = compileCacheControl(options.preflightCacheControl, where, problems);
}

function compileMaxAge(
  maxAge: unknown,
  where: CorsProblemPlace,
  problems: ProblemList,
): string | undefined {
  if (maxAge === undefined) return undefined;
  if (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 0 || maxAge > 86400) {
    problems.error(
      where,
      'invalid-max-age',
      `maxAge must be an integer number of seconds in 0..86400, got ${describeValue(maxAge)}`,
      maxAge,
    );
    return undefined;
  }
  if (maxAge > 7200) {
    problems.warn(
      where,
      'max-age-above-browser-cap',
      `maxAge ${maxAge} is above what Chromium honours (7200 s; Safari 600 s)`,
      maxAge,
    );
  }
  return String(maxAge);
}

function compileSuccessStatus(
  status: unknown,
  where: CorsProblemPlace,
  problems: ProblemList,
): number {
  if (status === undefined) return 204;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 299) {
    problems.error(
      where,
      'invalid-success-status',
      `optionsSuccessStatus must be 200..299 (browsers fail any other preflight status), got ${describeValue(status)}`,
      status,
    );
    return 204;
  }
  return status;
}

function compileCacheControl(
  value: unknown,
  where: CorsProblemPlace,
  problems: ProblemList,
): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) {
    return `max-age=${value}`;
  }
  if (typeof value === 'number') {
    problems.error(
      where,
      'invalid-cache-control',
      `preflightCacheControl must be a non-negative integer, got ${value}`,
      value,
    );
  } else if (typeof value === 'string' && /^[\x20-\x7e]+$/.test(value)) {
    return value;
  } else {
    problems.error(
      where,
      'invalid-cache-control',
      'preflightCacheControl must be a number of seconds or a printable header value',
      value,
    );
  }
  return undefined;
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
