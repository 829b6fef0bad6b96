/**
 * Issue 13: the same policies govern WebSocket gateways. Real `ws` and `socket.io-client` clients
 * send chosen `Origin` headers to real gateways on both WebSocket adapters and both HTTP adapters.
 */
import { describe, expect, it } from '@jest/globals';
import { Cors, CorsService } from '../../lib/index.js';
import { ADAPTERS } from '../e2e/helpers.js';
import { connections, echoGateway, gatewayApps, ioConnect, wsConnect } from './support.js';

const ALLOWED = 'https://app.example';
const OTHER = 'https://evil.example';

const apps = gatewayApps({ origin: [ALLOWED], credentials: true });
const boot = apps.boot;

describe.each(ADAPTERS)('gateways on %s', (http) => {
  describe('ws (WsAdapter)', () => {
    const Echo = echoGateway('EchoGateway', { path: '/ws' });

    it('lets an allowed origin connect and exchange a message', async () => {
      const { url } = await boot('ws', http, [Echo]);
      const outcome = await wsConnect(`${url}/ws`, ALLOWED);
      expect(outcome).toEqual({ open: true, echo: { event: 'echo', data: 'ping' } });
      expect(connections).toEqual(['EchoGateway']);
    });

    it('answers a refused origin 403 and never runs gateway code', async () => {
      const { url } = await boot('ws', http, [Echo]);
      expect(await wsConnect(`${url}/ws`, OTHER)).toEqual({ open: false, status: 403 });
      expect(connections).toEqual([]);
    });

    it('allows a handshake without Origin, and refuses it when the policy enforces', async () => {
      let booted = await boot('ws', http, [Echo]);
      expect((await wsConnect(`${booted.url}/ws`, undefined)).open).toBe(true);
      await apps.app.close();
      booted = await boot('ws', http, [Echo], { origin: [ALLOWED], enforce: true });
      expect(await wsConnect(`${booted.url}/ws`, undefined)).toEqual({ open: false, status: 403 });
    });

    it('always allows a same-origin handshake', async () => {
      const { url, port } = await boot('ws', http, [Echo]);
      expect((await wsConnect(`${url}/ws`, `http://127.0.0.1:${port}`)).open).toBe(true);
    });

    it('follows @Cors on the gateway class, merged over the module defaults', async () => {
      @Cors({ origin: [OTHER] })
      class Decorated extends echoGateway('DecoratedGateway', { path: '/decorated' }) {}
      const { url } = await boot('ws', http, [Decorated]);
      expect((await wsConnect(`${url}/decorated`, OTHER)).open).toBe(true);
      expect(await wsConnect(`${url}/decorated`, ALLOWED)).toEqual({ open: false, status: 403 });
    });

    it('lets an origin added with setOrigins connect without a restart', async () => {
      const { url } = await boot('ws', http, [Echo]);
      expect((await wsConnect(`${url}/ws`, OTHER)).open).toBe(false);
      apps.app.get(CorsService).setOrigins([ALLOWED, OTHER]);
      expect((await wsConnect(`${url}/ws`, OTHER)).open).toBe(true);
    });
  });

  describe('Socket.IO (IoAdapter)', () => {
    const Echo = echoGateway('IoGateway');

    it.each(['polling', 'websocket'] as const)(
      'lets an allowed origin connect over %s and exchange a message',
      async (transport) => {
        const { url } = await boot('socket.io', http, [Echo]);
        const outcome = await ioConnect(url, ALLOWED, transport);
        expect(outcome).toEqual({ connected: true, echo: { event: 'echo', data: 'ping' } });
        expect(connections).toEqual(['IoGateway']);
      },
    );

    it.each(['polling', 'websocket'] as const)(
      'refuses a refused origin over %s; no gateway code runs',
      async (transport) => {
        const { url } = await boot('socket.io', http, [Echo]);
        const outcome = await ioConnect(url, OTHER, transport);
        expect(outcome.connected).toBe(false);
        expect(connections).toEqual([]);
      },
    );
  });
});
