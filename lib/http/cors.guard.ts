import {
  ForbiddenException,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { CorsDenial, type CorsPolicy, type OriginVerdict } from '../engine/cors-policy.js';
import { isSameOrigin } from '../engine/origin.js';
import { CorsService } from '../cors.service.js';
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

/**
 * Knows the exact handler: corrects what the path table could not decide (host-bound
 * controllers, header or media-type versioning) and enforces `enforce: true` with a 403.
 */
@Injectable()
export class CorsGuard implements CanActivate {
  constructor(private readonly cors: CorsService) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<CorsRequest>();
    if (req[CORS_PREFLIGHT]) return true;
    const target = this.cors.targetOf(context.getHandler());
    if (target === undefined) return true;
    const policy = target.policy;
    if ((req[CORS_POLICY] ?? null) === policy) {
      return policy === null ? true : this.enforce(req, policy, req[CORS_VERDICT] as OriginVerdict);
    }
    // The middleware applied another route's policy: redo it for this handler.
    const res = context.switchToHttp().getResponse<ServerResponse>();
    for (const name of CORS_RESPONSE_HEADERS) res.removeHeader(name);
    if (policy === null) {
      req[CORS_POLICY] = undefined;
      return true;
    }
    const verdict = policy.checkOrigin(req.headers.origin, req);
    const apply = (v: OriginVerdict): boolean => {
      if (!res.headersSent) policy.writeActual(res, v);
      req[CORS_POLICY] = policy;
      req[CORS_VERDICT] = v;
      return this.enforce(req, policy, v);
    };
    return typeof verdict === 'string' || verdict instanceof CorsDenial
      ? apply(verdict)
      : verdict.then(apply);
  }

  private enforce(req: CorsRequest, policy: CorsPolicy, verdict: OriginVerdict): boolean {
    if (!policy.enforce || typeof verdict === 'string') return true;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const protocol = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    const expressProtocol = (req as unknown as { protocol?: string }).protocol;
    if (isSameOrigin(origin, expressProtocol ?? protocol, req.headers.host)) return true;
    throw new ForbiddenException(
      `CORS: origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`,
    );
  }
}
