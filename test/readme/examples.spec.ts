/** The README's other code blocks, as they appear there (each marked README). */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, Put, type INestApplication } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Cors, CorsConfigError, CorsModule, CorsPolicy, CorsService } from '../../lib/index.js';

@Controller('notes')
class NotesController {
  @Get() list() {
    return [];
  }
}

@Controller('notes')
class NoteUpdateController {
  @Put(':id') update() {
    return {};
  }
}

@Cors('admin')
@Controller('admin')
class AdminController {
  @Get() stats() {
    return {};
  }
}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(imports: unknown[], controllers: unknown[]): Promise<INestApplication> {
  @Module({ imports: imports as never[], controllers: controllers as never[] })
  class TestModule {}
  const moduleRef = await Test.createTestingModule({ imports: [TestModule] }).compile();
  app = moduleRef.createNestApplication();
  await app.init();
  return app;
}

describe('README examples', () => {
  it('forRootAsync with ConfigService', async () => {
    process.env.CORS_ORIGINS = 'https://app.example.com, https://admin.example.com,';
    // README: forRootAsync
    const cors = CorsModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        // "https://a.example.com, https://b.example.com": trimmed, empty items dropped.
        origin: config
          .getOrThrow<string>('CORS_ORIGINS')
          .split(',')
          .map((origin) => origin.trim())
          .filter((origin) => origin.length > 0),
        credentials: true,
      }),
    });
    // end README
    const server = (await start([ConfigModule.forRoot(), cors], [NotesController])).getHttpServer();
    const res = await request(server).get('/notes').set('Origin', 'https://admin.example.com');
    expect(res.headers['access-control-allow-origin']).toBe('https://admin.example.com');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
  });

  it('named policies', async () => {
    // README: named policies
    const cors = CorsModule.forRoot({
      origin: ['https://app.example.com'],
      policies: {
        public: { origin: '*', credentials: false },
        admin: { origin: ['https://admin.example.com'], credentials: true, enforce: true },
      },
    });
    // end README
    const server = (await start([cors], [NotesController, AdminController])).getHttpServer();
    const admin = await request(server).get('/admin').set('Origin', 'https://admin.example.com');
    expect(admin.headers['access-control-allow-credentials']).toBe('true');
    const refused = await request(server).get('/admin').set('Origin', 'https://app.example.com');
    expect(refused.status).toBe(403); // enforce
  });

  it('live origin lists with setOrigins', async () => {
    @Injectable()
    class Tenants {
      // README: setOrigins
      constructor(private readonly cors: CorsService) {}

      onTenantsChanged(origins: string[]) {
        this.cors.setOrigins(origins); // module defaults
        this.cors.setOrigins(['https://admin.example.com'], 'admin'); // a named policy
      }
      // end README
    }
    const cors = CorsModule.forRoot({
      origin: ['https://a.example'],
      policies: { admin: { origin: ['https://old-admin.example'] } },
    });
    @Module({ providers: [Tenants] })
    class TenantsModule {}
    const started = await start([cors, TenantsModule], [NotesController, AdminController]);
    const server = started.getHttpServer();
    started.get(Tenants).onTenantsChanged(['https://b.example']);
    const b = await request(server).get('/notes').set('Origin', 'https://b.example');
    expect(b.headers['access-control-allow-origin']).toBe('https://b.example');
    const a = await request(server).get('/notes').set('Origin', 'https://a.example');
    expect(a.headers['access-control-allow-origin']).toBeUndefined();
    const admin = await request(server).get('/admin').set('Origin', 'https://admin.example.com');
    expect(admin.headers['access-control-allow-origin']).toBe('https://admin.example.com');
    // An invalid list is refused whole; the current one stays.
    expect(() => started.get(CorsService).setOrigins(['https://c.example', 'd.example'])).toThrow(
      CorsConfigError,
    );
    const still = await request(server).get('/notes').set('Origin', 'https://b.example');
    expect(still.headers['access-control-allow-origin']).toBe('https://b.example');
    const c = await request(server).get('/notes').set('Origin', 'https://c.example');
    expect(c.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('an async origin function reading the request', async () => {
    const tenants = {
      isAllowed: async (origin: string | undefined, host: string | undefined) =>
        origin === `https://${host?.split(':')[0]}`,
    };
    // README: origin function
    CorsModule.forRoot({
      origin: async (origin, req) => tenants.isAllowed(origin, req.headers.host),
    });
    // end README
    const cors = CorsModule.forRoot({
      origin: async (origin, req) => tenants.isAllowed(origin, req.headers.host),
    });
    const server = (await start([cors], [NotesController])).getHttpServer();
    const ok = await request(server)
      .get('/notes')
      .set('Host', 'tenant.example:3000')
      .set('Origin', 'https://tenant.example');
    expect(ok.headers['access-control-allow-origin']).toBe('https://tenant.example');
    const no = await request(server)
      .get('/notes')
      .set('Host', 'tenant.example')
      .set('Origin', 'https://other.example');
    expect(no.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('body-parser errors carry the headers with nothing in main.ts; mountEarly is a no-op', async () => {
    @Module({
      imports: [CorsModule.forRoot({ origin: ['https://app.example.com'] })],
      controllers: [NotesController],
    })
    class AppModule {}
    for (const early of [false, true]) {
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
      app = moduleRef.createNestApplication();
      if (early) CorsModule.mountEarly(app);
      await app.init();
      const malformed = await request(app.getHttpServer())
        .post('/notes')
        .set('Origin', 'https://app.example.com')
        .set('Content-Type', 'application/json')
        .send('{"broken":');
      expect(malformed.status).toBe(400);
      expect(malformed.headers['access-control-allow-origin']).toBe('https://app.example.com');
      const tooLarge = await request(app.getHttpServer())
        .post('/notes')
        .set('Origin', 'https://app.example.com')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ big: 'x'.repeat(200_000) }));
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.headers['access-control-allow-origin']).toBe('https://app.example.com');
      await app.close();
      app = undefined;
    }
  });

  it('GraphQL, Swagger UI, static files: paths', async () => {
    // README: paths
    const cors = CorsModule.forRoot({
      origin: ['https://app.example.com'],
      credentials: true,
      policies: { docs: { origin: '*', credentials: false } },
      paths: {
        '/graphql': { maxAge: 600 }, // the module defaults, with a longer preflight cache
        '/docs{/*rest}': 'docs', // Swagger UI: SwaggerModule.setup('docs', app, document)
        '/docs-json': 'docs',
        '/assets/{*file}': false, // static files: no CORS at all
      },
    });
    // end README
    @Module({ imports: [cors], controllers: [NotesController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    const adapter = app.getHttpAdapter();
    for (const path of ['/graphql', '/docs/index.html', '/docs-json', '/assets/app.js']) {
      adapter.get(path, (_req: unknown, res: { end(body: string): void }) => res.end(path));
    }
    await app.init();
    const server = app.getHttpServer();
    const from = (path: string, origin: string) => request(server).get(path).set('Origin', origin);
    const graphql = await request(server)
      .options('/graphql')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type')
      .expect(204);
    expect(graphql.headers['access-control-max-age']).toBe('600');
    expect(graphql.headers['access-control-allow-credentials']).toBe('true');
    for (const path of ['/docs/index.html', '/docs-json']) {
      expect((await from(path, 'https://any.example')).headers['access-control-allow-origin']).toBe(
        '*',
      );
    }
    const asset = await from('/assets/app.js', 'https://app.example.com').expect(200);
    expect(asset.headers['access-control-allow-origin']).toBeUndefined();
    const rows = app.get(CorsService).report();
    expect(rows.filter((r) => r.handler.startsWith('paths[')).map((r) => r.path)).toEqual([
      '/graphql',
      '/docs{/*rest}',
      '/docs-json',
      '/assets/{*file}',
    ]);
  });

  it('testing your app', async () => {
    @Module({
      imports: [CorsModule.forRoot({ origin: ['https://app.example.com'] })],
      controllers: [NotesController, NoteUpdateController],
    })
    class AppModule {}
    // README: testing
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();

    await request(app.getHttpServer())
      .options('/notes/1')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'PUT')
      .expect(204)
      .expect('Access-Control-Allow-Origin', 'https://app.example.com');
    await app.close();
    // end README
  });

  it('the engine without Nest', async () => {
    const req = {
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PUT' },
    };
    // README: engine
    const policy = CorsPolicy.compile({ origin: 'https://app.example.com', credentials: true });
    const decision = await policy.decide({ method: 'OPTIONS', headers: req.headers });
    // end README
    expect(decision).toMatchObject({ kind: 'preflight', allowed: true, status: 204 });
    expect(decision.headers['Access-Control-Allow-Methods']).toContain('PUT');
  });
});
