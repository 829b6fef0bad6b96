/**
 * Error responses carry the CORS headers (401 from the app's own APP_GUARD, 400 from a pipe,
 * 404, 500, body-parser errors with `mountEarly`), `enforce: true`, and the header hook that
 * repairs what handler code did to `Vary` and the CORS headers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  Post,
  Res,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type PipeTransform,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Response as ExpressResponse } from 'express';
import type { FastifyReply } from 'fastify';
import { Cors, CorsModule } from '../../lib/index.js';
import {
  ADAPTERS,
  acHeaders,
  get,
  http,
  listenApp,
  makeApp,
  type Response,
  varyOf,
} from './helpers.js';

const APP = 'https://app.example';
const EVIL = 'https://evil.example';

const calls = { guard: 0, handler: 0, strict: 0, strictPost: 0 };

function resetCalls(): void {
  for (const key of Object.keys(calls)) calls[key as keyof typeof calls] = 0;
}

/** The headers an allowed cross-origin response must carry, whatever its status. */
function expectAllowed(res: Response): void {
  expect(res.headers['access-control-allow-origin']).toBe(APP);
  expect(res.headers['access-control-allow-credentials']).toBe('true');
  expect(res.headers['access-control-expose-headers']).toBe('x-request-id');
  expect(varyOf(res)).toContain('origin');
}

/** A refused origin: no Access-Control-* header, `Vary: Origin` still there. */
function expectRefused(res: Response): void {
  expect(acHeaders(res)).toEqual({});
  expect(varyOf(res)).toContain('origin');
}

@Injectable()
class AppAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    calls.guard++;
    // Express's Request and Fastify's FastifyRequest both have the request-target as `url`.
    const req = context.switchToHttp().getRequest<{ url: string }>();
    if (req.url.startsWith('/private')) throw new UnauthorizedException('no token');
    return true;
  }
}

@Injectable()
class NumberPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (!/^[0-9]+$/.test(value)) throw new BadRequestException('id must be a number');
    return Number(value);
  }
}

/**
 * What `@Res({ passthrough: true })` hands a handler: Express's Response, or Fastify's reply. Each
 * handler below changes the headers the way handler code does on its adapter.
 */
type HandlerResponse = ExpressResponse | FastifyReply;

function isFastifyReply(res: HandlerResponse): res is FastifyReply {
  return 'raw' in res;
}

/** Replaces a header: `res.setHeader` on Express, `reply.header` on Fastify (sent over the raw ones). */
function replaceHeader(res: HandlerResponse, name: string, value: string): void {
  if (isFastifyReply(res)) res.header(name, value);
  else res.setHeader(name, value);
}

/**
 * Removes a header. Fastify's `reply.removeHeader` only drops headers set through the reply, and
 * the module sets its headers on the raw response: code that removes them goes through `reply.raw`.
 */
function removeHeader(res: HandlerResponse, name: string): void {
  if (isFastifyReply(res)) res.raw.removeHeader(name);
  else res.removeHeader(name);
}

@Controller()
class AppController {
  @Get('private/data')
  privateData() {
    calls.handler++;
    return 'secret';
  }

  @Get('items/:id')
  item(@Param('id', NumberPipe) id: number) {
    calls.handler++;
    return { id };
  }

  @Get('boom')
  boom() {
    calls.handler++;
    throw new Error('kaboom');
  }

  @Post('echo')
  echo(@Body() body: unknown) {
    calls.handler++;
    return body;
  }

  @Get('vary-replaced')
  varyReplaced(@Res({ passthrough: true }) res: HandlerResponse) {
    replaceHeader(res, 'Vary', 'Accept');
    return 'vary';
  }

  @Get('acao-removed')
  acaoRemoved(@Res({ passthrough: true }) res: HandlerResponse) {
    removeHeader(res, 'Access-Control-Allow-Origin');
    removeHeader(res, 'Vary');
    return 'removed';
  }

  @Get('acao-replaced')
  acaoReplaced(@Res({ passthrough: true }) res: HandlerResponse) {
    replaceHeader(res, 'Access-Control-Allow-Origin', '*');
    return 'replaced';
  }
}

@Controller('strict')
@Cors({ enforce: true })
class StrictController {
  @Get()
  read() {
    calls.strict++;
    return 'strict';
  }

  @Post()
  write() {
    calls.strictPost++;
    return 'written';
  }
}

