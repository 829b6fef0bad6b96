/**
 * Configuration problems (typed, with a stable code and where each was declared) and the sink
 * that run-time errors of origin functions are reported to.
 */
import { describeValue } from './tokens.js';

/**
 * Where a configuration value was declared: the module options, a named policy, or a `@Cors()`
 * on a controller (no `handler`) or on a route handler.
 */
export type CorsProblemSource =
  | { readonly kind: 'module' }
  | { readonly kind: 'policy'; readonly name: string }
  | { readonly kind: 'route'; readonly controller: string; readonly handler?: string }
  | { readonly kind: 'path'; readonly path: string }
  /** A `proxies` entry of the module options (its path prefix). */
  | { readonly kind: 'proxy'; readonly prefix: string }
  /** A `@WebSocketGateway()` class (its `@Cors()`, or the Socket.IO `cors` option it sets). */
  | { readonly kind: 'gateway'; readonly gateway: string }
  /** A shared store of live origins (`RedisOriginSource.add()` validates against it). */
  | { readonly kind: 'origin-source'; readonly name: string };

/**
 * The kind of a configuration problem: stable, for programs (the message is for people).
 *
 * Options as a whole
 * - `missing-module-options`: the module got no options (a `forRootAsync` factory returned
 *   `undefined` or `null`).
 * - `options-not-object`: options are a function (the `enableCors` options delegate
 *   `(req, callback) => …`), an array or a primitive.
 * - `unknown-option`: a key this module does not know (a typo: `origns`).
 * - `invalid-boolean`: `credentials`, `enforce`, `preflightContinue`, `privateNetwork` or
 *   `debug` is not `true`/`false`.
 * - `invalid-routes`: `routes` is neither `'all'` nor `'decorated'`.
 * - `invalid-policies`: `policies` is not an object of named options.
 * - `invalid-paths`: `paths` is not an object of path patterns.
 * - `conflicting-cors-middleware`: `app.enableCors()`, the `cors` option of `NestFactory.create`
 *   or a hand-mounted `cors` middleware is there too, and would override this module.
 * - `invalid-path-pattern`: a `paths` key the HTTP adapter's router cannot parse.
 * - `unknown-policy`: `@Cors('name')` (or `setOrigins(…, 'name')`) names no defined policy.
 * - `invalid-decorator-value`: `@Cors()` got something other than options, a name or `false`.
 * - `policy-without-origin`: a live origin update targets a policy that declares no `origin`
 *   of its own (reserved for `CorsService.setOrigins`).
 *
 * Live origin sources (`originSource`)
 * - `invalid-origin-source`: `originSource` is not an object with a `load()` function, or one of
 *   its settings (`pollMs`, `timeoutMs`, `onBootFailure`, `subscribe`, `version`, `close`) is
 *   invalid.
 * - `origin-source-needs-list`: `originSource` next to an `origin` that is not a list (`'*'`,
 *   `true`, a function): live origins are added to a list.
 * - `origin-source-inline`: `originSource` in `@Cors()` or a `paths` entry: it belongs to the
 *   module options or a named policy.
 * - `origin-source-unavailable`: the first load of an origin source failed at boot.
 *
 * Origins
 * - `invalid-origin`: `origin` is not a string, RegExp, boolean, array or function (`null`, a number).
 * - `invalid-origin-item`: an `origin` array holds something other than strings and RegExps.
 * - `empty-origin-list` (warning): `origin: []` allows no cross-origin request.
 * - `wildcard-with-credentials`: `origin: '*'` (or the default) with `credentials: true`.
 * - `wildcard-in-origin-list`: `'*'` inside an origin array matches nothing.
 * - `reflect-with-credentials` (warning): `origin: true` with credentials.
 * - `null-with-credentials`: `'null'` allowed with credentials.
 * - `file-origin-with-credentials`: a `file://` origin with credentials; `file-origin` (warning)
 *   without: it never matches (file: pages send `Origin: null`).
 * - `public-suffix-wildcard-with-credentials`: `https://*.com` with credentials;
 *   `public-suffix-wildcard` (warning) without.
 * - `cleartext-origin-with-credentials` (warning): an `http://` origin (not loopback) with
 *   credentials: cookies over cleartext.
 * - `empty-origin`, `origin-has-several-values`, `origin-bare-wildcard`, `origin-without-scheme`,
 *   `origin-has-path`, `origin-has-trailing-slash`, `origin-has-userinfo`,
 *   `origin-invalid-port`, `origin-default-port`, `origin-invalid-wildcard`,
 *   `origin-invalid-host`, `origin-ip-wildcard`: an origin string that is not one origin.
 * - `regexp-unanchored`, `regexp-unescaped-dot` (warnings): a RegExp that may match more than meant.
 * - `invalid-origin-timeout`: `originTimeout` not an integer in 1..60000.
 *
 * Methods and headers
 * - `invalid-list`: `methods`, `allowedHeaders`, `headers` or `exposedHeaders` is not a string or an
 *   array of strings.
 * - `empty-list-item`: an empty (or blank) item in such a list (`'GET,,POST'`, `['a', '']`).
 * - `invalid-method`: not an HTTP method token; `forbidden-method`: CONNECT, TRACE, TRACK;
 *   `method-not-upper-case` (warning).
 * - `invalid-header-name`: not an HTTP header name.
 * - `conflicting-headers-alias`: `headers` (the `cors` alias) and `allowedHeaders` both given and
 *   different.
 * - `exposed-set-cookie`: `Set-Cookie`/`Set-Cookie2` in `exposedHeaders`.
 * - `exposed-wildcard-with-credentials` (warning): `exposedHeaders: '*'` with credentials.
 *
 * Preflight answers
 * - `invalid-max-age`: `maxAge` not an integer in 0..86400; `max-age-above-browser-cap`
 *   (warning): above 7200.
 * - `invalid-success-status`: `optionsSuccessStatus` not in 200..299.
 * - `invalid-cache-control`: `preflightCacheControl` neither seconds nor a printable value.
 *
 * Proxies (`proxies`)
 * - `invalid-proxies`: `proxies` is not an object of path prefixes.
 * - `invalid-proxy-prefix`: a prefix that is not a plain path (`/vendor`, `/api/v1/maps`).
 * - `overlapping-proxy-prefixes`: one prefix lies under another.
 * - `proxy-shadows-route`: a controller route or a `paths` entry lies under a prefix.
 * - `invalid-proxy-target`: a target that is not an absolute `http(s)` URL, or has userinfo, a
 *   query or a fragment.
 * - `invalid-proxy-option`: any other option of a proxy (headers, timeouts, limits).
 *
 * WebSocket gateways
 * - `gateway-cors-option`: a gateway sets Socket.IO's own `cors` option, which this module
 *   replaces (a warning when it only repeats what the policy says).
 * - `gateway-unguarded`: a gateway with a policy whose server this module cannot check: it comes
 *   from an adapter that is neither `ws` nor Socket.IO, or was created where the module could not
 *   see it (the app fails closed).
 */
