import {
  ForbiddenException,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { CorsRuntime } from '../cors.runtime.js';
import { CorsDenial, type OriginVerdict } from '../engine/cors-policy.js';
import type { TableRoute } from '../routing/policy-table.js';
import {
  CORS_PREFLIGHT,
  CORS_STATE,
  type CorsRequest,
  type CorsRequestState,
} from './cors-middleware.js';

const CORS_RESPONSE_HEADERS = [
  'Access-Control-Allow-Origin',
  'Access-Control-Allow-Credentials',
  'Access-Control-Expose-Headers',
];

/**
 * `enforce: true`: a cross-origin request from an origin the route's policy refuses gets Nest's
 * 403 (`ForbiddenException`, through the app's exception filters) before the handler. The module
 * makes it a global guard when a policy enforces; it returns at once for handlers whose policies
 * do not.
 * It knows the exact handler, so it also corrects the rare request whose URL changed after the
 * middleware decided (a Nest middleware rewriting `req.url`).
 */
@Injectable()
export class CorsGuard implements CanActivate {
  constructor(private readonly runtime: CorsRuntime) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const routes = this.runtime.table?.enforcedRoutesOf(context.getHandler());
    if (routes === undefined) return true;
    const request = context.switchToHttp().getRequest<AdapterRequest>();
    // The middleware saw the raw request (Fastify wraps it): its state is there.
    const req = request.raw ?? (request as CorsRequest);
    // A preflight the module handed on to the app (`preflightContinue`, or CORS off there).
    if (req[CORS_PREFLIGHT] || isPreflight(req)) return true;
    const route = exactRoute(routes, context.getClass(), req, matchedPath(request));
    if (route?.policy == null || !route.policy.enforce) return true;
    const state = req[CORS_STATE];
    if (state !== undefined && state.policy === route.policy)
      return this.enforce(req, state.verdict);
    const response = context.switchToHttp().getResponse<{ raw?: ServerResponse }>();
    const res = response.raw ?? (response as ServerResponse);
    const verdict = route.policy.checkOrigin(req.headers.origin, req);
    if (typeof verdict === 'string' || verdict instanceof CorsDenial) {
      return this.enforce(req, redo(req, res, route, verdict));
    }
    return verdict.then((settled) => this.enforce(req, redo(req, res, route, settled)));
  }

  private enforce(req: CorsRequest, verdict: OriginVerdict): boolean {
    const origin = req.headers.origin;
    if (typeof verdict === 'string' || origin === undefined) return true;
    if (this.runtime.isSameOrigin(req, origin)) return true;
    throw new ForbiddenException(
      `CORS: origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`,
    );
  }
}

/** The adapter's request: Express's is the raw request, Fastify's wraps it. */
interface AdapterRequest {
  raw?: CorsRequest;
  route?: { path?: unknown };
  routeOptions?: { url?: unknown };
}

/** The route path the router matched (Express: `req.route.path`; Fastify: `routeOptions.url`). */
function matchedPath(request: AdapterRequest): unknown {
  return request.route?.path ?? request.routeOptions?.url;
}

function isPreflight(req: CorsRequest): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  );
}

/**
 * Which of the handler's routes is running: the middleware's choice when it is one of them, else
 * the one of this controller class at the path the router matched.
 */
function exactRoute(
  routes: readonly TableRoute[],
  controller: Function,
  req: CorsRequest,
  matched: unknown,
): TableRoute | undefined {
  const chosen = req[CORS_STATE]?.route;
  if (chosen !== undefined && chosen.controller === controller && routes.includes(chosen)) {
    return chosen;
  }
  const own = routes.filter((r) => r.controller === controller);
  return own.find((r) => r.path === matched) ?? own[0];
}

/** The middleware decided with another route's policy: write this one's headers instead. */
function redo(
  req: CorsRequest,
  res: ServerResponse,
  route: TableRoute,
  verdict: OriginVerdict,
): OriginVerdict {
  const policy = route.policy!;
  if (!res.headersSent) {
    for (const name of CORS_RESPONSE_HEADERS) res.removeHeader(name);
    policy.writeActual(res, verdict);
  }
  const state: CorsRequestState | undefined = req[CORS_STATE];
  if (state !== undefined) {
    // The header hook reads this state just before the headers go out.
    state.route = route;
    state.policy = policy;
    state.verdict = verdict;
  } else {
    req[CORS_STATE] = { route, policy, verdict };
  }
  return verdict;
}
