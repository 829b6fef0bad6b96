/**
 * The framework-free CORS engine: `CorsPolicy.compile(options)` validates and compiles once (throws
 * `CorsConfigError`), then each request is decided with no merging and no scan over origins.
 */
import type {
  CorsOriginFunction,
  CorsPolicyOptions,
} from '../interfaces/cors-options.interface.js';
import { CorsConfigError, ProblemList } from './errors.js';
import {
  MAX_ORIGIN_LENGTH,
  matchesPattern,
  parseConfiguredOrigin,
  scanSerializedOrigin,
} from './origin.js';
import { checkRequestHeaders, HeaderListDenial } from './request-headers.js';
import {
  isForbiddenMethod,
  isToken,
  normalizeMethod,
  SAFELISTED_RESPONSE_HEADERS,
  splitList,
} from './tokens.js';
import { appendVary, type HeaderTarget } from './vary.js';

export type { HeaderTarget } from './vary.js';

/** Why a request was refused. Constant instances for the common cases: no allocation per request. */
export class CorsDenial {
  constructor(readonly reason: string) {}
}

export const DENIED = {
  noOrigin: new CorsDenial('the request has no Origin header'),
  tooLong: new CorsDenial(`the Origin is longer than ${MAX_ORIGIN_LENGTH} bytes`),
  malformed: new CorsDenial('the Origin is not a valid serialized origin'),
  nullOrigin: new CorsDenial("the Origin is 'null' and the policy does not list 'null'"),
  notAllowed: new CorsDenial('the Origin is not allowed by the policy'),
  predicateError: new CorsDenial('the origin function failed'),
  disabled: new CorsDenial('CORS is disabled on this route'),
} as const;

/** An origin verdict: the `Access-Control-Allow-Origin` value to send, or a denial. */
export type OriginVerdict = string | CorsDenial;

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

type OriginMode = 'any' | 'list' | 'reflect' | 'function' | 'none';

/** A compiled, immutable CORS policy. */
export class CorsPolicy {
  /** How origins are decided. */
  readonly originMode: OriginMode = 'none';
  readonly credentials: boolean = false;
  /** True unless the answer is the same for every origin (`'*'`): then `Vary: Origin` is needed. */
  readonly varyOrigin: boolean = true;
  /** null: every method the route serves; '*': any method (echoed); else the exact set. */
  readonly methods: ReadonlySet<string> | '*' | null = null;
  /** null: any header (the request's list is echoed); else the allowed lowercase names. */
  readonly allowedHeaders: ReadonlySet<string> | null = null;
  readonly enforce: boolean = false;
  readonly preflightContinue: boolean = false;
  readonly successStatus: number = 204;
  readonly privateNetwork: boolean = false;
  /** Canonical configured origins and patterns, for reports. */
  readonly originList: readonly string[] = [];

  private exact: ReadonlySet<string> = new Set();
  private patterns: ReadonlySet<string> = new Set();
  private regexps: readonly RegExp[] = [];
  private allowNull = false;
  private originFunction: CorsOriginFunction | undefined;
  private needsScan = false;
  private exposeHeaders: string | undefined;
  private allowHeadersValue: string | undefined;
  private allowMethodsValue: string | undefined;
  private maxAgeValue: string | undefined;
  private cacheControlValue: string | undefined;
  private preflightVary = VARY_PREFLIGHT_DYNAMIC;

  private constructor() {}

  /** Validates and compiles `options`; throws `CorsConfigError` listing every problem. */
  static compile(options: CorsPolicyOptions = {}, where = 'policy'): CorsPolicy {
    const problems = new ProblemList();
    const policy = CorsPolicy.compileInto(options, where, problems);
    problems.throwIfAny();
    return policy;
  }

