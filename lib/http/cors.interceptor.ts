import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { tap, type Observable } from 'rxjs';
import { varyIncludes, appendVary } from '../engine/vary.js';
import { CORS_POLICY, CORS_VERDICT, type CorsRequest } from './cors-request-handler.js';

/**
 * After the handler: if handler code replaced the CORS headers or `Vary`, put them back, so a
 * `res.header('Vary', 'Accept')` cannot open a cache-poisoning hole.
 */
@Injectable()
export class CorsInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<CorsRequest>();
    const policy = req[CORS_POLICY];
    if (policy === undefined) return next.handle();
    const res = context.switchToHttp().getResponse<ServerResponse>();
    return next.handle().pipe(
      tap(() => {
        if (res.headersSent) return;
        const verdict = req[CORS_VERDICT];
        if (
          typeof verdict === 'string' &&
          res.getHeader('Access-Control-Allow-Origin') !== verdict
        ) {
          policy.writeActual(res, verdict);
        } else if (policy.varyOrigin && !varyIncludes(res, 'Origin')) {
          appendVary(res, 'Origin');
        }
      }),
    );
  }
}
