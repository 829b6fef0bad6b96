import { ForbiddenException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { CorsDenial, type CorsPolicy, type OriginVerdict } from '../engine/cors-policy.js';
import { isSameOrigin } from '../engine/origin.js';
import type { RouteTarget } from '../routing/path-index.js';
import {
  CORS_POLICY,
  CORS_PREFLIGHT,
  CORS_VERDICT,
  type CorsRequest,
} from './cors-request-handler.js';

const CORS_RESPONSE_HEADERS = [
  'Access-Control-Allow-Origin',
  'Access-Control-Allow-Credentials',
  'Access-Control-Expose-Headers',
];

/** Where the guard finds a handler's route and policy. */
export interface CorsTargets {
  /** The handler's route in this application, or undefined (another application's request). */
  targetOf(handler: Function, req: object): RouteTarget | undefined;
}

/**
 * Knows the exact handler: corrects what the path could not decide (host-bound controllers,
 * header or media-type versioning) and enforces `enforce: true` with a 403. The module puts it
 * on the handlers that need it, and only those: a route without it pays nothing.
 */
export class CorsGuard implements CanActivate {
  constructor(private readonly cors: CorsTargets) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<CorsRequest>();
    if (req[CORS_PREFLIGHT]) return true;
    const target = this.cors.targetOf(context.getHandler(), req);
    if (target === undefined) return true;
    const policy = target.policy;
    if (target.verify && (req[CORS_POLICY] ?? null) !== policy) {
      // The middleware applied another handler's policy at this path: redo it for this one.
      const res = context.switchToHttp().getResponse<ServerResponse>();
      for (const name of CORS_RESPONSE_HEADERS) res.removeHeader(name);
      req[CORS_POLICY] = policy ?? undefined;
      req[CORS_VERDICT] = undefined;
      if (policy === null) return true;
      const verdict = policy.checkOrigin(req.headers.origin, req);
      const apply = (v: OriginVerdict): boolean => {
        if (!res.headersSent) policy.writeActual(res, v);
        req[CORS_VERDICT] = v;
        return this.enforce(req, policy, v);
      };
      return isSettled(verdict) ? apply(verdict) : verdict.then(apply);
    }
    if (policy === null || !policy.enforce) return true;
    // The verdict is on the request when the middleware had to keep it (origin function).
    const verdict = req[CORS_VERDICT] ?? policy.checkOrigin(req.headers.origin, req);
    return isSettled(verdict)
      ? this.enforce(req, policy, verdict)
      : verdict.then((v) => this.enforce(req, policy, v));
  }

  private enforce(req: CorsRequest, policy: CorsPolicy, verdict: OriginVerdict): boolean {
    if (!policy.enforce || typeof verdict === 'string') return true;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const expressProtocol = (req as unknown as { protocol?: string }).protocol;
    const protocol =
      expressProtocol ?? ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
    if (isSameOrigin(origin, protocol, req.headers.host)) return true;
    throw new ForbiddenException(
      `CORS: origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`,
    );
  }
}

export function isSettled(v: OriginVerdict | Promise<OriginVerdict>): v is OriginVerdict {
  return typeof v === 'string' || v instanceof CorsDenial;
}
