/** The README's "Fastify" section: what differs from Express, as it says. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import middie from '@fastify/middie';
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

  it("origin functions get Node's request, with the hostname middie copies onto it", async () => {
    const seen: unknown[] = [];
    const fastify = await start({
      origin: (origin, req) => {
        seen.push(req);
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
    // Node's class (jest's module registry gives this file another copy of node:http's classes).
    expect((seen[0] as object).constructor.name).toBe(IncomingMessage.name);
    expect(seen[0]).not.toHaveProperty('raw');
    expect((seen[0] as { hostname?: string }).hostname).toBe('api.example.com');
  });

  it('with skipMiddie, the app registers @fastify/middie itself before init()', async () => {
    const fastify = await start({ origin: [APP] }, new FastifyAdapter({ skipMiddie: true }));
    await fastify.register(middie as never);
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