export type CorsProblemCode =
  | 'missing-module-options'
  | 'options-not-object'
  | 'unknown-option'
  | 'invalid-boolean'
  | 'invalid-routes'
  | 'invalid-policies'
  | 'invalid-paths'
  | 'conflicting-cors-middleware'
  | 'invalid-path-pattern'
  | 'unknown-policy'
  | 'invalid-decorator-value'
  | 'policy-without-origin'
  | 'invalid-origin-source'
  | 'origin-source-needs-list'
  | 'origin-source-inline'
  | 'origin-source-unavailable'
  | 'invalid-origin'
  | 'invalid-origin-item'
  | 'empty-origin-list'
  | 'wildcard-with-credentials'
  | 'wildcard-in-origin-list'
  | 'reflect-with-credentials'
  | 'null-with-credentials'
  | 'file-origin-with-credentials'
  | 'file-origin'
  | 'public-suffix-wildcard-with-credentials'
  | 'public-suffix-wildcard'
  | 'cleartext-origin-with-credentials'
  | 'empty-origin'
  | 'origin-has-several-values'
  | 'origin-bare-wildcard'
  | 'origin-without-scheme'
  | 'origin-has-path'
  | 'origin-has-trailing-slash'
  | 'origin-has-userinfo'
  | 'origin-invalid-port'
  | 'origin-default-port'
  | 'origin-invalid-wildcard'
  | 'origin-invalid-host'
  | 'origin-ip-wildcard'
  | 'regexp-unanchored'
  | 'regexp-unescaped-dot'
  | 'invalid-origin-timeout'
  | 'invalid-list'
  | 'empty-list-item'
  | 'invalid-method'
  | 'forbidden-method'
  | 'method-not-upper-case'
  | 'invalid-header-name'
  | 'conflicting-headers-alias'
  | 'exposed-set-cookie'
  | 'exposed-wildcard-with-credentials'
  | 'invalid-max-age'
  | 'max-age-above-browser-cap'
  | 'invalid-success-status'
  | 'invalid-cache-control'
  | 'invalid-proxies'
  | 'invalid-proxy-prefix'
  | 'overlapping-proxy-prefixes'
  | 'proxy-shadows-route'
  | 'invalid-proxy-target'
  | 'invalid-proxy-option'
  | 'gateway-cors-option'
  | 'gateway-unguarded';