@Module({
  imports: [
    CorsModule.forRoot({ origin: [APP], credentials: true, exposedHeaders: ['x-request-id'] }),
  ],
  controllers: [AppController, StrictController],
  // The app's own global guard, in the root module: it runs before the module's CORS guard.
  providers: [{ provide: APP_GUARD, useClass: AppAuthGuard }],
})
class AppModule {}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('error responses carry the CORS headers', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp({ imports: [AppModule] }, undefined, adapter);
    });
    afterAll(() => app.close());
    beforeEach(resetCalls);

    it("401 from the app's root APP_GUARD", async () => {
      const res = await get(app, '/private/data', APP).expect(401);
      expectAllowed(res);
      expect(res.body).toMatchObject({ statusCode: 401, message: 'no token' });
      expect(calls.guard).toBe(1);
      expect(calls.handler).toBe(0);
    });

    it('401 for a refused origin: no Access-Control-* header', async () => {
      expectRefused(await get(app, '/private/data', EVIL).expect(401));
    });

    it('400 from a pipe', async () => {
      const res = await get(app, '/items/abc', APP).expect(400);
      expectAllowed(res);
      expect(res.body).toMatchObject({ statusCode: 400, message: 'id must be a number' });
      expect(calls.handler).toBe(0);
      expectRefused(await get(app, '/items/abc', EVIL).expect(400));
    });

    it('404 for an unknown path', async () => {
      const res = await get(app, '/no/such/path', APP).expect(404);
      expectAllowed(res);
      expectRefused(await get(app, '/no/such/path', EVIL).expect(404));
    });

    it('500 from a handler that throws', async () => {
      const res = await get(app, '/boom', APP).expect(500);
      expectAllowed(res);
      expect(calls.handler).toBe(1);
      expectRefused(await get(app, '/boom', EVIL).expect(500));
    });

    it('the successful response, for comparison', async () => {
      const res = await get(app, '/items/7', APP).expect(200, { id: 7 });
      expectAllowed(res);
    });
  });

  describe('enforce: true', () => {
    let app: INestApplication;
    let port: number;

    beforeAll(async () => {
      ({ app, port } = await listenApp({ imports: [AppModule] }, undefined, adapter));
    });
    afterAll(() => app.close());
    beforeEach(resetCalls);

    it('a refused cross-origin actual request → 403, the handler does not run', async () => {
      const res = await get(app, '/strict', EVIL).expect(403);
      expect(calls.strict).toBe(0);
      expectRefused(res);
      const post = await http(app).post('/strict').set('Origin', EVIL).expect(403);
      expect(calls.strictPost).toBe(0);
      expectRefused(post);
    });

    it("'null' and malformed origins are refused too", async () => {
      for (const origin of ['null', 'https://APP.example', `${APP}/`]) {
        const res = await http(app).post('/strict').set('Origin', origin);
        expect(res.status).toBe(403);
        expect(acHeaders(res)).toEqual({});
      }
      expect(calls.strictPost).toBe(0);
    });

    it('an allowed origin passes', async () => {
      const res = await get(app, '/strict', APP).expect(200, 'strict');
      expectAllowed(res);
      expect(calls.strict).toBe(1);
    });

    it('a request without Origin is not a CORS request: it passes', async () => {
      const res = await http(app).get('/strict').expect(200, 'strict');
      expect(acHeaders(res)).toEqual({});
      expect(calls.strict).toBe(1);
    });

    it('a same-origin request (Origin = the server origin) is never rejected', async () => {
      const self = `http://127.0.0.1:${port}`;
      const res = await http(app).post('/strict').set('Origin', self).expect(201, 'written');
      expect(calls.strictPost).toBe(1);
      expect(acHeaders(res)).toEqual({});
      // The same with a Host header the client chose (a proxy-less virtual host).
      const vhost = await http(app)
        .post('/strict')
        .set('Host', 'api.example.net')
        .set('Origin', 'http://api.example.net')
        .expect(201);
      expect(acHeaders(vhost)).toEqual({});
      expect(calls.strictPost).toBe(2);
    });

    it('a different port or scheme is cross-origin: rejected', async () => {
      for (const origin of [`http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`]) {
        const res = await http(app).post('/strict').set('Origin', origin);
        expect(res.status).toBe(403);
      }
      expect(calls.strictPost).toBe(0);
    });

    it('routes without enforce let refused origins through (no headers)', async () => {
      const res = await get(app, '/items/3', EVIL).expect(200, { id: 3 });
      expectRefused(res);
    });
  });

  describe('the CORS headers are put back when handler code replaced them', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp({ imports: [AppModule] }, undefined, adapter);
    });
    afterAll(() => app.close());

    it("res.setHeader('Vary', 'Accept') in a handler: Vary still names Origin, ACAO intact", async () => {
      const res = await get(app, '/vary-replaced', APP).expect(200, 'vary');
      expect(varyOf(res)).toEqual(expect.arrayContaining(['accept', 'origin']));
      expectAllowed(res);
    });

    it('the same for a refused origin: Vary still names Origin', async () => {
      const res = await get(app, '/vary-replaced', EVIL).expect(200, 'vary');
      expect(varyOf(res)).toEqual(expect.arrayContaining(['accept', 'origin']));
      expect(acHeaders(res)).toEqual({});
    });

    it('a handler that removed ACAO and Vary: both are put back', async () => {
      const res = await get(app, '/acao-removed', APP).expect(200, 'removed');
      expectAllowed(res);
    });

    it("a handler that replaced ACAO with '*': the exact origin is put back", async () => {
      const res = await get(app, '/acao-replaced', APP).expect(200, 'replaced');
      expectAllowed(res);
    });
  });

  describe('CorsModule.mountEarly(app): body-parser errors carry the headers', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp({ imports: [AppModule] }, (a) => CorsModule.mountEarly(a), adapter);
    });
    afterAll(() => app.close());
    beforeEach(resetCalls);

    it('400 for malformed JSON', async () => {
      const res = await http(app)
        .post('/echo')
        .set('Origin', APP)
        .set('Content-Type', 'application/json')
        .send('{"broken":')
        .expect(400);
      expectAllowed(res);
      expect(calls.handler).toBe(0);
    });

    it('the app still works, and preflights are answered once', async () => {
      const res = await http(app)
        .post('/echo')
        .set('Origin', APP)
        .send({ a: 1 })
        .expect(201, { a: 1 });
      expectAllowed(res);
      const pre = await http(app)
        .options('/echo')
        .set('Origin', APP)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'content-type')
        .expect(204);
      expect(pre.headers['access-control-allow-origin']).toBe(APP);
      expect(pre.headers['access-control-allow-headers']).toBe('content-type');
    });
  });
});
