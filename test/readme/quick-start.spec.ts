import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { AppModule } from './quick-start.js';

/** The README's two ways of creating the app, as written there (plus a quiet logger). */
async function create(adapter: 'express' | 'fastify'): Promise<INestApplication> {
  if (adapter === 'express') {
    const app = await NestFactory.create(AppModule, { logger: false });
    await app.init();
    return app;
  }
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
    logger: false,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe.each(['express', 'fastify'] as const)('README quick start (%s)', (adapter) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await create(adapter);
  });
  afterAll(() => app.close());

  it('applies the controller policy to GET /notes', async () => {
    const res = await request(app.getHttpServer())
      .get('/notes')
      .set('Origin', 'https://app.example.com');
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    const other = await request(app.getHttpServer())
      .get('/notes')
      .set('Origin', 'https://blog.example.com');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers the PUT preflight with the merged policy (maxAge) and refuses DELETE', async () => {
    const put = await request(app.getHttpServer())
      .options('/notes/1')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'content-type');
    expect(put.status).toBe(204);
    expect(put.headers['access-control-allow-methods']).toBe('PUT');
    expect(put.headers['access-control-max-age']).toBe('600');
    expect(put.headers['access-control-allow-credentials']).toBe('true');
    const del = await request(app.getHttpServer())
      .options('/notes/1')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'DELETE');
    // @Cors(false): the module stays out, Nest answers (no OPTIONS route: 404), no CORS header.
    expect(del.status).toBe(404);
    expect(del.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('gives module defaults to other routes (404 included)', async () => {
    const res = await request(app.getHttpServer())
      .get('/missing')
      .set('Origin', 'https://blog.example.com');
    expect(res.status).toBe(404);
    expect(res.headers['access-control-allow-origin']).toBe('https://blog.example.com');
    expect(res.headers['vary']).toContain('Origin');
  });
});
