/**
 * The early half of the module: a plain Node-style middleware mounted before the app's routes,
 * guards and Nest middleware. It answers preflights with the policy of the route the real
 * request will hit, and sets the actual-request headers before anything can throw.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Logger } from '@nestjs/common';
import onHeaders from 'on-headers';
import { appendVary, varyIncludes } from '../engine/vary.js';
import { CorsDenial, type CorsPolicy, type OriginVerdict } from '../engine/cors-policy.js';
import type { PathEntry, PathIndex, RouteTarget } from '../routing/path-index.js';

/** Set on the request by the middleware, only when the guard will need them. */
export const CORS_POLICY = Symbol('nestjs-cors.policy');
export const CORS_VERDICT = Symbol('nestjs-cors.verdict');
/** Marks a preflight handed on to the app (`preflightContinue`). */
export const CORS_PREFLIGHT = Symbol('nestjs-cors.preflight');

export interface CorsRequest extends IncomingMessage {
  [CORS_POLICY]?: CorsPolicy;
  [CORS_VERDICT]?: OriginVerdict;
  [CORS_PREFLIGHT]?: true;
}

type Next = (err?: unknown) => void;

const VARY_ALL_PREFLIGHT = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

/** Why a preflight was refused, and by which route's policy. */
interface Denial {
  route: string;
  reason: string;
  policy?: CorsPolicy;
}

interface PreflightContext {
  req: CorsRequest;
  res: ServerResponse;
  next: Next;
  path: string;
  origin: string;
  requestMethod: string;
  entry: PathEntry;
  targets: readonly RouteTarget[];
}

export interface CorsTable {
  index: PathIndex;
  /** Policy for paths no route matches (404s), or null. */
  fallback: CorsPolicy | null;
}

export class CorsRequestHandler {
  private table: CorsTable | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly debug: boolean,
  ) {}

  /** Activates the handler (it passes every request through until then). */
  setTable(table: CorsTable): void {
    this.table = table;
  }

  /** The middleware, bound once. */
  readonly handle = (req: CorsRequest, res: ServerResponse, next: Next): void => {
    const table = this.table;
    if (table === undefined) return next();
    const headers = req.headers;
    const origin = headers.origin;
    const method = req.method as string;
    const path = pathOf(req.url as string);
    if (method === 'OPTIONS' && origin !== undefined) {
      const requestMethod = headers['access-control-request-method'];
      if (requestMethod !== undefined) {
        return this.preflight(table, req, res, next, path, origin, requestMethod as string);
      }
    }
    const target = table.index.find(path)?.targetsFor(method)?.[0];
    const policy = target === undefined ? table.fallback : target.policy;
    if (policy === null) return next();
    const verdict = policy.checkOrigin(origin, req);
    if (typeof verdict === 'string' || verdict instanceof CorsDenial) {
      this.applyActual(req, res, policy, verdict, target, path);
      return next();
    }
    verdict.then((v) => {
      this.applyActual(req, res, policy, v, target, path);
      next();
    }, next);
  };

  private applyActual(
    req: CorsRequest,
    res: ServerResponse,
    policy: CorsPolicy,
    verdict: OriginVerdict,
    target: RouteTarget | undefined,
    path: string,
  ): void {
    policy.writeActual(res, verdict);
    // Kept on the request only when the guard will need it: when another handler may serve this
    // path, or when the verdict came from an origin function (never called twice).
    if (target?.verify || policy.originMode === 'function') {
      req[CORS_POLICY] = policy;
      req[CORS_VERDICT] = verdict;
      onHeaders(res, () => reassert(res, req[CORS_POLICY] ?? null, req[CORS_VERDICT]));
    } else {
      onHeaders(res, () => reassert(res, policy, verdict));
    }
    if (typeof verdict !== 'string' && req.headers.origin !== undefined) {
      this.logDenial(
        req,
        path,
        target?.name ?? '(no route)',
        target?.source ?? 'module',
        verdict.reason,
      );
    }
  }

  private preflight(
    table: CorsTable,
    req: CorsRequest,
    res: ServerResponse,
    next: Next,
    path: string,
    origin: string,
    requestMethod: string,
  ): void {
    const entry = table.index.find(path);
    // No route here has CORS on: the app answers (its own OPTIONS route, or a 404).
    if (entry === undefined || !entry.anyCors) return next();
    const targets = entry.targetsFor(requestMethod);
    if (targets === undefined) {
      const reason = `method ${JSON.stringify(requestMethod)} is not served at this path`;
      return this.deny(req, res, path, { route: '(no route)', reason });
    }
    this.tryTargets({ req, res, next, path, origin, requestMethod, entry, targets }, 0, undefined);
  }

  /**
   * Tries the handlers that serve (path, method) in registration order: the first whose policy
   * allows this preflight answers it. Usually there is one; header or media-type versioning and
   * host-bound controllers put several at one path, and a preflight carries no version or host hint.
   */
  private tryTargets(p: PreflightContext, from: number, firstDenial: Denial | undefined): void {
    for (let i = from; i < p.targets.length; i++) {
      const target = p.targets[i];
      const policy = target.policy;
      if (policy === null) {
        firstDenial ??= { route: target.name, reason: 'CORS is disabled on this route' };
        continue;
      }
      const verdict = policy.checkOrigin(p.origin, p.req);
      if (typeof verdict !== 'string' && !(verdict instanceof CorsDenial)) {
        verdict.then((v) => {
          const denial = this.answerIfAllowed(p, target, policy, v);
          if (denial !== undefined) this.tryTargets(p, i + 1, firstDenial ?? denial);
        }, p.next);
        return;
      }
      const denial = this.answerIfAllowed(p, target, policy, verdict);
      if (denial === undefined) return;
      firstDenial ??= denial;
    }
    this.deny(p.req, p.res, p.path, firstDenial as Denial);
  }

  /** Answers the preflight if `policy` allows it; otherwise returns why not. */
  private answerIfAllowed(
    p: PreflightContext,
    target: RouteTarget,
    policy: CorsPolicy,
    verdict: OriginVerdict,
  ): Denial | undefined {
    if (typeof verdict !== 'string') {
      return { route: target.name, reason: `${verdict.reason} (${target.source})`, policy };
    }
    const { req, res, requestMethod } = p;
    const allowHeaders = policy.checkPreflight(
      requestMethod,
      req.headers['access-control-request-headers'],
    );
    if (typeof allowHeaders !== 'string') {
      return { route: target.name, reason: `${allowHeaders.reason} (${target.source})`, policy };
    }
    const privateNetwork = req.headers['access-control-request-private-network'] === 'true';
    const allowMethods = p.entry.allowMethods(requestMethod, policy, p.origin, allowHeaders);
    policy.writePreflight(res, verdict, allowMethods, allowHeaders, privateNetwork);
    if (policy.preflightContinue) {
      req[CORS_PREFLIGHT] = true;
      p.next();
      return undefined;
    }
    res.statusCode = policy.successStatus;
    if (res.statusCode !== 204) res.setHeader('Content-Length', '0');
    res.end();
    return undefined;
  }

  /** 403, no `Access-Control-*` header, no handler, no guard (cors-rules §2 item 5). */
  private deny(req: CorsRequest, res: ServerResponse, path: string, denial: Denial): void {
    const { route, reason, policy } = denial;
    this.logDenial(req, path, route, undefined, reason);
    res.statusCode = 403;
    if (policy !== undefined) policy.writePreflightVary(res);
    else res.setHeader('Vary', VARY_ALL_PREFLIGHT);
    res.setHeader('Content-Length', '0');
    res.end();
  }

  private logDenial(
    req: CorsRequest,
    path: string,
    route: string,
    source: string | undefined,
    reason: string,
  ): void {
    if (!this.debug && !Logger.isLevelEnabled('debug')) return;
    const preflight =
      req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    // For a preflight, the method named is the one it asks for (Access-Control-Request-Method).
    const method = preflight ? req.headers['access-control-request-method'] : req.method;
    const line =
      `CORS denied ${preflight ? 'preflight' : 'request'} ${printable(method, 40)} ` +
      `${printable(path, 200)} from "${printable(req.headers.origin, 200)}" → ${route}: ` +
      printable(reason, 400) +
      (source && !reason.includes(source) ? ` (${source})` : '');
    if (this.debug) this.logger.log(line);
    else this.logger.debug(line);
  }
}