  /** Compiles `options`, recording errors and warnings in `problems` instead of throwing. */
  static compileInto(options: CorsPolicyOptions, where: string, problems: ProblemList): CorsPolicy {
    const p = new CorsPolicy() as unknown as Internals;
    if (options === null || typeof options !== 'object') {
      problems.error(where, 'CORS options must be an object');
      return p as unknown as CorsPolicy;
    }
    for (const key of Object.keys(options)) {
      if (!KNOWN_KEYS.has(key)) problems.error(where, `unknown option "${key}"`);
    }
    p.credentials = options.credentials === true;
    p.enforce = options.enforce === true;
    p.preflightContinue = options.preflightContinue === true;
    p.privateNetwork = options.privateNetwork === true;
    compileOrigin(p, options, where, problems);
    compileMethods(p, options, where, problems);
    compileHeaders(p, options, where, problems);
    compilePreflightExtras(p, options, where, problems);
    p.varyOrigin = p.originMode !== 'any';
    p.preflightVary = p.varyOrigin ? VARY_PREFLIGHT_DYNAMIC : VARY_PREFLIGHT_STATIC;
    p.needsScan =
      p.originMode === 'reflect' ||
      p.originMode === 'function' ||
      p.patterns.size > 0 ||
      p.regexps.length > 0;
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
    if (this.originMode === 'any') return '*';
    if (origin === undefined) return DENIED.noOrigin;
    if (origin.length > MAX_ORIGIN_LENGTH) return DENIED.tooLong;
    if (origin === 'null') return this.allowNull ? 'null' : DENIED.nullOrigin;
    if (this.exact.has(origin)) return origin;
    if (!this.needsScan) return DENIED.notAllowed;
    if (!scanSerializedOrigin(origin)) return DENIED.malformed;
    if (this.originMode === 'reflect') return origin;
    if (this.patterns.size > 0 && matchesPattern(origin, this.patterns)) return origin;
    for (const re of this.regexps) if (re.test(origin)) return origin;
    if (this.originFunction !== undefined) return this.callOriginFunction(origin, request);
    return DENIED.notAllowed;
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
   * Checks a preflight's method and headers (the origin was allowed). `served` is the methods
   * the target path serves (route-aware), or undefined for the policy's own list. Returns the
   * `Access-Control-Allow-Headers` value ('' for none) or a denial.
   */
  checkPreflight(requestMethod: string, requestHeaders: string | undefined): string | CorsDenial {
    if (!isToken(requestMethod))
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

  /** The `Access-Control-Allow-Methods` value when no route information is at hand. */
  allowMethodsFor(requestMethod: string): string {
    return this.methods === '*' ? requestMethod : (this.allowMethodsValue as string);
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
    appendVary(
      res,
      this.privateNetwork
        ? `${this.preflightVary}, Access-Control-Request-Private-Network`
        : this.preflightVary,
    );
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
      if (
        servedMethods !== undefined &&
        !servedMethods.includes(requestMethod) &&
        !servedMethods.includes('ALL')
      ) {
        return deny(new CorsDenial(`method ${requestMethod} is not served at this path`));
      }
      const allowHeaders = this.checkPreflight(
        requestMethod,
        headerList(request.headers['access-control-request-headers']),
      );
      if (typeof allowHeaders !== 'string') return deny(allowHeaders);
      const allowMethods =
        this.methods === '*'
          ? requestMethod
          : servedMethods === undefined
            ? this.allowMethodsFor(requestMethod)
            : servedMethods.includes('ALL')
              ? (this.allowMethodsFor(requestMethod) ?? requestMethod)
              : servedMethods.filter((m) => this.allowsMethod(m)).join(', ');
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

  private callOriginFunction(
    origin: string,
    request: object | undefined,
  ): OriginVerdict | Promise<OriginVerdict> {
    const fn = this.originFunction as CorsOriginFunction;
    let syncVerdict: OriginVerdict | undefined;
    let resolveLater: ((v: OriginVerdict) => void) | undefined;
    const settle = (err: unknown, value: unknown): void => {
      if (syncVerdict !== undefined) return;
      syncVerdict = err ? DENIED.predicateError : this.verdictOfCallback(origin, value);
      resolveLater?.(syncVerdict);
    };
    // The second argument is the `cors`-style callback; its properties read through to the request.
    const callback = (err: Error | null, value?: unknown) => settle(err, value);
    const argument = request === undefined ? callback : requestView(callback, request);
    let returned: unknown;
    try {
      returned = fn(origin, argument as never);
    } catch {
      return DENIED.predicateError;
    }
    if (typeof returned === 'boolean') settle(null, returned);
    else if (returned !== null && typeof (returned as PromiseLike<unknown>)?.then === 'function') {
      (returned as PromiseLike<unknown>).then(
        (v) => settle(null, v),
        (e) => settle(e ?? new Error('rejected'), undefined),
      );
    }
    if (syncVerdict !== undefined) return syncVerdict;
    return new Promise<OriginVerdict>((resolve) => (resolveLater = resolve));
  }

  /** What a `cors`-style callback value means for this origin. */
  private verdictOfCallback(origin: string, value: unknown): OriginVerdict {
    if (value === true) return origin;
    if (value === '*') return this.credentials ? origin : '*';
    const list = Array.isArray(value) ? value : [value];
    for (const item of list) {
      if (item === true) return origin;
      if (typeof item === 'string' && item === origin) return origin;
      if (item instanceof RegExp) {
        item.lastIndex = 0;
        if (item.test(origin)) return origin;
      }
    }
    return DENIED.notAllowed;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// ----- compilation ---------------------------------------------------------------------------

/** Private fields are compiled through this view (TypeScript hides them from the class type). */
type Internals = Mutable<CorsPolicy> & {
  exact: Set<string>;
  patterns: Set<string>;
  regexps: RegExp[];
  allowNull: boolean;
  originFunction: CorsOriginFunction | undefined;
  exposeHeaders: string | undefined;
  allowHeadersValue: string | undefined;
  allowMethodsValue: string | undefined;
  maxAgeValue: string | undefined;
  cacheControlValue: string | undefined;
  preflightVary: string;
  needsScan: boolean;
};

function compileOrigin(
  pp: Mutable<CorsPolicy>,
  options: CorsPolicyOptions,
  where: string,
  problems: ProblemList,
): void {
  const p = pp as Internals;
  const origin = 'origin' in options && options.origin !== undefined ? options.origin : '*';
  const explicit = options.origin !== undefined;
  if (typeof origin === 'function') {
    p.originMode = 'function';
    p.originFunction = origin as CorsOriginFunction;
    return;
  }
  if (origin === true) {
    p.originMode = 'reflect';
    if (p.credentials) {
      problems.warn(
        where,
        'origin: true with credentials lets every site read credentialed responses; list the origins instead',
      );
    }
    return;
  }
  if (origin === false) {
    p.originMode = 'none';
    return;
  }
  const items = Array.isArray(origin) ? origin : [origin];
  if (items.length === 0) {
    p.originMode = 'none';
    problems.warn(where, 'origin is an empty list: no cross-origin request is allowed');
    return;
  }
  if (!Array.isArray(origin) && origin === '*') {
    p.originMode = 'any';
    if (p.credentials) {
      problems.error(
        where,
        explicit
          ? "origin '*' cannot be used with credentials: browsers refuse it; list the allowed origins"
          : "credentials: true needs an explicit origin (the default is '*', which browsers refuse with credentials)",
      );
    }
    return;
  }
  p.originMode = 'list';
  const exact = new Set<string>();
  const patterns = new Set<string>();
  const regexps: RegExp[] = [];
  const display: string[] = [];
  for (const item of items) {
    if (item instanceof RegExp) {
      const source = item.source;
      if (!source.startsWith('^') || !source.endsWith('$')) {
        problems.warn(
          where,
          `RegExp ${String(item)} is not anchored with ^…$: it may match origins that merely contain an allowed one`,
        );
      }
      // g and y make test() stateful (lastIndex): compile a stateless copy.
      regexps.push(new RegExp(source, item.flags.replace(/[gy]/g, '')));
      display.push(String(item));
      continue;
    }
    if (typeof item !== 'string') {
      problems.error(where, `origin items must be strings or RegExps, got ${typeof item}`);
      continue;
    }
    if (item === '*') {
      problems.error(where, "'*' inside an origin list matches nothing: use origin: '*' alone");
      continue;
    }
    const parsed = parseConfiguredOrigin(item, where, problems);
    if (parsed === undefined) continue;
    switch (parsed.kind) {
      case 'null':
        if (p.credentials) {
          problems.error(
            where,
            "origin 'null' with credentials lets any sandboxed page or file read credentialed responses",
          );
        }
        p.allowNull = true;
        display.push('null');
        break;
      case 'exact':
        exact.add(parsed.origin);
        display.push(parsed.origin);
        break;
      case 'pattern':
        if (parsed.publicSuffix && p.credentials) {
          problems.error(
            where,
            `origin pattern "${parsed.display}" spans a public suffix: anyone can register a name under it`,
          );
        } else if (parsed.publicSuffix) {
          problems.warn(where, `origin pattern "${parsed.display}" spans a public suffix`);
        }
        patterns.add(parsed.key);
        display.push(parsed.display);
        break;
      case 'any':
        break; // handled above
    }
  }
  p.exact = exact;
  p.patterns = patterns;
  p.regexps = regexps;
  p.originList = [...new Set(display)];
}

function compileMethods(
  pp: Mutable<CorsPolicy>,
  options: CorsPolicyOptions,
  where: string,
  problems: ProblemList,
): void {
  const p = pp as Internals;
  if (options.methods === undefined) {
    p.methods = null;
    p.allowMethodsValue = DEFAULT_METHODS.join(', ');
    return;
  }
  if (typeof options.methods !== 'string' && !Array.isArray(options.methods)) {
    problems.error(where, 'methods must be a string or an array of strings');
    return;
  }
  const names = splitList(options.methods);
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
  p.allowMethodsValue = [...set].join(', ');
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
        `maxAge must be an integer number of seconds in 0..86400, got ${String(maxAge)}`,
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
        `optionsSuccessStatus must be 200..299 (browsers fail any other preflight status), got ${String(status)}`,
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

/** The callback, with the request's properties readable through it (see CorsOriginFunction). */
function requestView(callback: (...args: any[]) => void, request: object): unknown {
  return new Proxy(callback, {
    get: (target, key) => (key in request ? Reflect.get(request, key) : Reflect.get(target, key)),
    has: (target, key) => key in request || key in target,
  });
}

export { CorsConfigError };
