import { INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { CorsConfigError, CorsModule } from 'nestjs-cors';
import request from 'supertest';
import { AppModule } from '../src/app.module';
import { NotesController } from '../src/notes.controller';

const APP = 'https://app.example.com';

async function create(adapter: 'express' | 'fastify', module: unknown): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [module as never] }).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication({ logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
          logger: false,
        });
  await app.init();
  if (adapter === 'fastify') {
    await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  }
  return app;
}

describe.each(['express', 'fastify'] as const)('nestjs-cors on Nest 11 (%s)', (adapter) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await create(adapter, AppModule);
  });
  afterAll(() => app.close());

  it('answers a preflight with the policy of the route it is for', async () => {
    const put = await request(app.getHttpServer())
      .options('/notes/1')
      .set('Origin', APP)
      .set('Access-Control-Request-Method', 'PUT');
    expect(put.status).toBe(204);
    expect(put.headers['access-control-allow-origin']).toBe(APP);
    expect(put.headers['access-control-allow-credentials']).toBe('true');
    expect(put.headers['access-control-max-age']).toBe('600');
    // @Cors(false) on DELETE: the module stays out, Nest answers 404.
    const del = await request(app.getHttpServer())
      .options('/notes/1')
      .set('Origin', APP)
      .set('Access-Control-Request-Method', 'DELETE');
    expect(del.status).toBe(404);
    expect(del.headers['access-control-allow-origin']).toBeUndefined();
  });

  it("a guard's 401 carries the CORS headers", async () => {
    const res = await request(app.getHttpServer()).get('/notes/private').set('Origin', APP);
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['vary']).toContain('Origin');
  });

  it("refuses to boot on '*' with credentials, naming where", async () => {
    @Module({
      imports: [CorsModule.forRoot({ origin: '*', credentials: true })],
      controllers: [NotesController],
    })
    class InsecureModule {}
    const error = await create(adapter, InsecureModule).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CorsConfigError);
    expect((error as CorsConfigError).message).toMatch(/credentials/);
    expect((error as CorsConfigError).problems.map((p) => p.where)).toContain('module');
  });
});
