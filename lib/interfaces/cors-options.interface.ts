import type { OriginSource } from '../live/origin-source.js';

/**
 * The node-style origin function of the `cors` package (what `app.enableCors()` accepts), or a
 * predicate that returns a boolean or a Promise of one. The second argument is both the callback
 * of the `cors` style and the incoming request (its properties read through to the request).
 *
 * Every outcome is an answer: `true` allows, `false` refuses, a Promise settles to one of those;
 * returning nothing means the callback answers (`true`/`false`, an origin string, a RegExp, or an
 * array of strings and RegExps, as `cors` reads them; `'*'` is refused with credentials). Any
 * other value, a throw, a rejection, or no answer within `originTimeout` refuses the request and
 * is logged at error level with where the function was declared. Called at most once per request.
 */
export type CorsOriginFunction = (
  requestOrigin: string | undefined,
  // Typed `any` so both `(origin, callback)` and `(origin, req: Request)` declare it their way.
  callbackOrRequest: any,
) => boolean | Promise<boolean> | void;

export type CorsOriginCallback = (
  err: Error | null,
  origin?: boolean | string | RegExp | Array<string | RegExp>,
) => void;

export type CorsStaticOrigin = boolean | string | RegExp | Array<string | RegExp>;

/**
 * One CORS policy. Every object `app.enableCors()` accepts is accepted unchanged; the keys after
 * `optionsSuccessStatus` are this module's own.
 */
export interface CorsPolicyOptions {
  /**
   * Which origins may read responses. `'*'` any (never with credentials), `true` reflect any valid
   * origin except `null`, `false` none, an exact origin (`'https://app.example.com'`), a pattern
   * (`'https://*.example.com'`, `'http://localhost:*'`), a RegExp tested against the whole origin,
   * a list of these, or a function. Default `'*'`, as `enableCors()`.
   */
  origin?: CorsStaticOrigin | CorsOriginFunction;
  /** Methods a preflight may ask for. Default: the methods the route serves. */
  methods?: string | string[];
  /** Request headers a preflight may ask for. Default: any (the request's list is echoed). */
  allowedHeaders?: string | string[];
  /**
   * The `cors` package's alias of `allowedHeaders`, accepted so that `enableCors()` options work
   * unchanged. Giving both with different values is an error.
   * @deprecated Use `allowedHeaders`.
   */
  headers?: string | string[];
  /** Response headers the page may read (`Access-Control-Expose-Headers`). */
  exposedHeaders?: string | string[];
  /** Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth, client certificates). */
  credentials?: boolean;
  /** `Access-Control-Max-Age` in seconds, 0..86400 (Chromium caps at 7200, Safari at 600). */
  maxAge?: number;
  /** After a successful preflight, hand the request on to the app's own OPTIONS route. */
  preflightContinue?: boolean;
  /** Status of a successful preflight, 200..299. Default 204. */
  optionsSuccessStatus?: number;
  /** Answer 403 to a cross-origin actual request from an origin this policy refuses. */
  enforce?: boolean;
  /** Legacy Private Network Access: answer `Access-Control-Request-Private-Network: true`. */
  privateNetwork?: boolean;
  /** `Cache-Control` on successful preflights: seconds (`max-age=N`) or a raw value. */
  preflightCacheControl?: string | number;
  /**
   * How long an origin function may take to answer, in milliseconds (an integer in 1..60000).
   * Past it the request is refused and an error is logged. Default 3000.
   */
  originTimeout?: number;
}

/**
 * The options of the module defaults or of a named policy: a policy, plus where its live origins
 * come from (never in `@Cors()`, where options are static).
 */
export interface CorsNamedPolicyOptions extends CorsPolicyOptions {
  /**
   * A store the app instances share (`new RedisOriginSource(...)` from `'nestjs-cors/redis'`, or
   * your own `OriginSource`): its origins are allowed in addition to `origin` (a list, or left
   * out for live origins only), parsed as strictly. The boot waits for its first load.
   */
  originSource?: OriginSource;
}

