/**
 * `CorsModule.forRootAsync`: options from `ConfigService` (origins read from an environment
 * variable), with `useFactory` + `inject`, `useClass` (a `CorsOptionsFactory`) and `useExisting`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, Put, type INestApplication } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import {
  Cors,
  CorsModule,
  type CorsModuleOptions,
  type CorsOptionsFactory,
} from '../../lib/index.js';
import { ADAPTERS, acHeaders, get, http, makeApp, preflight, varyOf } from './helpers.js';

const A = 'https://a.example';
const B = 'https://b.example';
const C = 'https://c.example';
const ADMIN = 'https://admin.example';

@Controller('items')
class ItemsController {
  @Get()
  list() {
    return 'items';
  }

  @Put(':id')
  update() {
    return 'updated';
  }

  @Get('admin')
  @Cors('admin')
  admin() {
    return 'admin';
  }
}

function originsFrom(config: ConfigService): string[] {
  return config
    .getOrThrow<string>('CORS_ORIGINS')
    .split(',')
    .map((o) => o.trim());
}

/** A fresh root module per app, so that ConfigModule reads the environment of that moment. */
function factoryModule(): new () => unknown {
  @Module({
    imports: [
      CorsModule.forRootAsync({
        imports: [ConfigModule.forRoot({ ignoreEnvFile: true })],
        inject: [ConfigService],
        useFactory: async (config: ConfigService): Promise<CorsModuleOptions> => ({
          origin: originsFrom(config),
          credentials: config.get<string>('CORS_CREDENTIALS') === 'true',
          maxAge: Number(config.getOrThrow<string>('CORS_MAX_AGE')),
          policies: { admin: { origin: [ADMIN] } },
        }),
      }),
    ],
    controllers: [ItemsController],
  })
  class AppModule {}
  return AppModule;
}

const savedEnv = { ...process.env };
function restoreEnv(): void {
  for (const key of ['CORS_ORIGINS', 'CORS_CREDENTIALS', 'CORS_MAX_AGE', 'ADMIN_ORIGIN']) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
}

@Injectable()
class CorsConfig implements CorsOptionsFactory {
  static calls = 0;
  constructor(private readonly config: ConfigService) {}

  async createCorsOptions(): Promise<CorsModuleOptions> {
    CorsConfig.calls++;
    return {
      origin: originsFrom(this.config),
      exposedHeaders: ['x-total-count'],
      policies: { admin: { origin: [this.config.getOrThrow<string>('ADMIN_ORIGIN')] } },
    };
  }
}

@Injectable()
class SharedCorsConfig implements CorsOptionsFactory {
  createCorsOptions(): CorsModuleOptions {
    return {
      origin: 'https://*.shared.example',
      credentials: true,
      policies: { admin: { origin: [ADMIN] } },
    };
  }
}

