/** The README's "Fastify" section: what differs from Express, as it says. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { CorsModule } from '../../lib/index.js';
import { rawSocket } from '../e2e/helpers.js';

const APP = 'https://app.example.com';

@Controller('notes')
class NotesController {
  @Get(':id')
  one(@Param('id') id: string) {
    return { id };
  }
}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(
  cors: Parameters<typeof CorsModule.forRoot>[0],
  adapter = new FastifyAdapter(),
): Promise<NestFastifyApplication> {
  @Module({ imports: [CorsModule.forRoot(cors)], controllers: [NotesController] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const created = moduleRef.createNestApplication<NestFastifyApplication>(adapter, {
    logger: false,
  });
  app = created;
  return created;
}

describe('README: Fastify', () => {
  it('answers Fastify sends before any hook carry no CORS header (400, 414)', async () => {
    const fastify = await start({ origin: [APP] });
    await fastify.init();
    await fastify.listen(0, '127.0.0.1');
    const { port } = fastify.getHttpServer().address() as AddressInfo;
    const send = (path: string) =>
      rawSocket(
        port,
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${APP}\r\nConnection: close\r\n\r\n`,
      );
    const ok = await send('/notes/1');
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    const malformed = await send('/notes/%E0%A4%A');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['access-control-allow-origin']).toBeUndefined();
    const long = await send(`/notes/${'x'.repeat(101)}`);
    expect(long.status).toBe(414);
    expect(long.headers['access-control-allow-origin']).toBeUndefined();
  });

  it("origin functions get Fastify's request (hostname, ip, protocol, raw)", async () => {
    const seen: Array<{ hostname?: string; raw?: unknown; ip?: string }> = [];
    const fastify = await start({
      origin: (origin, req) => {
        // Read while the request is live (its socket goes when the response is sent).
        const { hostname, ip, raw } = req as { hostname?: string; ip?: string; raw?: unknown };
        seen.push({ hostname, ip, raw });
        return origin === APP;
      },
    });
    await fastify.init();
    await fastify.getHttpAdapter().getInstance().ready();
    const res = await request(fastify.getHttpServer())
      .get('/notes/1')
      .set('Host', 'api.example.com')
      .set('Origin', APP);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(seen).toHaveLength(1);
    expect(seen[0].hostname).toBe('api.example.com');
    expect(seen[0].ip).toMatch(/127\.0\.0\.1/);
    // Node's request underneath (jest's module registry gives this file its own node:http classes).
    expect((seen[0].raw as object).constructor.name).toBe(IncomingMessage.name);
  });

  it('an app.use() middleware of main.ts runs after the module: it never sees a preflight', async () => {
    const seen: string[] = [];
    const fastify = await start({ origin: [APP] });
    fastify.use((req: IncomingMessage, _res: unknown, next: () => void) => {
      seen.push(`${req.method} ${req.url}`);
      next();
    });
    await fastify.init();
    await fastify.getHttpAdapter().getInstance().ready();
    const pre = await request(fastify.getHttpServer())
      .options('/notes/1')
      .set('Origin', APP)
      .set('Access-Control-Request-Method', 'GET');
    expect(pre.status).toBe(204);
    await request(fastify.getHttpServer()).get('/notes/1').set('Origin', APP).expect(200);
    expect(seen).toEqual(['GET /notes/1']);
  });

  it('skipMiddie changes nothing for the module (it runs in the adapter hook, not in middie)', async () => {
    const fastify = await start({ origin: [APP] }, new FastifyAdapter({ skipMiddie: true }));
    await fastify.init();
    await fastify.getHttpAdapter().getInstance().ready();
    const res = await request(fastify.getHttpServer()).get('/notes/1').set('Origin', APP);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    const pre = await request(fastify.getHttpServer())
      .options('/notes/1')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'GET');
    expect(pre.status).toBe(403);
  });

  it('app.enableCors() next to the module: the start rejects (init(), or ready()/listen())', async () => {
    const fastify = await start({ origin: [APP] });
    fastify.enableCors();
    const started = (async () => {
      await fastify.init();
      await fastify.getHttpAdapter().getInstance().ready();
    })();
    await expect(started).rejects.toMatchObject({
      problems: [expect.objectContaining({ code: 'conflicting-cors-middleware' })],
    });
  });
});

describe('README: Fastify, an adapter without the CORS hook', () => {
  /** An adapter as older ones are: no request hook kept for CORS. */
  class HooklessAdapter extends FastifyAdapter {}
  Object.defineProperty(HooklessAdapter.prototype, 'copyCorsHeadersToRaw', { value: undefined });

  it("the module goes through the adapter's use() (middie), before Nest middleware", async () => {
    const fastify = await start({ origin: [APP] }, new HooklessAdapter());
    await fastify.init();
    await fastify.getHttpAdapter().getInstance().ready();
    const res = await request(fastify.getHttpServer()).get('/notes/1').set('Origin', APP);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    const missing = await request(fastify.getHttpServer()).get('/nope').set('Origin', APP);
    expect(missing.status).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toBe(APP);
    const pre = await request(fastify.getHttpServer())
      .options('/notes/1')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'GET');
    expect(pre.status).toBe(403);
  });
});
