/**
 * Issue 13, in depth: Socket.IO's HTTP transport answers (headers, preflights, refusals),
 * namespaces with their own policies, gateways on ports of their own, shared servers, origin
 * functions, live origin lists, boot errors, the report and denial logs.
 */
import { describe, expect, it } from '@jest/globals';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import type { ServerOptions } from 'socket.io';
import { Cors, CorsConfigError, CorsModule, CorsService } from '../../lib/index.js';
import { ADAPTERS, http } from '../e2e/helpers.js';
import { LogCapture, memorySource } from '../live/support.js';
import {
  connections,
  echoGateway,
  freePort,
  gatewayApps,
  ioConnect,
  wsConnect,
} from './support.js';

const ALLOWED = 'https://app.example';
const OTHER = 'https://partner.example';
const EVIL = 'https://evil.example';
const POLL = '/socket.io/?EIO=4&transport=polling';

const apps = gatewayApps({ origin: [ALLOWED], credentials: true });
const boot = apps.boot;

describe.each(ADAPTERS)('on %s', (adapter) => {
  describe("Socket.IO's HTTP transport", () => {
    const Io = echoGateway('IoGateway');

    it('answers polling requests of an allowed origin with the policy headers', async () => {
      await boot('socket.io', adapter, [Io]);
      const res = await http(apps.app).get(POLL).set('Origin', ALLOWED);
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers.vary).toMatch(/\bOrigin\b/);
    });

    it('refuses polling requests of a refused origin with 403 and no CORS header', async () => {
      await boot('socket.io', adapter, [Io]);
      const res = await http(apps.app).get(POLL).set('Origin', EVIL);
      expect(res.status).toBe(403);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(connections).toEqual([]);
    });

    it('answers a preflight of the polling transport from the policy', async () => {
      await boot('socket.io', adapter, [Io], {
        origin: [ALLOWED],
        credentials: true,
        allowedHeaders: ['Content-Type', 'X-Token'],
        maxAge: 600,
      });
      const ok = await http(apps.app)
        .options(POLL)
        .set('Origin', ALLOWED)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'x-token');
      expect(ok.status).toBe(204);
      expect(ok.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(ok.headers['access-control-allow-credentials']).toBe('true');
      expect(ok.headers['access-control-allow-methods']).toMatch(/POST/);
      expect(ok.headers['access-control-allow-headers']).toMatch(/x-token/i);
      expect(ok.headers['access-control-max-age']).toBe('600');
      const refused = await http(apps.app)
        .options(POLL)
        .set('Origin', EVIL)
        .set('Access-Control-Request-Method', 'POST');
      expect(refused.status).toBe(403);
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('leaves same-origin and Origin-less polling alone (no CORS headers, allowed)', async () => {
      const { port } = await boot('socket.io', adapter, [Io]);
      const same = await http(apps.app).get(POLL).set('Origin', `http://127.0.0.1:${port}`);
      expect(same.status).toBe(200);
      expect(same.headers['access-control-allow-origin']).toBeUndefined();
      const none = await http(apps.app).get(POLL);
      expect(none.status).toBe(200);
    });
  });

  describe('Socket.IO namespaces', () => {
    @Cors({ origin: [OTHER] })
    class Admin extends echoGateway('AdminGateway', { namespace: 'admin' }) {}
    const Main = echoGateway('MainGateway');

    it('checks each namespace with its own gateway policy', async () => {
      const { url } = await boot('socket.io', adapter, [Main, Admin]);
      expect((await ioConnect(url, OTHER, 'websocket', '/admin')).connected).toBe(true);
      expect(connections).toEqual(['AdminGateway']);
      connections.length = 0;
      // The transport lets OTHER in (a namespace allows it); the main namespace refuses it.
      const main = await ioConnect(url, OTHER, 'polling');
      expect(main).toEqual({ connected: false, error: 'origin not allowed' });
      const admin = await ioConnect(url, ALLOWED, 'polling', '/admin');
      expect(admin).toEqual({ connected: false, error: 'origin not allowed' });
      expect(connections).toEqual([]);
      expect((await ioConnect(url, EVIL, 'polling', '/admin')).connected).toBe(false);
    });
  });

  describe('gateways on a port of their own', () => {
    it.each(['ws', 'socket.io'] as const)('guards a %s gateway on its own port', async (ws) => {
      const port = await freePort();
      const Own = echoGateway('OwnPortGateway', ws === 'ws' ? { path: '/own' } : {}, port);
      await boot(ws, adapter, [Own]);
      const url = `http://127.0.0.1:${port}`;
      if (ws === 'ws') {
        expect((await wsConnect(`${url}/own`, ALLOWED)).open).toBe(true);
        expect(await wsConnect(`${url}/own`, EVIL)).toEqual({ open: false, status: 403 });
      } else {
        expect((await ioConnect(url, ALLOWED, 'websocket')).connected).toBe(true);
        expect((await ioConnect(url, EVIL, 'websocket')).connected).toBe(false);
        expect((await ioConnect(url, EVIL, 'polling')).connected).toBe(false);
      }
      expect(connections).toEqual(['OwnPortGateway']);
    });

    it('guards a ws gateway on its own port without a path', async () => {
      const port = await freePort();
      await boot('ws', adapter, [echoGateway('BarePortGateway', {}, port)]);
      expect((await wsConnect(`ws://127.0.0.1:${port}`, ALLOWED)).open).toBe(true);
      expect(await wsConnect(`ws://127.0.0.1:${port}`, EVIL)).toEqual({ open: false, status: 403 });
    });
  });

  describe('policies', () => {
    it("runs the gateway's own verifyClient after the origin check", async () => {
      const Keyed = echoGateway('KeyedGateway', {
        path: '/keyed',
        verifyClient: (info: { req: { url?: string } }) =>
          info.req.url?.endsWith('?key=k') === true,
      });
      const { url } = await boot('ws', adapter, [Keyed]);
      expect((await wsConnect(`${url}/keyed?key=k`, ALLOWED)).open).toBe(true);
      // ws answers a false verifyClient with 401; the origin check answers 403 first.
      expect(await wsConnect(`${url}/keyed?key=x`, ALLOWED)).toEqual({ open: false, status: 401 });
      expect(await wsConnect(`${url}/keyed?key=k`, EVIL)).toEqual({ open: false, status: 403 });
    });

    it('needs every gateway sharing one ws server to allow the origin (each gets the connection)', async () => {
      @Cors({ origin: [ALLOWED, OTHER] })
      class Wide extends echoGateway('WideGateway', { path: '/shared' }) {}
      const Narrow = echoGateway('NarrowGateway', { path: '/shared' });
      const { url } = await boot('ws', adapter, [Wide, Narrow]);
      expect(await wsConnect(`${url}/shared`, OTHER)).toEqual({ open: false, status: 403 });
      expect((await wsConnect(`${url}/shared`, ALLOWED)).open).toBe(true);
    });

    it('leaves a gateway under @Cors(false), or undecorated under routes: decorated, unchecked', async () => {
      @Cors(false)
      class Off extends echoGateway('OffGateway', { path: '/off' }) {}
      const Plain = echoGateway('PlainGateway', { path: '/plain' });
      const { url } = await boot('ws', adapter, [Off, Plain], {
        origin: [ALLOWED],
        routes: 'decorated',
      });
      expect((await wsConnect(`${url}/off`, EVIL)).open).toBe(true);
      expect((await wsConnect(`${url}/plain`, EVIL)).open).toBe(true);
    });

    it('follows a named policy, and an async origin function', async () => {
      @Cors('partners')
      class Partners extends echoGateway('PartnersGateway', { path: '/partners' }) {}
      const { url } = await boot('ws', adapter, [Partners], {
        origin: [ALLOWED],
        policies: {
          partners: { origin: async (origin: string | undefined) => origin === OTHER },
        },
      });
      expect((await wsConnect(`${url}/partners`, OTHER)).open).toBe(true);
      expect(await wsConnect(`${url}/partners`, ALLOWED)).toEqual({ open: false, status: 403 });
    });

    it('refuses when the origin function throws, and logs the error', async () => {
      const log = new LogCapture();
      @Cors({
        origin: () => {
          throw new Error('tenant lookup failed');
        },
      })
      class Broken extends echoGateway('BrokenGateway', { path: '/broken' }) {}
      const { url } = await boot('ws', adapter, [Broken], { origin: [ALLOWED] }, log);
      expect(await wsConnect(`${url}/broken`, OTHER)).toEqual({ open: false, status: 403 });
      expect(log.matching(/tenant lookup failed/, 'error').length).toBeGreaterThan(0);
      expect(connections).toEqual([]);
    });

    it('takes live origins from an originSource without a restart', async () => {
      const log = new LogCapture();
      const { source, store } = memorySource({ origins: [ALLOWED] });
      const Live = echoGateway('LiveGateway', { path: '/live' });
      const { url } = await boot('ws', adapter, [Live], { originSource: source }, log);
      expect((await wsConnect(`${url}/live`, OTHER)).open).toBe(false);
      store.write([ALLOWED, OTHER]);
      const applied = log.next(/live origins in force/);
      store.notify();
      await applied;
      expect((await wsConnect(`${url}/live`, OTHER)).open).toBe(true);
    });
  });

  describe('boot, report and logs', () => {
    it('takes the policies of forRootAsync (origins from a factory)', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          CorsModule.forRootAsync({
            useFactory: async () => ({ origin: [OTHER], enforce: true }),
          }),
        ],
        providers: [echoGateway('AsyncGateway', { path: '/async' })],
      }).compile();
      const app =
        adapter === 'fastify'
          ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
          : moduleRef.createNestApplication({ logger: false });
      app.useWebSocketAdapter(new WsAdapter(app));
      await app.listen(0, '127.0.0.1');
      try {
        const url = `${await app.getUrl()}/async`;
        expect((await wsConnect(url, OTHER)).open).toBe(true);
        expect(await wsConnect(url, ALLOWED)).toEqual({ open: false, status: 403 });
        expect(await wsConnect(url, undefined)).toEqual({ open: false, status: 403 });
      } finally {
        await app.close();
      }
    });

    it('refuses to start when a gateway server is created where the module cannot see it', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [CorsModule.forRoot({ origin: [ALLOWED] })],
        providers: [echoGateway('SealedGateway', { path: '/sealed' })],
      }).compile();
      const app =
        adapter === 'fastify'
          ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
          : moduleRef.createNestApplication({ logger: false });
      // An adapter whose create() cannot be seen through (sealed): servers the gate never sees.
      const sealed = new WsAdapter(app);
      Object.defineProperty(sealed, 'create', {
        value: sealed.create.bind(sealed),
        writable: false,
        configurable: false,
      });
      app.useWebSocketAdapter(sealed);
      const error = await app.init().catch((e: unknown) => e);
      await app.close();
      expect(error).toBeInstanceOf(CorsConfigError);
      expect((error as CorsConfigError).problems.map((p) => `${p.where} ${p.code}`)).toEqual([
        'SealedGateway gateway-unguarded',
      ]);
      expect((error as Error).message).toMatch(/created where this module could not see it/);
    });

    it("refuses to boot when the adapter's createIOServer adds Socket.IO's own cors option", async () => {
      /** The common pattern: an IoAdapter subclass that sets `cors` for every server. */
      class CorsIoAdapter extends IoAdapter {
        override createIOServer(port: number, options?: ServerOptions) {
          return super.createIOServer(port, { ...options, cors: { origin: '*' } } as ServerOptions);
        }
      }
      const moduleRef = await Test.createTestingModule({
        imports: [CorsModule.forRoot({ origin: [ALLOWED] })],
        providers: [echoGateway('AdapterCorsGateway')],
      }).compile();
      const app =
        adapter === 'fastify'
          ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
          : moduleRef.createNestApplication({ logger: false });
      app.useWebSocketAdapter(new CorsIoAdapter(app));
      const error = await app.init().catch((e: unknown) => e);
      await app.close();
      expect(error).toBeInstanceOf(CorsConfigError);
      expect((error as CorsConfigError).problems.map((p) => `${p.where} ${p.code}`)).toEqual([
        'AdapterCorsGateway gateway-cors-option',
      ]);
      expect((error as Error).message).toMatch(
        /created with a cors option by the WebSocket adapter/,
      );
    });

    it("refuses to boot when a gateway sets Socket.IO's own cors option, naming it", async () => {
      const Own = echoGateway('CorsOptionGateway', { cors: { origin: '*' } });
      const error = await boot('socket.io', adapter, [Own]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorsConfigError);
      expect((error as CorsConfigError).problems).toEqual([
        expect.objectContaining({
          code: 'gateway-cors-option',
          where: 'CorsOptionGateway',
          source: { kind: 'gateway', gateway: 'CorsOptionGateway' },
        }),
      ]);
      expect((error as Error).message).toMatch(/CorsOptionGateway: sets Socket\.IO's own cors/);
    });

    it('lists gateways with their effective policy in report()', async () => {
      @Cors({ origin: [OTHER] })
      class Admin extends echoGateway('AdminGateway', { namespace: 'admin' }) {}
      await boot('socket.io', adapter, [echoGateway('MainGateway'), Admin]);
      const rows = apps.app
        .get(CorsService)
        .report()
        .filter((r) => r.method === 'WEBSOCKET');
      expect(rows).toEqual([
        expect.objectContaining({
          path: '(default)',
          handler: 'MainGateway',
          source: 'module',
          gateway: { port: 0 },
          policy: expect.objectContaining({ origins: [ALLOWED], credentials: true }),
        }),
        expect.objectContaining({
          handler: 'Admin',
          source: 'Admin',
          gateway: { port: 0, namespace: 'admin' },
          policy: expect.objectContaining({ origins: [OTHER] }),
        }),
      ]);
    });

    it('logs a refused handshake like an HTTP denial (debug)', async () => {
      const log = new LogCapture();
      const { url } = await boot(
        'ws',
        adapter,
        [echoGateway('EchoGateway', { path: '/ws' })],
        { origin: [ALLOWED], debug: true },
        log,
      );
      await wsConnect(`${url}/ws`, EVIL);
      // The boot's policy table lists the gateway too.
      expect(
        log.matching(/^CORS policy table:[\s\S]*\n {2}WS +\/ws +EchoGateway +\[module\]/),
      ).toHaveLength(1);
      const denials = log.matching(/^CORS denied WebSocket handshake/).map((l) => l.message);
      expect(denials).toEqual([
        'CORS denied WebSocket handshake /ws from "https://evil.example" → EchoGateway: the Origin is not allowed by the policy (module)',
      ]);
    });
  });
});
