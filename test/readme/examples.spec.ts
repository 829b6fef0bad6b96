/** The README's other code blocks, as they appear there (each marked README). */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
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
    process.env.CORS_ORIGINS = 'https://app.example.com,https://admin.example.com';
    // README: forRootAsync
    const cors = CorsModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        origin: config.getOrThrow<string>('CORS_ORIGINS').split(','),
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

  it('mountEarly covers body-parser errors', async () => {
    @Module({
      imports: [CorsModule.forRoot({ origin: ['https://app.example.com'] })],
      controllers: [NotesController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    // README: mountEarly
    CorsModule.mountEarly(app); // before listen(): body-parser errors carry CORS headers too
    // end README
    await app.init();
    const res = await request(app.getHttpServer())
      .post('/notes')
      .set('Origin', 'https://app.example.com')
      .set('Content-Type', 'application/json')
      .send('{"broken":');
    expect(res.status).toBe(400);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
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
