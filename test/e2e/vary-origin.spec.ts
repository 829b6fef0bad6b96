/**
 * `Vary` is appended, never overwritten; malformed, oversized and duplicated `Origin` headers are
 * denials (no Access-Control-* header), never matches and never 5xx — whatever the policy kind.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Module,
  Put,
  type INestApplication,
  type MiddlewareConsumer,
  type NestModule,
} from '@nestjs/common';
import type { NextFunction, Request, Response as ExpressResponse } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Cors, CorsModule } from '../../lib/index.js';
import {
  ADAPTERS,
  type AdapterName,
  acHeaders,
  get,
  http,
  listenApp,
  preflight,
  rawRequest,
  varyOf,
  type RawResponse,
} from './helpers.js';

const APP = 'https://app.example';
const EVIL = 'https://evil.example';
const SUB = 'https://x.apps.example';

const predicate = { calls: 0 };

@Controller()
class VaryController {
  @Get('list')
  list() {
    return 'list';
  }

  @Put('list')
  put() {
    return 'put';
  }

  @Get('star')
  @Cors({ origin: '*', credentials: false })
  star() {
    return 'star';
  }

  @Get('reflect')
  @Cors({ origin: true })
  reflect() {
    return 'reflect';
  }

  @Get('yes')
  @Cors({
    origin: () => {
      predicate.calls++;
      return true;
    },
  })
  yes() {
    return 'yes';
  }

  @Get('tenant')
  @Cors({
    credentials: false,
    origin: async (origin: string | undefined, req: Record<string, any>) => {
      predicate.calls++;
      await new Promise((resolve) => setImmediate(resolve)); // answers on a later turn, like a lookup
      return req.headers['x-tenant'] === 'acme' && origin === 'https://acme.example';
    },
  })
  tenant() {
    return 'tenant';
  }

  @Get('nest-vary')
  nestVary() {
    return 'nest-vary';
  }

  @Get('nest-vary-append')
  nestVaryAppend() {
    return 'nest-vary-append';
  }
}

/** Appends a field to `Vary` on a raw response (what Express's `res.vary()` does). */
function appendVary(res: ServerResponse, field: string): void {
  const current = res.getHeader('Vary');
  res.setHeader('Vary', current === undefined ? field : `${String(current)}, ${field}`);
}

/** The app's module; its middleware appends to Vary each adapter's own way. */
function appModule(adapter: AdapterName): new () => NestModule {
  @Module({
    imports: [CorsModule.forRoot({ origin: [APP, 'https://*.apps.example'], credentials: true })],
    controllers: [VaryController],
  })
  class AppModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      // A Nest middleware that overwrites Vary (runs after the CORS middleware). Express hands it
      // its Response, Fastify the raw ServerResponse: both have setHeader.
      consumer
        .apply((_req: IncomingMessage, res: ServerResponse, next: () => void) => {
          res.setHeader('Vary', 'Accept-Encoding');
          next();
        })
        .forRoutes('nest-vary');
      // One that appends: the Express way (`res.vary`) on Express; Fastify hands Nest middleware
      // the raw ServerResponse, which has no `vary()`, so it appends to the header by hand.
      consumer
        .apply(
          adapter === 'express'
            ? (_req: Request, res: ExpressResponse, next: NextFunction) => {
                res.vary('Accept-Encoding');
                next();
              }
            : (_req: IncomingMessage, res: ServerResponse, next: () => void) => {
                appendVary(res, 'Accept-Encoding');
                next();
              },
        )
        .forRoutes('nest-vary-append');
    }
  }
  return AppModule;
}

const MALFORMED = [
  'https://APP.example', // upper case
  'HTTPS://app.example',
  'https://app.example/', // trailing slash
  'https://app.example/path',
  'https://app.example:99999',
  'app.example', // no scheme
  '//app.example',
  'https://app.example, https://app.example', // a list in one line
  'https://app.example https://evil.example',
  'https://user@app.example',
  'https://app.example.', // trailing dot
  'https://b\u00fccher.example', // not punycode (sent as latin1)
  'https://',
  '*',
  '',
];

/** Paths whose policy would accept a well-formed `https://app.example`. */
const POLICY_PATHS = ['/list', '/reflect', '/yes'];