export interface CorsModuleOptions extends CorsNamedPolicyOptions {
  /** Named policies, used as `@Cors('name')`. */
  policies?: Record<string, CorsNamedPolicyOptions>;
  /**
   * Policies for paths no controller route serves (GraphQL, Swagger UI, static files, routes added
   * on the HTTP adapter): a path pattern in the router's syntax (`'/graphql'`, `'/docs{/*rest}'`)
   * and what `@Cors()` takes: a policy name, options merged over the module defaults, or `false`.
   * The first matching pattern decides; controller routes always keep their own policy.
   */
  paths?: Record<string, CorsDecoratorValue>;
  /**
   * Safe proxies to APIs the frontend cannot change: a plain path prefix (`'/vendor'`, not under
   * the global prefix) and where its requests go. Requests under it are forwarded to the fixed
   * `target` and answered with the CORS headers of the entry's `policy`; preflights are answered
   * here, never forwarded. See the README, "When you don't control the API".
   */
  proxies?: Record<string, CorsProxyOptions>;
  /** `'all'` (default): every route gets the module defaults; `'decorated'`: only routes under `@Cors`. */
  routes?: 'all' | 'decorated';
  /** Log every denial with its reason and print the policy table at boot. */
  debug?: boolean;
}

/** One `proxies` entry (see the README, "When you don't control the API"). */
export interface CorsProxyOptions {
  /**
   * Where requests under the prefix go: an absolute `http://` or `https://` URL whose scheme, host
   * and port are fixed at boot. Its path is the base path: `/vendor/a/b` goes to
   * `<target path>/a/b`, `/vendor` itself to the target's path as written. No userinfo, query or
   * fragment (not even an empty `?` or `#`).
   */
  target: string;
  /**
   * The CORS policy of the proxied paths, as `@Cors()` takes it: a policy name, options merged
   * over the module defaults, or `false` (no CORS headers). Default: the module defaults, even
   * under `routes: 'decorated'`.
   */
  policy?: CorsDecoratorValue;
  /**
   * Request headers forwarded besides the defaults (`accept`, `accept-language`, `content-type`,
   * `content-language` and the body framing): e.g. `['authorization', 'cookie', 'x-api-key']`.
   * `origin` and `referer` are not forwarded unless listed. Hop-by-hop headers, `host`,
   * `forwarded`, `x-forwarded-*` and `expect` cannot be listed (the proxy sets or handles them).
   */
  forwardHeaders?: string[];
  /**
   * Fixed request headers the server adds (an API key from `ConfigService`): they replace any
   * header of the same name the client sent, and the client cannot remove them. Their values
   * never appear in `describe()`. Same forbidden names as `forwardHeaders`, plus
   * `content-length`; a name cannot be in both lists.
   */
  setHeaders?: Record<string, string>;
  /** Pass the target's `Set-Cookie` to the client. Default `false`: dropped. */
  forwardSetCookie?: boolean;
  /**
   * Milliseconds to get a connected socket (DNS lookup, TCP connect and, for `https`, the TLS
   * handshake), an integer in 1..600000. Default 5000. Past it: 504.
   */
  connectTimeout?: number;
  /**
   * Milliseconds for the whole exchange, from the request's arrival to the last byte of the
   * answer's body, an integer in 1..600000. Default 30000. Past it: 504 if no answer has started,
   * otherwise the answer is cut (the connection is destroyed). Raise it for long downloads.
   */
  timeout?: number;
  /**
   * Largest request body in bytes, an integer ≥ 0. Default 1048576 (1 MiB). A larger
   * `Content-Length` is answered 413 without connecting to the target; a chunked body that grows
   * past it aborts the target's request and is answered 413.
   */
  maxRequestBytes?: number;
}

/** What `@Cors()` stores: options, a policy name, or `false` (CORS off). */
export type CorsDecoratorValue = CorsPolicyOptions | string | false;
