/**
 * The README's "WebSocket gateways" and "When you don't control the API" sections: their code
 * blocks as written there (each marked README), and the claims made next to them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Injectable,
  Module,
  UnauthorizedException,
  type CanActivate,
  type INestApplication,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import {
  AbstractWsAdapter,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
} from '@nestjs/websockets';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { Cors, CorsConfigError, CorsModule, CorsService } from '../../lib/index.js';
import { LogCapture } from '../live/support.js';
import { Upstream, type Received } from '../proxy/upstream.js';
import { wsConnect } from '../ws/support.js';

const APP = 'https://app.example.com';
const EVIL = 'https://evil.example';

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('README: WebSocket gateways', () => {
  const seen: string[] = [];

  // README
  @Cors('realtime') // or options, or false; merged over the module defaults like a controller
  @WebSocketGateway({ path: '/live' })
  class LiveGateway implements OnGatewayConnection {
    handleConnection() {
      seen.push('connected');
    }
    @SubscribeMessage('ping') ping() {
      return { event: 'pong', data: Date.now() };
    }
  }

  async function start(logger: LogCapture | false = false): Promise<string> {
    seen.length = 0;
    const moduleRef = await Test.createTestingModule({
      imports: [
        CorsModule.forRoot({
          origin: [APP],
          debug: true,
          policies: { realtime: { origin: [APP, 'https://ops.example.com'] } },
        }),
      ],
      providers: [LiveGateway],
    }).compile();
    app = moduleRef.createNestApplication({ logger });
    app.useWebSocketAdapter(new WsAdapter(app)); // main.ts: the only line, as Nest requires
    await app.listen(0, '127.0.0.1');
    return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/live`;
  }

  it('answers a refused handshake 403; gateway code never runs; the denial is logged', async () => {
    const log = new LogCapture();
    const url = await start(log);
    expect(await wsConnect(url, EVIL)).toEqual({ open: false, status: 403 });
    expect(seen).toEqual([]);
    expect(
      log.matching(
        /^CORS denied WebSocket handshake \/live from "https:\/\/evil\.example" → LiveGateway: the Origin is not allowed by the policy \(policy "realtime"\)$/,
      ),
    ).toHaveLength(1);
  });

  it("lets the policy's origins in, and Origin-less clients (no enforce)", async () => {
    const url = await start();
    const ops = await wsConnect(url, 'https://ops.example.com', 'ping');
    expect(ops).toEqual({ open: true, echo: { event: 'pong', data: expect.any(Number) } });
    expect((await wsConnect(url, undefined, 'ping')).open).toBe(true);
    expect(seen).toEqual(['connected', 'connected']);
  });

  it('lists the gateway in report() after the routes', async () => {
    await start();
    const rows = app!.get(CorsService).report();
    expect(rows.at(-1)).toEqual(
      expect.objectContaining({
        method: 'WEBSOCKET',
        path: '/live',
        handler: 'LiveGateway',
        source: 'policy "realtime"',
        gateway: { port: 0 },
      }),
    );
  });

  it('refuses to boot a gateway with a policy on a server it cannot check (gateway-unguarded)', async () => {
    /** An adapter whose servers are neither ws nor Socket.IO. */
    class HomemadeAdapter extends AbstractWsAdapter {
      create() {
        return new EventEmitter();
      }
      bindMessageHandlers() {}
    }
    @WebSocketGateway({ path: '/homemade' })
    class HomemadeGateway {}
    const moduleRef = await Test.createTestingModule({
      imports: [CorsModule.forRoot({ origin: [APP] })],
      providers: [HomemadeGateway],
    }).compile();
    const created = moduleRef.createNestApplication({ logger: false });
    created.useWebSocketAdapter(new HomemadeAdapter(created));
    const error = await created.init().catch((e: unknown) => e);
    await created.close();
    expect(error).toBeInstanceOf(CorsConfigError);
    expect((error as CorsConfigError).problems.map((p) => `${p.where} ${p.code}`)).toEqual([
      'HomemadeGateway gateway-unguarded',
    ]);

    // Opted out on purpose: it boots.
    @Cors(false)
    @WebSocketGateway({ path: '/homemade' })
    class CheckedByHandGateway {}
    const optedOut = await Test.createTestingModule({
      imports: [CorsModule.forRoot({ origin: [APP] })],
      providers: [CheckedByHandGateway],
    }).compile();
    app = optedOut.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new HomemadeAdapter(app));
    await expect(app.init()).resolves.toBe(app);
  });
});

