/**
 * The early half of the module: a plain Node-style middleware mounted before the app's routes,
 * guards and Nest middleware. It answers preflights with the policy of the route the real
 * request will hit, and sets the actual-request headers before anything can throw.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Logger } from '@nestjs/common';
import { CorsDenial, type CorsPolicy, type OriginVerdict } from '../engine/cors-policy.js';
import type { PathIndex, RouteTarget } from '../routing/path-index.js';

/** Set on the request by the middleware for the guard and interceptor (no per-request object). */
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
    const url = req.url as string;
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
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
    req[CORS_POLICY] = policy;
    req[CORS_VERDICT] = verdict;
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
      return this.deny(
        req,
        res,
        path,
        '(no route)',
        `method ${JSON.stringify(requestMethod)} is not served at this path`,
      );
    }
    // Several handlers at one (path, method) (header versioning): the first with CORS on answers.
    const target = targets.find((t) => t.policy !== null) ?? targets[0];
    const policy = target.policy;
    if (policy === null)
      return this.deny(req, res, path, target.name, 'CORS is disabled on this route');
    const verdict = policy.checkOrigin(origin, req);
    if (typeof verdict === 'string' || verdict instanceof CorsDenial) {
      return this.answerPreflight(
        req,
        res,
        next,
        path,
        origin,
        requestMethod,
        entry,
        target,
        policy,
        verdict,
      );
    }
    verdict.then(
      (v) =>
        this.answerPreflight(req, res, next, path, origin, requestMethod, entry, target, policy, v),
      next,
    );
  }

  private answerPreflight(
    req: CorsRequest,
    res: ServerResponse,
    next: Next,
    path: string,
    origin: string,
    requestMethod: string,
    entry: NonNullable<ReturnType<PathIndex['find']>>,
    target: RouteTarget,
    policy: CorsPolicy,
    verdict: OriginVerdict,
  ): void {
    if (typeof verdict !== 'string') {
      return this.deny(req, res, path, target.name, `${verdict.reason} (${target.source})`, policy);
    }
    const requestHeaders = req.headers['access-control-request-headers'];
    const allowHeaders = policy.checkPreflight(requestMethod, requestHeaders);
    if (typeof allowHeaders !== 'string') {
      return this.deny(
        req,
        res,
        path,
        target.name,
        `${allowHeaders.reason} (${target.source})`,
        policy,
      );
    }
    const privateNetwork = req.headers['access-control-request-private-network'] === 'true';
    const allowMethods = entry.allowMethods(requestMethod, policy, origin);
    policy.writePreflight(res, verdict, allowMethods, allowHeaders, privateNetwork);
    if (policy.preflightContinue) {
      req[CORS_PREFLIGHT] = true;
      return next();
    }
    res.statusCode = policy.successStatus;
    if (res.statusCode !== 204) res.setHeader('Content-Length', '0');
    res.end();
  }

  /** 403, no `Access-Control-*` header, no handler, no guard (cors-rules §2 item 5). */
  private deny(
    req: CorsRequest,
    res: ServerResponse,
    path: string,
    route: string,
    reason: string,
    policy?: CorsPolicy,
  ): void {
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
    const origin = JSON.stringify(String(req.headers.origin).slice(0, 200));
    const preflight =
      req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    const line =
      `CORS denied ${preflight ? 'preflight' : 'request'} ${req.method} ${path.slice(0, 200)} ` +
      `from ${origin} → ${route}: ${reason}${source && !reason.includes(source) ? ` (${source})` : ''}`;
    if (this.debug) this.logger.log(line);
    else this.logger.debug(line);
  }
}
