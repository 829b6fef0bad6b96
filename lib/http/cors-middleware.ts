/**
 * The CORS middleware: a plain Node-style middleware the adapter mounts before every route, guard
 * and Nest middleware. It reads the policy table, asks the engine, and writes headers: it answers
 * preflights, and decorates actual requests before anything can throw, so error responses carry
 * the headers too. Just before the headers go out it puts back what later code replaced.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CorsDenial, type CorsPolicy, type OriginVerdict } from '../engine/cors-policy.js';
import { isSameOrigin } from '../engine/origin.js';
import {
  decidePreflight,
  writePreflightHeaders,
  type PreflightAnswer,
} from '../engine/preflight.js';
import { appendVary, type HeaderTarget } from '../engine/vary.js';
import type { PolicyTable, TableRoute } from '../routing/policy-table.js';
import { beforeHeaders } from './before-headers.js';
import type { CorsAdapter } from './cors-adapter.js';

/** What the middleware decided for an actual request; the guard may correct it. */
export interface CorsRequestState {
  route: TableRoute;
  policy: CorsPolicy;
  verdict: OriginVerdict;
}

export const CORS_STATE = Symbol('nestjs-cors.state');
/** Marks a preflight handed on to the app (`preflightContinue`). */
export const CORS_PREFLIGHT = Symbol('nestjs-cors.preflight');

export interface CorsRequest extends IncomingMessage {
  [CORS_STATE]?: CorsRequestState;
  [CORS_PREFLIGHT]?: true;
}

/**
 * Where the state of a request is kept: on the raw request, which every layer can reach (on
 * Fastify the middleware may be given Fastify's request, which wraps it).
 */
function holder(req: CorsRequest): CorsRequest {
  return (req as { raw?: CorsRequest }).raw ?? req;
}

type Next = (err?: unknown) => void;

/** Where denial lines go (`debug: true` only). */
export type DenialLog = ((line: string) => void) | undefined;

const VARY_ANY_PREFLIGHT = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

export class CorsMiddleware {
  private table: PolicyTable | undefined;

  constructor(
    private readonly adapter: CorsAdapter,
    private readonly logDenial: DenialLog,
  ) {}

  /** Activates the middleware, or swaps in a new table (it passes requests through until then). */
  use(table: PolicyTable): void {
    this.table = table;
  }

  get current(): PolicyTable | undefined {
    return this.table;
  }

  /** The middleware, bound once. */
  readonly handle = (req: CorsRequest, res: ServerResponse, next: Next): void => {
    const table = this.table;
    if (table === undefined) return next();
    const path = this.adapter.pathOf(req);
    if (path === undefined) return next(); // the router cannot route it either
    const origin = req.headers.origin;
    if (req.method === 'OPTIONS' && origin !== undefined) {
      const requestMethod = req.headers['access-control-request-method'];
      if (requestMethod !== undefined) {
        return this.preflight(table, req, res, next, path, origin, requestMethod as string);
      }
    }
    const route = table.routeFor(path, req.method as string, req) ?? table.offRouteFor(path);
    const policy = route.policy;
    if (policy === null) return route.proxy ? this.forward(req, res, route, path) : next();
    const verdict = policy.checkOrigin(origin, req);
    if (typeof verdict === 'string' || verdict instanceof CorsDenial) {
      this.decorate(req, res, route, policy, verdict, path);
      return route.proxy ? this.proxy(req, res, route, path, verdict) : next();
    }
    verdict.then((settled) => {
      this.decorate(req, res, route, policy, settled, path);
      if (route.proxy) this.proxy(req, res, route, path, settled);
      else next();
    });
  };

  /**
   * A proxied path: forwarded to its target with the decided headers, except a cross-origin
   * request from a refused origin, which the proxy never relays (403): a page may not make the
   * server send requests for it that it could not read.
   */
  private proxy(
    req: CorsRequest,
    res: ServerResponse,
    route: TableRoute,
    path: string,
    verdict: OriginVerdict,
  ): void {
    const origin = req.headers.origin;
    if (typeof verdict !== 'string' && origin !== undefined && !this.isSameOrigin(req, origin)) {
      res.statusCode = 403;
      res.setHeader('Content-Length', '0');
      res.end();
      return;
    }
    this.forward(req, res, route, path);
  }

  private forward(req: CorsRequest, res: ServerResponse, route: TableRoute, path: string): void {
    // The router's path may still hold the query (find-my-way splits it off itself).
    const query = path.indexOf('?');
    const routed = query === -1 ? path : path.slice(0, query);
    route.proxy!.forward(holder(req), res, routed, this.adapter.protocolOf(req));
  }