describe.each(ADAPTERS)('%s', (adapter) => {
  let app: INestApplication;
  let port: number;

  beforeAll(async () => {
    ({ app, port } = await listenApp(
      { imports: [appModule(adapter)] },
      (a) => {
        // An app-level middleware that sets Vary when asked to (mounted with app.use: Express's
        // stack, before the CORS middleware; @fastify/middie on Fastify, where the module's hook
        // runs before middie, so this one comes after it and overwrites Vary).
        a.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
          const preset = req.headers['x-preset-vary'];
          if (typeof preset === 'string') res.setHeader('Vary', preset);
          next();
        });
      },
      adapter,
    ));
  });
  afterAll(() => app.close());
  beforeEach(() => {
    predicate.calls = 0;
  });

  describe('Vary is appended, never overwritten', () => {
    it('a Vary set before the CORS middleware is kept, Origin appended', async () => {
      const res = await get(app, '/list', APP).set('X-Preset-Vary', 'Accept-Encoding').expect(200);
      expect(res.headers['vary']).toBe('Accept-Encoding, Origin');
      expect(res.headers['access-control-allow-origin']).toBe(APP);
    });

    it('also for a refused origin and for a request without Origin', async () => {
      const refused = await get(app, '/list', EVIL).set('X-Preset-Vary', 'Accept-Encoding');
      expect(refused.headers['vary']).toBe('Accept-Encoding, Origin');
      expect(acHeaders(refused)).toEqual({});
      const none = await http(app).get('/list').set('X-Preset-Vary', 'Accept-Encoding');
      expect(none.headers['vary']).toBe('Accept-Encoding, Origin');
      expect(acHeaders(none)).toEqual({});
    });

    it('Origin is not added twice', async () => {
      const res = await get(app, '/list', APP).set('X-Preset-Vary', 'origin, Accept');
      expect(varyOf(res).filter((v) => v === 'origin')).toHaveLength(1);
      expect(varyOf(res)).toContain('accept');
    });

    it('Vary: * is left alone', async () => {
      const res = await get(app, '/list', APP).set('X-Preset-Vary', '*');
      expect(res.headers['vary']).toBe('*');
      expect(res.headers['access-control-allow-origin']).toBe(APP);
    });

    it('on a preflight the preflight fields are appended', async () => {
      const res = await preflight(app, '/list', APP, 'PUT', 'x-a')
        .set('X-Preset-Vary', 'Accept-Encoding')
        .expect(204);
      // On Fastify the module answers the preflight before any app.use() middleware runs: the
      // preset never happens there.
      expect(varyOf(res)).toEqual([
        ...(adapter === 'express' ? ['accept-encoding'] : []),
        'origin',
        'access-control-request-method',
        'access-control-request-headers',
      ]);
    });

    it('a Nest middleware that overwrites Vary afterwards: Origin is put back', async () => {
      const res = await get(app, '/nest-vary', APP).expect(200, 'nest-vary');
      expect(varyOf(res)).toEqual(expect.arrayContaining(['accept-encoding', 'origin']));
      expect(res.headers['access-control-allow-origin']).toBe(APP);
    });

    it('a Nest middleware that appends to Vary: both fields, once each', async () => {
      const res = await get(app, '/nest-vary-append', APP).expect(200);
      expect(varyOf(res).sort()).toEqual(['accept-encoding', 'origin']);
    });

    it('an origin-dependent answer varies on Origin even without an Origin header', async () => {
      const res = await http(app).get('/list').expect(200);
      expect(varyOf(res)).toContain('origin');
      expect(acHeaders(res)).toEqual({});
    });

    it("a static '*' answer is sent without Origin too, and does not vary on Origin", async () => {
      const res = await http(app).get('/star').expect(200);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(varyOf(res)).not.toContain('origin');
      const withOrigin = await get(app, '/star', EVIL).expect(200);
      expect(withOrigin.headers['access-control-allow-origin']).toBe('*');
      expect(withOrigin.headers['access-control-allow-credentials']).toBeUndefined();
      expect(varyOf(withOrigin)).not.toContain('origin');
    });
  });

  describe('malformed Origin: a denial, never a match, never 5xx', () => {
    it('control: the well-formed origin is allowed on every policy kind', async () => {
      for (const path of POLICY_PATHS) {
        const res = await get(app, path, APP).expect(200);
        expect(res.headers['access-control-allow-origin']).toBe(APP);
      }
      const sub = await get(app, '/list', SUB).expect(200);
      expect(sub.headers['access-control-allow-origin']).toBe(SUB);
    });

    it.each(POLICY_PATHS)('actual request on %s', async (path) => {
      for (const origin of MALFORMED) {
        const res = await get(app, path, origin);
        expect({ origin, status: res.status }).toEqual({ origin, status: 200 });
        expect({ origin, headers: acHeaders(res) }).toEqual({ origin, headers: {} });
        expect(varyOf(res)).toContain('origin');
      }
      // Never passed to the predicate either.
      expect(predicate.calls).toBe(0);
    });

    it.each(POLICY_PATHS)(
      'a default port (never sent by a browser) is not a serialized origin on %s',
      async (path) => {
        for (const origin of ['https://app.example:443', 'https://x.apps.example:443']) {
          const res = await get(app, path, origin);
          expect({ origin, status: res.status }).toEqual({ origin, status: 200 });
          expect({ origin, headers: acHeaders(res) }).toEqual({ origin, headers: {} });
        }
        expect(predicate.calls).toBe(0);
      },
    );

    it('preflight', async () => {
      for (const origin of MALFORMED.filter((o) => o !== '')) {
        const res = await preflight(app, '/list', origin, 'PUT');
        expect({ origin, status: res.status }).toEqual({ origin, status: 403 });
        expect({ origin, headers: acHeaders(res) }).toEqual({ origin, headers: {} });
      }
    });

    it("'null' is refused unless listed, also by origin: true and a predicate", async () => {
      for (const path of POLICY_PATHS) {
        const res = await get(app, path, 'null').expect(200);
        expect({ path, headers: acHeaders(res) }).toEqual({ path, headers: {} });
      }
    });

    it('patterns are not substring tests', async () => {
      for (const origin of [
        'https://apps.example', // apex
        'https://x.apps.example.evil.com',
        'https://xapps.example',
        'http://x.apps.example', // scheme
        'https://x.apps.example:8443', // port
        'https://app.example.evil.com',
      ]) {
        const res = await get(app, '/list', origin).expect(200);
        expect({ origin, headers: acHeaders(res) }).toEqual({ origin, headers: {} });
      }
    });
  });

  describe('oversized Origin', () => {
    const long = `https://${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.example`;
    const huge = `https://${'a.'.repeat(4000)}example`;

    it.each(POLICY_PATHS)('actual request on %s: denied, 200, no headers', async (path) => {
      for (const origin of [long, huge]) {
        const res = await get(app, path, origin);
        expect(res.status).toBe(200);
        expect(acHeaders(res)).toEqual({});
      }
      expect(predicate.calls).toBe(0);
    });

    it('preflight: 403, no headers', async () => {
      for (const origin of [long, huge]) {
        const res = await preflight(app, '/list', origin, 'PUT');
        expect(res.status).toBe(403);
        expect(acHeaders(res)).toEqual({});
      }
    });
  });

  describe('duplicated Origin header lines', () => {
    const twice = (a: string, b: string) => ({ Origin: [a, b] });

    function expectDenied(res: RawResponse, label: string): void {
      expect({ label, status: res.status < 500 }).toEqual({ label, status: true });
      expect({ label, headers: acHeaders(res) }).toEqual({ label, headers: {} });
    }

    it('control: a single allowed Origin line through node:http', async () => {
      const res = await rawRequest(port, 'GET', '/list', { Origin: APP });
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(APP);
    });

    it.each(POLICY_PATHS)('actual request on %s', async (path) => {
      for (const [a, b] of [
        [APP, APP],
        [APP, EVIL],
        [EVIL, APP],
        [SUB, SUB],
      ]) {
        const res = await rawRequest(port, 'GET', path, twice(a, b));
        expect(res.status).toBe(200);
        expectDenied(res, `${path} ${a} ${b}`);
        expect(varyOf(res)).toContain('origin');
      }
      expect(predicate.calls).toBe(0);
    });

    it('preflight: 403, no headers', async () => {
      for (const [a, b] of [
        [APP, APP],
        [APP, EVIL],
      ]) {
        const res = await rawRequest(port, 'OPTIONS', '/list', {
          ...twice(a, b),
          'Access-Control-Request-Method': 'PUT',
        });
        expect(res.status).toBe(403);
        expectDenied(res, `${a} ${b}`);
      }
    });
  });

  describe('origin predicates', () => {
    it('an async predicate gets the request (multi-tenant allow-list), called once', async () => {
      const ok = await get(app, '/tenant', 'https://acme.example').set('X-Tenant', 'acme');
      expect(ok.status).toBe(200);
      expect(ok.headers['access-control-allow-origin']).toBe('https://acme.example');
      expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
      expect(predicate.calls).toBe(1);
      const other = await get(app, '/tenant', 'https://acme.example').set('X-Tenant', 'globex');
      expect(acHeaders(other)).toEqual({});
      expect(varyOf(other)).toContain('origin');
      expect(predicate.calls).toBe(2);
    });

    it('an async predicate answers preflights too', async () => {
      const ok = await preflight(app, '/tenant', 'https://acme.example', 'GET', 'x-tenant')
        .set('X-Tenant', 'acme')
        .expect(204);
      expect(ok.headers['access-control-allow-origin']).toBe('https://acme.example');
      const refused = await preflight(app, '/tenant', 'https://acme.example', 'GET', 'x-tenant');
      expect(refused.status).toBe(403);
      expect(acHeaders(refused)).toEqual({});
    });
  });
});
