/**
 * The README's origin-function contract and the rows added to its tables, over real HTTP: every
 * outcome is an answer, errors are logged with where the function was declared, `origin: false`
 * refuses preflights, `setOrigins` on a policy without its own origin is an error.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Cors,
  CorsConfigError,
  CorsModule,
  CorsService,
  type CorsModuleOptions,
} from '../../lib/index.js';
import { acHeaders, get, preflight } from '../e2e/helpers.js';

const APP = 'https://app.example';

@Cors('tenants')
@Controller('t')
class TenantsController {
  @Get()
  read() {
    return 'ok';
  }
}

class ErrorLog implements LoggerService {
  readonly errors: string[] = [];
  log() {}
  warn() {}
  debug() {}
  verbose() {}
  error(message: unknown) {
    this.errors.push(String(message));
  }
}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(options: CorsModuleOptions, logger = new ErrorLog()) {
  const moduleRef = await Test.createTestingModule({
    imports: [CorsModule.forRoot(options)],
    controllers: [TenantsController],
  }).compile();
  app = moduleRef.createNestApplication({ logger });
  await app.init();
  return { app, logger };
}

const tenants = (origin: unknown, originTimeout?: number): CorsModuleOptions => ({
  origin: [APP],
  policies: { tenants: { origin: origin as never, ...(originTimeout && { originTimeout }) } },
});

describe('README: an origin function always leads to an answer', () => {
  it.each([
    ['returns true', () => true, true],
    ['returns false', () => false, false],
    ['resolves true', async () => true, true],
    [
      'calls back with the origin string',
      (o: string, cb: (e: null, v: string) => void) => cb(null, o),
      true,
    ],
    [
      'calls back with a RegExp',
      (_o: string, cb: (e: null, v: RegExp) => void) => cb(null, /^https:\/\/app\.example$/),
      true,
    ],
  ])('%s', async (_name, fn, allowed) => {
    const { app: started, logger } = await start(tenants(fn));
    const res = await get(started, '/t', APP).expect(200);
    expect(res.headers['access-control-allow-origin']).toBe(allowed ? APP : undefined);
    const pre = await preflight(started, '/t', APP, 'GET');
    expect(pre.status).toBe(allowed ? 204 : 403);
    expect(logger.errors).toEqual([]);
  });

  it.each([
    ['returns the origin string', (o: string) => o, 'the origin function returned'],
    ['returns null', () => null, 'the origin function returned'],
    [
      'throws',
      () => {
        throw new Error('connection refused');
      },
      'connection refused',
    ],
    ['rejects', () => Promise.reject(new Error('lookup failed')), 'lookup failed'],
    [
      'calls back with an error',
      (_o: string, cb: (e: Error) => void) => cb(new Error('no tenant db')),
      'no tenant db',
    ],
  ])(
    '%s: a denial (never a hang, never a 500), logged with where it was declared',
    async (_name, fn, text) => {
      const { app: started, logger } = await start(tenants(fn));
      const res = await get(started, '/t', APP).expect(200);
      expect(acHeaders(res)).toEqual({});
      await preflight(started, '/t', APP, 'GET').expect(403);
      expect(logger.errors.length).toBeGreaterThan(0);
      expect(logger.errors[0]).toContain('policy "tenants"');
      expect(logger.errors[0]).toContain(text);
    },
  );

  it('never answers: refused after originTimeout, with an error line', async () => {
    const { app: started, logger } = await start(tenants(() => new Promise(() => {}), 50));
    const res = await get(started, '/t', APP).expect(200);
    expect(acHeaders(res)).toEqual({});
    expect(logger.errors[0]).toMatch(/policy "tenants".*50 ms/);
  });

  it("'*' from the callback: any origin without credentials, a denial with credentials", async () => {
    const star = (_o: string | undefined, cb: (e: null, v: string) => void) => cb(null, '*');
    const open = await start(tenants(star));
    expect((await get(open.app, '/t', APP)).headers['access-control-allow-origin']).toBe('*');
    await open.app.close();
    app = undefined;
    const { app: started, logger } = await start({
      origin: [APP],
      policies: { tenants: { origin: star, credentials: true } },
    });
    expect(acHeaders(await get(started, '/t', APP))).toEqual({});
    expect(logger.errors[0]).toContain('policy "tenants"');
  });
});

describe('README: other rows', () => {
  it('origin: false allows no origin: no header, preflights 403', async () => {
    const { app: started } = await start(tenants(false));
    expect(acHeaders(await get(started, '/t', APP).expect(200))).toEqual({});
    await preflight(started, '/t', APP, 'GET').expect(403);
  });

  it("setOrigins(list, 'name') on a policy without its own origin is an error", async () => {
    const { app: started } = await start({
      origin: [APP],
      policies: { tenants: { credentials: true }, other: { origin: [APP] } },
    });
    const cors = started.get(CorsService);
    expect(() => cors.setOrigins(['https://new.example'], 'tenants')).toThrow(CorsConfigError);
    expect(() => cors.setOrigins(['https://new.example'], 'tenants')).toThrow(/setOrigins\(list\)/);
    // The module's list still applies to the policy's routes.
    expect((await get(started, '/t', APP)).headers['access-control-allow-origin']).toBe(APP);
    cors.setOrigins(['https://new.example']);
    const moved = await get(started, '/t', 'https://new.example');
    expect(moved.headers['access-control-allow-origin']).toBe('https://new.example');
  });
});