  private decorate(
    req: CorsRequest,
    res: ServerResponse,
    route: TableRoute,
    policy: CorsPolicy,
    verdict: OriginVerdict,
    path: string,
  ): void {
    // Kept on the request for the guard, which only looks at enforcing policies.
    if (policy.enforce) holder(req)[CORS_STATE] = { route, policy, verdict };
    // Written as the headers go out, whatever answers (a handler, a guard's 401, a filter, a
    // 404): last, so nothing can replace them, and into the headers Fastify hands over.
    beforeHeaders(res, (target) => writeDecided(target, req, policy, verdict));
    if (typeof verdict !== 'string' && this.logDenial !== undefined) {
      const origin = req.headers.origin;
      if (origin !== undefined && !this.isSameOrigin(req, origin)) {
        this.log(req, path, route.name, verdict.reason, route.source);
      }
    }
  }

  /** Same-origin requests carry `Origin` on POST; they need no CORS headers and are not denials. */
  isSameOrigin(req: IncomingMessage, origin: string): boolean {
    return isSameOrigin(origin, this.adapter.protocolOf(req), req.headers.host);
  }

  private preflight(
    table: PolicyTable,
    req: CorsRequest,
    res: ServerResponse,
    next: Next,
    path: string,
    origin: string,
    requestMethod: string,
  ): void {
    const target = table.preflightRoute(path, requestMethod, req);
    // CORS off for the handler that will run: the app answers (its own OPTIONS route, or a 404).
    if (target === 'cors-off') return next();
    if (target === 'method-not-served' || target === 'cors-off-candidate') {
      const reason =
        target === 'method-not-served'
          ? `method ${JSON.stringify(requestMethod)} is not served at this path`
          : 'a handler that may serve this request (another version) has CORS off';
      return this.deny(req, res, path, '(no route)', reason, VARY_ANY_PREFLIGHT);
    }
    const answer = decidePreflight(
      {
        origin,
        method: requestMethod,
        headers: joined(req.headers['access-control-request-headers']),
        privateNetwork: req.headers['access-control-request-private-network'] === 'true',
        request: req,
      },
      target,
    );
    const routes = target.routes;
    if (!(answer instanceof Promise)) return this.answer(req, res, next, path, answer, routes);
    answer.then((settled) => this.answer(req, res, next, path, settled, routes));
  }

  private answer(
    req: CorsRequest,
    res: ServerResponse,
    next: Next,
    path: string,
    answer: PreflightAnswer,
    routes: readonly TableRoute[],
  ): void {
    if (!answer.allowed) {
      // A refusal before any policy (an invalid method) is told with the first route.
      const route = routes[Math.max(answer.refusedBy, 0)];
      return this.deny(
        req,
        res,
        path,
        route.name,
        `${answer.reason} (${route.source})`,
        answer.vary,
      );
    }
    writePreflightHeaders(res, answer);
    if (answer.handOn) {
      holder(req)[CORS_PREFLIGHT] = true;
      return next();
    }
    res.statusCode = answer.status;
    if (answer.status !== 204) res.setHeader('Content-Length', '0');
    res.end();
  }

  /** 403, no `Access-Control-*` header, no handler, no guard (cors-rules §2 item 5). */
  private deny(
    req: CorsRequest,
    res: ServerResponse,
    path: string,
    route: string,
    reason: string,
    vary: string,
  ): void {
    if (this.logDenial !== undefined) this.log(req, path, route, reason);
    res.statusCode = 403;
    appendVary(res, vary);
    res.setHeader('Content-Length', '0');
    res.end();
  }

  private log(
    req: IncomingMessage,
    path: string,
    route: string,
    reason: string,
    source?: string,
  ): void {
    const preflight =
      req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    // For a preflight, the method named is the one it asks for (Access-Control-Request-Method).
    const method = preflight ? req.headers['access-control-request-method'] : req.method;
    const line =
      `CORS denied ${preflight ? 'preflight' : 'request'} ${printable(method, 40)} ` +
      `${printable(path, 200)} from "${printable(req.headers.origin, 200, true)}" → ${route}: ` +
      printable(reason, 400) +
      (source && !reason.includes(source) ? ` (${source})` : '');
    this.logDenial?.(line);
  }
}

/** Several `Access-Control-Request-Headers` lines (a proxy) are one list. */
function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Just before the headers go out: the decided headers, over whatever later code (a handler, an
 * interceptor, a filter, another middleware) set, and `Origin` appended to its `Vary`, so a
 * `res.setHeader('Vary', 'Accept')` cannot open a cache-poisoning hole.
 */
function writeDecided(
  target: HeaderTarget,
  req: CorsRequest,
  decidedPolicy: CorsPolicy,
  decidedVerdict: OriginVerdict,
): void {
  // The guard may have redone the decision for the exact handler.
  const state = holder(req)[CORS_STATE];
  (state?.policy ?? decidedPolicy).writeActual(target, state?.verdict ?? decidedVerdict);
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
