/**
 * Issue 14 through Nest: `CorsModule.forRoot({ proxies })` on both HTTP adapters, against a real
 * upstream on loopback that has no CORS at all. Preflights are answered by the module, actual
 * requests forwarded with the policy's headers, refused origins never relayed, errors readable,
 * attacks kept on the target, configuration errors listed at boot, and the report.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { AddressInfo } from 'node:net';
import { CorsConfigError, CorsModule, CorsService } from '../../lib/index.js';
import { ADAPTERS, http, makeApp, type AdapterName } from '../e2e/helpers.js';
import { echoWith, fail, sendRaw, startBlackhole, Upstream, type Received } from './upstream.js';

const APP = 'https://app.example';
const EVIL = 'https://evil.example';

@Controller('items')
class ItemsController {
  @Get()
  list() {
    return ['own route'];
  }
}

let upstream: Upstream;
let evil: Upstream;
beforeAll(async () => {
  upstream = await Upstream.start();
  evil = await Upstream.start();
});
afterAll(async () => {
  await upstream.close();
  await evil.close();
});

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
  upstream.reset();
  upstream.arrivals.length = 0;
});

async function boot(adapter: AdapterName, options: Record<string, unknown> = {}) {
  app = await makeApp(
    {
      imports: [
        CorsModule.forRoot({
          origin: [APP],
          credentials: true,
          proxies: { '/vendor': { target: `http://${upstream.host}/base` } },
          ...options,
        }),
      ],
      controllers: [ItemsController],
    },
    undefined,
    adapter,
  );
  await app.listen(0, '127.0.0.1');
  return (app.getHttpServer().address() as AddressInfo).port;
}

describe.each(ADAPTERS)('proxies on %s', (adapter) => {
  it('forwards under the prefix to the fixed target and answers with the policy headers', async () => {
    upstream.behaviour = echoWith([
      ['access-control-allow-origin', '*'],
      ['access-control-allow-methods', 'DELETE'],
      ['set-cookie', 'vendor=1'],
    ]);
    await boot(adapter);
    const res = await http(app!).get('/vendor/items/7?q=a%20b&x=1').set('Origin', APP);
    expect(res.status).toBe(200);
    const received = res.body as Received;
    expect(received.url).toBe('/base/items/7?q=a%20b&x=1');
    expect(received.headers.host).toBe(upstream.host);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-allow-methods']).toBeUndefined();
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers.vary).toMatch(/\bOrigin\b/);
  });

  it('answers preflights itself and never forwards them', async () => {
    await boot(adapter);
    const res = await http(app!)
      .options('/vendor/items')
      .set('Origin', APP)
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-allow-methods']).toMatch(/PUT/);
    expect(upstream.arrivals).toHaveLength(0);
  });

  it('never relays a request from a refused origin', async () => {
    await boot(adapter);
    const res = await http(app!).post('/vendor/orders').set('Origin', EVIL).send({ a: 1 });
    expect(res.status).toBe(403);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(upstream.arrivals).toHaveLength(0);
  });

  it('forwards requests without Origin (no CORS headers) and streams the body untouched', async () => {
    await boot(adapter);
    const body = JSON.stringify({ order: 'x'.repeat(10_000) });
    const res = await http(app!)
      .post('/vendor/orders')
      .set('Content-Type', 'application/json')
      .set('Cookie', 'session=app-secret')
      .set('Authorization', 'Bearer app-token')
      .send(body);
    expect(res.status).toBe(200);
    const received = res.body as Received;
    expect(received.method).toBe('POST');
    expect(received.bodyLength).toBe(Buffer.byteLength(body));
    expect(received.headers.cookie).toBeUndefined();
    expect(received.headers.authorization).toBeUndefined();
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('leaves the app routes alone', async () => {
    await boot(adapter);
    const res = await http(app!).get('/items').set('Origin', APP);
    expect(res.body).toEqual(['own route']);
    expect(upstream.arrivals).toHaveLength(0);
  });

  it.each([
    ['//evil.example/x'],
    ['/vendor/../items'],
    ['/vendor/%2e%2e/%2e%2e/admin'],
    ['/vendor/.%2E/x'],
    ['/vendor/a%2Fb'],
    ['/vendor/a%5Cb'],
    ['/vendor/%252e%252e/x'],
    ['/vendor//evil.example/x'],
    ['/vendor/@evil.example/x'],
    ['/vendor\\..\\x'],
  ])('keeps %s on the target, under its base path', async (path) => {
    const port = await boot(adapter, {
      proxies: { '/vendor': { target: `http://${upstream.host}/base` } },
    });
    const answer = await sendRaw(
      port,
      `GET ${path} HTTP/1.1\r\nHost: ${evil.host}\r\nOrigin: ${APP}`,
    );
    expect(evil.connections).toBe(0);
    for (const arrival of upstream.arrivals) {
      expect(arrival.req.url!.startsWith('/base/')).toBe(true);
      expect(arrival.req.url!).not.toMatch(/\.\.|%2e|%2f|%5c|\\/i);
      expect(arrival.req.headers.host).toBe(upstream.host);
    }
    expect([200, 400, 404]).toContain(answer.status);
  });

  it('uses neither an absolute-form request target nor the Host header', async () => {
    const port = await boot(adapter);
    const answer = await sendRaw(
      port,
      `GET http://${evil.host}/vendor/x HTTP/1.1\r\nHost: ${evil.host}\r\nX-Forwarded-Host: spoofed.example\r\nX-Forwarded-For: 6.6.6.6`,
    );
    expect(evil.connections).toBe(0);
    if (answer.status === 200) {
      const received = JSON.parse(answer.body) as Received;
      expect(received.url).toBe('/base/x');
      expect(received.headers.host).toBe(upstream.host);
      expect(received.headers['x-forwarded-for']).not.toMatch(/6\.6\.6\.6/);
      // X-Forwarded-Host is the proxy's own (the Host it was asked for), not the client's header.
      expect(received.headers['x-forwarded-host']).not.toMatch(/spoofed/);
    } else expect([400, 404]).toContain(answer.status);
  });

  it('answers 502 when the target fails, with the CORS headers', async () => {
    upstream.behaviour = fail;
    await boot(adapter);
    const res = await http(app!).get('/vendor/x').set('Origin', APP);
    expect(res.status).toBe(502);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
  });

  it('answers 504 when the target cannot be reached in time, with the CORS headers', async () => {
    const hole = await startBlackhole();
    try {
      await boot(adapter, {
        proxies: { '/slow': { target: `http://127.0.0.1:${hole.port}`, connectTimeout: 200 } },
      });
      const res = await http(app!).get('/slow/x').set('Origin', APP);
      expect(res.status).toBe(504);
      expect(res.headers['access-control-allow-origin']).toBe(APP);
    } finally {
      hole.close();
    }
  });

  it("follows the entry's policy: a named policy or inline options", async () => {
    await boot(adapter, {
      policies: { partners: { origin: ['https://partner.example'] } },
      proxies: {
        '/named': { target: `http://${upstream.host}`, policy: 'partners' },
        '/inline': {
          target: `http://${upstream.host}`,
          policy: { origin: '*', credentials: false },
        },
      },
    });
    const named = await http(app!).get('/named/x').set('Origin', 'https://partner.example');
    expect(named.headers['access-control-allow-origin']).toBe('https://partner.example');
    expect((await http(app!).get('/named/x').set('Origin', APP)).status).toBe(403);
    const inline = await http(app!).get('/inline/x').set('Origin', EVIL);
    expect(inline.headers['access-control-allow-origin']).toBe('*');
  });

  it("takes the module defaults without a policy, even under routes: 'decorated'", async () => {
    await boot(adapter, { routes: 'decorated' });
    const res = await http(app!).get('/vendor/x').set('Origin', APP);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect((await http(app!).get('/vendor/x').set('Origin', EVIL)).status).toBe(403);
  });

  it('forwards without CORS headers under policy: false', async () => {
    await boot(adapter, {
      proxies: { '/vendor': { target: `http://${upstream.host}/base`, policy: false } },
    });
    const res = await http(app!).get('/vendor/x').set('Origin', APP);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect((res.body as Received).url).toBe('/base/x');
  });

  it('lists each proxy in report() with its policy and target', async () => {
    await boot(adapter);
    const rows = app!
      .get(CorsService)
      .report()
      .filter((r) => r.proxy !== undefined);
    expect(rows).toEqual([
      expect.objectContaining({
        method: 'ALL',
        path: '/vendor',
        handler: 'proxies["/vendor"]',
        source: 'module',
        policy: expect.objectContaining({ origins: [APP], credentials: true }),
        proxy: expect.objectContaining({ target: `http://${upstream.host}/base` }),
      }),
    ]);
  });

  it('refuses to boot on bad targets, overlapping prefixes and shadowed routes, listing all', async () => {
    const error = await boot(adapter, {
      proxies: {
        '/a': { target: 'ftp://files.example' },
        '/b': { target: 'https://user:pw@api.example' },
        '/c': { target: 'https://api.example/?key=1' },
        '/d': { target: 'https://api.example' },
        '/d/e': { target: 'https://api.example' },
        '/items': { target: 'https://api.example' },
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorsConfigError);
    const problems = (error as CorsConfigError).problems.map((p) => `${p.where} ${p.code}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'proxies["/a"] invalid-proxy-target',
        'proxies["/b"] invalid-proxy-target',
        'proxies["/c"] invalid-proxy-target',
        'proxies["/d/e"] overlapping-proxy-prefixes',
        'proxies["/items"] proxy-shadows-route',
      ]),
    );
    expect((error as Error).message).toMatch(/ItemsController\.list \(\/items\)/);
  });
});

describe('proxies from ConfigService (forRootAsync)', () => {
  it('reads the target at boot', async () => {
    process.env.VENDOR_URL = `http://${upstream.host}/v2`;
    @Module({
      imports: [
        CorsModule.forRootAsync({
          imports: [ConfigModule.forRoot({ ignoreEnvFile: true })],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            origin: [APP],
            proxies: { '/vendor': { target: config.getOrThrow<string>('VENDOR_URL') } },
          }),
        }),
      ],
    })
    class AppModule {}
    app = await makeApp({ imports: [AppModule] });
    const res = await http(app).get('/vendor/ping').set('Origin', APP);
    expect((res.body as Received).url).toBe('/v2/ping');
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    delete process.env.VENDOR_URL;
  });
});