/** One configuration problem (an error or a warning), with where it was declared. */
export interface CorsConfigProblem {
  /** The kind of problem, stable across versions. */
  readonly code: CorsProblemCode;
  /** What is wrong and how to fix it, for people. */
  readonly message: string;
  /** Where, as text: `module`, `policy "admin"`, `UsersController`, `UsersController.remove`. */
  readonly where: string;
  /** Where, as data. */
  readonly source: CorsProblemSource;
  /** The offending configured value, when there is one. */
  readonly value?: unknown;
}

/** A place options are compiled for: the text for messages and the structured source. */
export interface CorsProblemPlace {
  readonly where: string;
  readonly source: CorsProblemSource;
}

export const MODULE_PLACE: CorsProblemPlace = Object.freeze({
  where: 'module',
  source: Object.freeze({ kind: 'module' as const }),
});

export function policyPlace(name: string): CorsProblemPlace {
  return { where: `policy "${name}"`, source: { kind: 'policy', name } };
}

/** A controller-level (`handler` absent) or route-level `@Cors()`. */
export function routePlace(controller: string, handler?: string): CorsProblemPlace {
  return handler === undefined
    ? { where: controller, source: { kind: 'route', controller } }
    : { where: `${controller}.${handler}`, source: { kind: 'route', controller, handler } };
}

/** A `paths` entry of the module options (a path no controller route serves). */
export function pathPlace(path: string): CorsProblemPlace {
  return { where: `paths[${JSON.stringify(path)}]`, source: { kind: 'path', path } };
}

/** A `proxies` entry of the module options. */
export function proxyPlace(prefix: string): CorsProblemPlace {
  return { where: `proxies[${JSON.stringify(prefix)}]`, source: { kind: 'proxy', prefix } };
}

/** A WebSocket gateway class. */
export function gatewayPlace(gateway: string): CorsProblemPlace {
  return { where: gateway, source: { kind: 'gateway', gateway } };
}

/**
 * A place given as text only (standalone `CorsPolicy.compile(options, where)`): `module…` is the
 * module, `policy "name"…` a named policy, `Controller.handler` a route; any other text names a
 * standalone policy (`{ kind: 'policy', name: where }`).
 */
export function placeOf(where: string | CorsProblemPlace): CorsProblemPlace {
  if (typeof where !== 'string') return where;
  if (where === 'module' || where.startsWith('module ')) {
    return { where, source: MODULE_PLACE.source };
  }
  const named = /^policy "([^"]*)"/.exec(where);
  if (named) return { where, source: { kind: 'policy', name: named[1] } };
  const route = /^([A-Za-z_$][\w$]*)\.([A-Za-z_$][\w$]*)$/.exec(where);
  if (route) return { where, source: { kind: 'route', controller: route[1], handler: route[2] } };
  return { where, source: { kind: 'policy', name: where } };
}