@Module({ providers: [SharedCorsConfig], exports: [SharedCorsConfig] })
class SharedConfigModule {}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('forRootAsync: useFactory + inject ConfigService (origins from the environment)', () => {
    let app: INestApplication;

    beforeAll(async () => {
      process.env.CORS_ORIGINS = `${A},${B}`;
      process.env.CORS_CREDENTIALS = 'true';
      process.env.CORS_MAX_AGE = '321';
      app = await makeApp({ imports: [factoryModule()] }, undefined, adapter);
    });
    afterAll(async () => {
      await app.close();
      restoreEnv();
    });

    it('allows each origin of the environment variable', async () => {
      for (const origin of [A, B]) {
        const res = await get(app, '/items', origin).expect(200, 'items');
        expect(res.headers['access-control-allow-origin']).toBe(origin);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(varyOf(res)).toContain('origin');
      }
    });

    it('refuses an origin that is not in the variable', async () => {
      const res = await get(app, '/items', C).expect(200, 'items');
      expect(acHeaders(res)).toEqual({});
      expect(varyOf(res)).toContain('origin');
    });

    it('answers preflights with the configured values', async () => {
      const res = await preflight(app, '/items/1', B, 'PUT', 'content-type').expect(204);
      expect(res.headers['access-control-allow-origin']).toBe(B);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-max-age']).toBe('321');
      expect(res.headers['access-control-allow-methods']).toContain('PUT');
      const denied = await preflight(app, '/items/1', C, 'PUT', 'content-type');
      expect(denied.status).toBe(403);
      expect(acHeaders(denied)).toEqual({});
    });
  });

  describe('forRootAsync: another environment gives another configuration', () => {
    let app: INestApplication;

    beforeAll(async () => {
      process.env.CORS_ORIGINS = C;
      process.env.CORS_CREDENTIALS = 'false';
      process.env.CORS_MAX_AGE = '5';
      app = await makeApp({ imports: [factoryModule()] }, undefined, adapter);
    });
    afterAll(async () => {
      await app.close();
      restoreEnv();
    });

    it('allows only the new origin, without credentials', async () => {
      const c = await get(app, '/items', C).expect(200);
      expect(c.headers['access-control-allow-origin']).toBe(C);
      expect(c.headers['access-control-allow-credentials']).toBeUndefined();
      const a = await get(app, '/items', A).expect(200);
      expect(acHeaders(a)).toEqual({});
      const pre = await preflight(app, '/items/1', C, 'PUT').expect(204);
      expect(pre.headers['access-control-max-age']).toBe('5');
    });
  });

  describe('forRootAsync: useClass (a CorsOptionsFactory using ConfigService)', () => {
    let app: INestApplication;

    beforeAll(async () => {
      process.env.CORS_ORIGINS = `${A}, ${B}`;
      process.env.ADMIN_ORIGIN = ADMIN;
      CorsConfig.calls = 0;
      @Module({
        imports: [
          ConfigModule.forRoot({ ignoreEnvFile: true, isGlobal: true }),
          CorsModule.forRootAsync({ useClass: CorsConfig }),
        ],
        controllers: [ItemsController],
      })
      class AppModule {}
      app = await makeApp({ imports: [AppModule] }, undefined, adapter);
    });
    afterAll(async () => {
      await app.close();
      restoreEnv();
    });

    it('calls the factory once', () => {
      expect(CorsConfig.calls).toBe(1);
    });

    it('applies the factory defaults', async () => {
      const res = await get(app, '/items', B).expect(200);
      expect(res.headers['access-control-allow-origin']).toBe(B);
      expect(res.headers['access-control-expose-headers']).toBe('x-total-count');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      const admin = await get(app, '/items', ADMIN).expect(200);
      expect(acHeaders(admin)).toEqual({});
    });

    it('named policies from the factory are usable with @Cors(name)', async () => {
      const res = await get(app, '/items/admin', ADMIN).expect(200, 'admin');
      expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
      const a = await get(app, '/items/admin', A).expect(200);
      expect(acHeaders(a)).toEqual({});
    });
  });

  describe('forRootAsync: useExisting', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [
            CorsModule.forRootAsync({
              imports: [SharedConfigModule],
              useExisting: SharedCorsConfig,
            }),
          ],
          controllers: [ItemsController],
        },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    it('uses the existing provider', async () => {
      const ok = await http(app)
        .put('/items/1')
        .set('Origin', 'https://x.shared.example')
        .expect(200);
      expect(ok.headers['access-control-allow-origin']).toBe('https://x.shared.example');
      expect(ok.headers['access-control-allow-credentials']).toBe('true');
      const apex = await get(app, '/items', 'https://shared.example').expect(200);
      expect(acHeaders(apex)).toEqual({});
    });
  });

  describe('forRootAsync: a factory error fails the boot', () => {
    afterEach(restoreEnv);

    it('rejects init() when the configuration the factory returns is invalid', async () => {
      process.env.CORS_ORIGINS = 'a.example';
      process.env.CORS_MAX_AGE = '10';
      await expect(makeApp({ imports: [factoryModule()] }, undefined, adapter)).rejects.toThrow(
        /"a\.example"/,
      );
    });
  });
});