/** The path of a request target: origin-form `/a?b`, or absolute-form `http://host/a?b`. */
function pathOf(url: string): string {
  let start = 0;
  if (url.charCodeAt(0) !== 47) {
    const scheme = url.indexOf('://');
    start = scheme === -1 ? 0 : url.indexOf('/', scheme + 3);
    if (start === -1) return '/';
  }
  let end = url.indexOf('?', start);
  if (end === -1) end = url.length;
  return start === 0 && end === url.length ? url : url.slice(start, end);
}

/**
 * Just before the headers go out: if something after the middleware (handler code, an
 * interceptor, a filter, another middleware) replaced the CORS headers or `Vary`, put them back,
 * so a `res.setHeader('Vary', 'Accept')` cannot open a cache-poisoning hole.
 */
function reassert(
  res: ServerResponse,
  policy: CorsPolicy | null,
  verdict: OriginVerdict | undefined,
): void {
  if (policy === null || verdict === undefined) return;
  if (typeof verdict === 'string' && res.getHeader('Access-Control-Allow-Origin') !== verdict) {
    policy.writeActual(res, verdict);
  } else if (
    policy.varyOrigin &&
    res.getHeader('Vary') !== 'Origin' &&
    !varyIncludes(res, 'Origin')
  ) {
    appendVary(res, 'Origin');
  }
}

/**
 * Request bytes in a log line: one line, no control characters, bounded (no log forging); inside
 * quotes, quotes and backslashes are escaped too.
 */
function printable(value: unknown, max: number, quoted = false): string {
  const text = String(value).slice(0, max);
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const unsafe = quoted ? /[\x00-\x1f\x7f-\x9f"\\]/g : /[\x00-\x1f\x7f-\x9f]/g;
  return text.replace(unsafe, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