/** Thrown at boot: lists every problem of the configuration, each with where it was declared. */
export class CorsConfigError extends Error {
  override readonly name = 'CorsConfigError';

  constructor(readonly problems: readonly CorsConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      `Invalid CORS configuration (${count}):\n` +
        problems.map((p) => `  - ${p.where}: ${p.message}`).join('\n'),
    );
  }
}

/** Collects problems and warnings while options are compiled. */
export class ProblemList {
  readonly errors: CorsConfigProblem[] = [];
  readonly warnings: CorsConfigProblem[] = [];

  /** Records an error; pass `value` (even `undefined`) when there is an offending value. */
  error(
    place: CorsProblemPlace,
    code: CorsProblemCode,
    message: string,
    ...value: [unknown?]
  ): void {
    this.errors.push(configProblem(place, code, message, ...value));
  }

  /** Records a warning; pass `value` (even `undefined`) when there is an offending value. */
  warn(
    place: CorsProblemPlace,
    code: CorsProblemCode,
    message: string,
    ...value: [unknown?]
  ): void {
    this.warnings.push(configProblem(place, code, message, ...value));
  }

  throwIfAny(): void {
    if (this.errors.length > 0) throw new CorsConfigError(this.errors);
  }
}

/** One problem; pass `value` (even `undefined`) when there is an offending value. */
export function configProblem(
  place: CorsProblemPlace,
  code: CorsProblemCode,
  message: string,
  ...value: [unknown?]
): CorsConfigProblem {
  const p = { code, message, where: place.where, source: place.source };
  return value.length > 0 ? { ...p, value: value[0] } : p;
}

/**
 * Identity of a problem for deduplication: code, value and source (never the message text);
 * with `withSource` false, code and value only.
 */
export function problemKey(p: CorsConfigProblem, withSource = true): string {
  const value = 'value' in p ? valueKey(p.value) : '-';
  return withSource ? `${p.code}\n${value}\n${sourceKey(p.source)}` : `${p.code}\n${value}`;
}

export function sourceKey(source: CorsProblemSource): string {
  switch (source.kind) {
    case 'module':
      return 'module';
    case 'policy':
      return `policy:${source.name}`;
    case 'route':
      return `route:${source.controller}:${source.handler ?? ''}`;
    case 'path':
      return `path:${source.path}`;
    case 'origin-source':
      return `origin-source:${source.name}`;
    case 'proxy':
      return `proxy:${source.prefix}`;
    case 'gateway':
      return `gateway:${source.gateway}`;
  }
}

function valueKey(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(valueKey).join(',')}]`;
  if (value instanceof RegExp) return `re:${String(value)}`;
  return `${typeof value}:${describeValue(value)}`;
}

// ----- run-time errors -----------------------------------------------------------------------

/**
 * Where run-time errors go (origin functions that throw, reject, answer nonsense or time out).
 * Called with one line, already prefixed with where the function was declared.
 */
export type CorsErrorSink = (message: string) => void;

/** The sink when none is given. */
export const defaultErrorSink: CorsErrorSink = (message) =>
  console.error('[nestjs-cors] ' + message);

/** At most one line per interval per origin rule: an attacker cannot flood the log. */
export const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Wraps `sink`: the first error is written at once, then at most one per `intervalMs`; the next
 * line written says how many were suppressed since the previous one. Never throws (a failing
 * sink must not break a request).
 */
export function rateLimitedSink(
  sink: CorsErrorSink,
  intervalMs: number = ERROR_LOG_INTERVAL_MS,
  now: () => number = Date.now,
): CorsErrorSink {
  let last = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (message) => {
    const t = now();
    if (t - last < intervalMs) {
      suppressed++;
      return;
    }
    last = t;
    const note =
      suppressed === 0
        ? ''
        : ` (${suppressed} more error${suppressed === 1 ? '' : 's'} of this origin function suppressed since the previous line)`;
    suppressed = 0;
    try {
      sink(message + note);
    } catch {
      // A logger that throws loses the line, never the answer.
    }
  };
}