describe("README: When you don't control the API", () => {
  let vendor: Upstream;
  beforeAll(async () => {
    vendor = await Upstream.start();
  });
  afterAll(async () => {
    await vendor.close();
  });

  async function start(): Promise<INestApplication> {
    process.env.VENDOR_API = `http://${vendor.host}/v1`;
    process.env.VENDOR_KEY = 'server-side-secret';
    @Module({
      imports: [
        // README
        CorsModule.forRootAsync({
          imports: [ConfigModule.forRoot()],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            origin: ['https://app.example.com'],
            proxies: {
              '/vendor': {
                target: config.getOrThrow('VENDOR_API'), // https://api.vendor.example/v1
                setHeaders: { 'x-api-key': config.getOrThrow('VENDOR_KEY') }, // the key stays on the server
              },
            },
          }),
        }),
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    delete process.env.VENDOR_API;
    delete process.env.VENDOR_KEY;
    return app;
  }

  it('calls the target under its path with the key, and answers with the policy headers', async () => {
    await start();
    const res = await request(app!.getHttpServer())
      .get('/vendor/quotes?symbol=ACME')
      .set('Origin', APP)
      .set('X-Api-Key', 'client-chosen')
      .set('Cookie', 'session=app-cookie');
    const received = res.body as Received;
    expect(received.url).toBe('/v1/quotes?symbol=ACME');
    expect(received.headers['x-api-key']).toBe('server-side-secret');
    expect(received.headers.cookie).toBeUndefined();
    expect(res.headers['access-control-allow-origin']).toBe(APP);
  });

  it('refuses dot segments and encoded slashes with 400, and never relays a refused origin', async () => {
    await start();
    const server = app!.getHttpServer();
    for (const path of ['/vendor/%2e%2e/admin', '/vendor/a%2Fb', '/vendor//x']) {
      expect((await request(server).get(path).set('Origin', APP)).status).toBe(400);
    }
    vendor.arrivals.length = 0;
    expect((await request(server).get('/vendor/quotes').set('Origin', EVIL)).status).toBe(403);
    expect(vendor.arrivals).toHaveLength(0);
  });

  it("answers before the app's guards: a proxied prefix is not behind them", async () => {
    @Injectable()
    class DenyAll implements CanActivate {
      canActivate(): boolean {
        throw new UnauthorizedException();
      }
    }
    @Controller('items')
    class ItemsController {
      @Get() list() {
        return [];
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [
        CorsModule.forRoot({
          origin: [APP],
          proxies: { '/vendor': { target: `http://${vendor.host}` } },
        }),
      ],
      controllers: [ItemsController],
      providers: [{ provide: APP_GUARD, useClass: DenyAll }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const server = app.getHttpServer();
    expect((await request(server).get('/items').set('Origin', APP)).status).toBe(401);
    expect((await request(server).get('/vendor/quotes').set('Origin', APP)).status).toBe(200);
  });

  it('lists the proxy in report() without the setHeaders values', async () => {
    await start();
    const row = app!
      .get(CorsService)
      .report()
      .find((r) => r.proxy !== undefined);
    expect(row).toEqual(
      expect.objectContaining({ method: 'ALL', path: '/vendor', handler: 'proxies["/vendor"]' }),
    );
    expect(row!.proxy!.setHeaders).toEqual(['x-api-key']);
    expect(JSON.stringify(row)).not.toContain('server-side-secret');
  });
});
