/**
 * WebSocket gateways from a page on another origin, in real Chromium (issue 13), on Express and on
 * Fastify. Browsers apply no CORS to WebSockets and attach the user's cookies to the handshake:
 * the module's check of the handshake's `Origin` is the only thing between a page on another site
 * and the gateway (cross-site WebSocket hijacking).
 *
 * The API listens on 127.0.0.1 and is called as http://localhost:<port>; the pages are served by
 * two small servers opened as http://127.0.0.1:<port> (one allowed by the policy, one not): as in
 * the sample, the pages and the API are different sites, so the session cookie the API sets is a
 * third-party cookie. Chromium blocks those unless they are `SameSite=None; Secure; Partitioned`
 * (http://localhost counts as secure): the API sets it so, and the browser then sends it with
 * every request and handshake of pages on the same top-level site (127.0.0.1, any port), exactly
 * what makes hijacking possible.
 *
 * - `WsAdapter`: `new WebSocket()` opens and exchanges a message when the page's origin is allowed;
 *   when it is refused the page sees `error` then `close` 1006, Chromium logs the 403, and the
 *   gateway's `handleConnection` never runs.
 * - `IoAdapter`: the Socket.IO browser client (`withCredentials: true`) connects over polling and
 *   over websocket with the cookie (the gateway reads it in `client.handshake.headers.cookie`);
 *   refused, it gets `connect_error` and no gateway code runs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  HttpCode,
  Post,
  Res,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
} from '@nestjs/websockets';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { CorsModule } from '../../lib/index.js';
import { ADAPTERS } from '../e2e/helpers.js';
import { launchChromium, type Browser } from './chromium.js';

/** The Socket.IO browser client, served by the page servers (as a front end would bundle it). */
const SOCKET_IO_CLIENT = readFileSync(
  fileURLToPath(
    new URL('../../node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url),
  ),
);

/** One HTTP request or upgrade the API's server received, before any library saw it. */
interface Seen {
  kind: 'http' | 'upgrade';
  method: string;
  path: string;
  origin: string | undefined;
  /** Did the browser send a Cookie header? */
  cookie: boolean;
  /** The answer's status (an upgrade: the status line written on the socket); null: none yet. */
  status: number | null;
  /** `Access-Control-Allow-Origin` / `-Credentials` of an HTTP answer. */
  acao?: string;
  acac?: string;
}

/** What reached gateway code: the gateway, and the Cookie header of the handshake it saw. */
interface Connection {
  gateway: string;
  cookie: string | undefined;
}

/** Captures the module's log lines (the denials, with `debug: true`). */
class Lines implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown) {
    this.lines.push(String(message));
  }
  debug(message: unknown) {
    this.lines.push(String(message));
  }
  warn(message: unknown) {
    this.lines.push(String(message));
  }
  error(message: unknown) {
    this.lines.push(String(message));
  }
  verbose() {}
}

/**
 * Records every request and upgrade the server gets, ahead of Express/Fastify and of the
 * WebSocket libraries (which take over the server's `request` and `upgrade` events as the
 * gateways are created: hence installed after `init()`, and prepended).
 */
function recordServer(server: Server, seen: Seen[], settled: Promise<unknown>[]): void {
  const entry = (kind: Seen['kind'], req: IncomingMessage): Seen => ({
    kind,
    method: req.method ?? 'GET',
    path: (req.url ?? '/').split('?', 1)[0],
    origin: req.headers.origin,
    cookie: req.headers.cookie !== undefined,
    status: null,
  });
  server.prependListener('request', (req, res) => {
    const e = entry('http', req);
    seen.push(e);
    // Answered, or its connection closed (a long-poll the client gave up on when it closed).
    settled.push(new Promise((resolve) => res.once('close', resolve)));
    res.on('finish', () => {
      e.status = res.statusCode;
      // The header block as sent: Engine.IO passes its headers to writeHead(), where the module
      // adds the CORS ones, so getHeader() does not see them.
      const sent = String((res as unknown as { _header?: string })._header ?? '');
      const value = (name: string) =>
        new RegExp(`^${name}: *(.*?)\\r?$`, 'im').exec(sent)?.[1] ?? undefined;
      const acao = value('access-control-allow-origin');
      const acac = value('access-control-allow-credentials');
      if (acao !== undefined) e.acao = acao;
      if (acac !== undefined) e.acac = acac;
    });
  });
  server.prependListener('upgrade', (req: IncomingMessage, socket: Socket) => {
    const e = entry('upgrade', req);
    seen.push(e);
    // The answer to an upgrade is written on the socket itself (`write` for a 101, `end` for a
    // refusal): read its status line.
    const sniff = (chunk: unknown) => {
      const line = /^HTTP\/1\.1 (\d{3})/.exec(typeof chunk === 'string' ? chunk : String(chunk));
      if (e.status === null && line !== null) e.status = Number(line[1]);
    };
    const s = socket as any;
    const write = s.write;
    const end = s.end;
    s.write = function (chunk: unknown, ...rest: unknown[]) {
      sniff(chunk);
      return write.call(this, chunk, ...rest);
    };
    s.end = function (chunk: unknown, ...rest: unknown[]) {
      if (chunk !== undefined && typeof chunk !== 'function') sniff(chunk);
      return end.call(this, chunk, ...rest);
    };
  });
}

/** A page on its own origin: `/` is an empty page, `/socket.io.min.js` the browser client. */
async function pageServer(servers: Server[]): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>another origin</title>');
    } else if (req.url === '/socket.io.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(SOCKET_IO_CLIENT);
    } else {
      res.writeHead(204).end(); // favicon.ico: no 404 in the console
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** What `new WebSocket()` reported to the page. */
interface PageWebSocket {
  /** The events in order: `open`, `message`, `error`. (`close` ends it.) */
  events: string[];
  closeCode: number;
  wasClean: boolean;
  reply: unknown;
}

/** What the Socket.IO client reported to the page. */
interface PageSocketIo {
  events: string[];
  /** The transport in use when it answered. */
  transport?: string;
  echo?: unknown;
  error?: string;
}

describe.each(ADAPTERS)('WebSocket gateways on %s, in Chromium', (http) => {
  let browser: Browser;
  const pageServers: Server[] = [];
  let allowed: string;
  let refused: string;

  beforeAll(async () => {
    allowed = await pageServer(pageServers);
    refused = await pageServer(pageServers);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    for (const server of pageServers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  /** An API with `gateway`, the module allowing only the `allowed` page, with credentials. */
  async function startApi(
    ws: 'ws' | 'socket.io',
    gateway: Function,
  ): Promise<{
    app: INestApplication;
    api: string;
    seen: Seen[];
    settled: Promise<unknown>[];
    log: Lines;
  }> {
    /** POST /session: the API sets a session cookie (a third-party cookie, see the top). */
    @Controller('session')
    class SessionController {
      @Post()
      @HttpCode(200)
      login(@Res({ passthrough: true }) res: { header(name: string, value: string): unknown }) {
        res.header(
          'Set-Cookie',
          `sid=${randomUUID()}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned`,
        );
        return { ok: true };
      }
    }
    const log = new Lines();
    const moduleRef = await Test.createTestingModule({
      imports: [CorsModule.forRoot({ origin: [allowed], credentials: true, debug: true })],
      controllers: [SessionController],
      providers: [gateway as never],
    }).compile();
    const app =
      http === 'fastify'
        ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
            logger: log,
          })
        : moduleRef.createNestApplication({ logger: log });
    // What Nest itself requires to choose a WebSocket adapter, nothing more.
    app.useWebSocketAdapter(ws === 'ws' ? new WsAdapter(app) : new IoAdapter(app));
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer() as Server;
    const seen: Seen[] = [];
    const settled: Promise<unknown>[] = [];
    recordServer(server, seen, settled);
    const { port } = server.address() as AddressInfo;
    return { app, api: `http://localhost:${port}`, seen, settled, log };
  }

  /** Opens `origin` in a new tab, its console lines collected into `lines`. */
  async function open(origin: string, lines: string[]): Promise<Page> {
    const page = await browser.context.newPage();
    page.on('console', (message) => lines.push(message.text()));
    await page.goto(`${origin}/`);
    return page;
  }

  /** POST /session from the page with credentials: the API sets the session cookie. */
  async function logIn(page: Page, api: string): Promise<number> {
    return page.evaluate(
      async (url) =>
        (await fetch(`${url}/session`, { method: 'POST', credentials: 'include' })).status,
      api,
    );
  }

  describe('ws (WsAdapter): new WebSocket()', () => {
    const connections: Connection[] = [];

    @WebSocketGateway({ path: '/ws' })
    class EchoGateway implements OnGatewayConnection {
      handleConnection(_client: unknown, req: IncomingMessage): void {
        connections.push({ gateway: 'EchoGateway', cookie: req.headers.cookie });
      }

      @SubscribeMessage('echo')
      echo(@MessageBody() data: unknown) {
        return { event: 'echo', data };
      }
    }

    let app: INestApplication;
    let api: string;
    let seen: Seen[];
    let log: Lines;

    beforeAll(async () => {
      ({ app, api, seen, log } = await startApi('ws', EchoGateway));
    });

    afterAll(async () => {
      await app?.close();
    });

    /** `new WebSocket(url)` in the page: sends an `echo` once open, closes after the reply. */
    function connect(page: Page, url: string): Promise<PageWebSocket> {
      return page.evaluate(
        (wsUrl) =>
          new Promise<PageWebSocket>((resolve) => {
            const events: string[] = [];
            let reply: unknown;
            const page = globalThis as any;
            const socket = new page.WebSocket(wsUrl);
            socket.onopen = () => {
              events.push('open');
              socket.send(JSON.stringify({ event: 'echo', data: `from ${page.location.origin}` }));
            };
            socket.onmessage = (event: { data: unknown }) => {
              events.push('message');
              reply = JSON.parse(String(event.data));
              socket.close(1000);
            };
            socket.onerror = () => events.push('error');
            socket.onclose = (event: { code: number; wasClean: boolean }) =>
              resolve({ events, closeCode: event.code, wasClean: event.wasClean, reply });
          }),
        url,
      );
    }

    it('a page on an allowed origin connects, with the cookie, and exchanges a message', async () => {
      const lines: string[] = [];
      const page = await open(allowed, lines);
      expect(await logIn(page, api)).toBe(200);
      connections.length = 0;
      seen.length = 0;
      const outcome = await connect(page, `${api.replace(/^http/, 'ws')}/ws`);
      await page.close();
      expect(outcome).toEqual({
        events: ['open', 'message'],
        closeCode: 1000,
        wasClean: true,
        reply: { event: 'echo', data: `from ${allowed}` },
      });
      expect(connections).toEqual([
        { gateway: 'EchoGateway', cookie: expect.stringMatching(/^sid=/) },
      ]);
      expect(seen).toEqual([
        { kind: 'upgrade', method: 'GET', path: '/ws', origin: allowed, cookie: true, status: 101 },
      ]);
      expect(lines.filter((line) => /WebSocket|CORS/.test(line))).toEqual([]);
    });

    it('a page on a refused origin cannot: error, close 1006, a 403, no gateway code', async () => {
      const lines: string[] = [];
      const page = await open(allowed, lines);
      expect(await logIn(page, api)).toBe(200);
      await page.close();
      const other = await open(refused, lines);
      connections.length = 0;
      seen.length = 0;
      log.lines.length = 0;
      const url = `${api.replace(/^http/, 'ws')}/ws`;
      const failed = other.waitForEvent('console', (m) => m.text().includes('WebSocket'));
      const outcome = await connect(other, url);
      await failed;
      await other.close();
      // Chromium gives the page nothing but `error` and an abnormal close; the reason is only in
      // its console.
      expect(outcome).toEqual({
        events: ['error'],
        closeCode: 1006,
        wasClean: false,
        reply: undefined,
      });
      expect(lines).toContain(
        `WebSocket connection to '${url}' failed: Error during WebSocket handshake: Unexpected response code: 403`,
      );
      // The browser attached the user's cookie (a same-site page logged in): the server refused
      // the handshake anyway, before any gateway code.
      expect(seen).toEqual([
        { kind: 'upgrade', method: 'GET', path: '/ws', origin: refused, cookie: true, status: 403 },
      ]);
      expect(connections).toEqual([]);
      expect(log.lines).toEqual([
        expect.stringMatching(
          `^CORS denied WebSocket handshake /ws from "${refused}" → EchoGateway: the Origin is not allowed by the policy`,
        ),
      ]);
    });
  });

  describe('Socket.IO (IoAdapter): the browser client, withCredentials', () => {
    const connections: Connection[] = [];

    @WebSocketGateway()
    class ChatGateway implements OnGatewayConnection {
      handleConnection(client: { handshake: { headers: IncomingMessage['headers'] } }): void {
        connections.push({ gateway: 'ChatGateway', cookie: client.handshake.headers.cookie });
      }

      @SubscribeMessage('echo')
      echo(@MessageBody() data: unknown, @ConnectedSocket() _client: unknown) {
        return { event: 'echo', data };
      }
    }

    let app: INestApplication;
    let api: string;
    let seen: Seen[];
    let settled: Promise<unknown>[];
    let log: Lines;

    beforeAll(async () => {
      ({ app, api, seen, settled, log } = await startApi('socket.io', ChatGateway));
    });

    afterAll(async () => {
      await app?.close();
    });

    /** Loads the Socket.IO client in the page and connects on one transport; echoes once. */
    async function connect(page: Page, transport: 'polling' | 'websocket'): Promise<PageSocketIo> {
      await page.addScriptTag({ url: '/socket.io.min.js' });
      return page.evaluate(
        ([url, only]) =>
          new Promise<PageSocketIo>((resolve) => {
            const events: string[] = [];
            const page = globalThis as any;
            const socket = page.io(url, {
              transports: [only],
              withCredentials: true,
              reconnection: false,
              forceNew: true,
            });
            socket.on('connect', () => {
              events.push('connect');
              socket.emit('echo', `from ${page.location.origin}`);
            });
            socket.on('echo', (echo: unknown) => {
              events.push('echo');
              const transport = socket.io.engine.transport.name as string;
              socket.close();
              resolve({ events, transport, echo });
            });
            socket.on('connect_error', (error: Error) => {
              events.push('connect_error');
              socket.close();
              resolve({ events, error: error.message });
            });
          }),
        [api, transport] as const,
      );
    }

    it.each(['polling', 'websocket'] as const)(
      'a page on an allowed origin connects over %s with the cookie and exchanges a message',
      async (transport) => {
        const lines: string[] = [];
        const page = await open(allowed, lines);
        expect(await logIn(page, api)).toBe(200);
        connections.length = 0;
        seen.length = 0;
        settled.length = 0;
        const outcome = await connect(page, transport);
        await page.close();
        expect(outcome).toEqual({
          events: ['connect', 'echo'],
          transport,
          echo: `from ${allowed}`,
        });
        // The gateway saw the cookie the API set earlier, in the handshake.
        expect(connections).toEqual([
          { gateway: 'ChatGateway', cookie: expect.stringMatching(/^sid=/) },
        ]);
        const transportRequests = seen.filter((e) => e.path === '/socket.io/');
        expect(transportRequests.length).toBeGreaterThan(0);
        for (const e of transportRequests) {
          expect(e).toMatchObject({ origin: allowed, cookie: true });
        }
        if (transport === 'websocket') {
          expect(transportRequests).toEqual([
            expect.objectContaining({ kind: 'upgrade', method: 'GET', status: 101 }),
          ]);
        } else {
          // Long-polling: credentialed XHRs, answered with the policy's headers (Chromium would
          // refuse them otherwise). The last long-poll GET may still be open when the page closes
          // the socket: wait until every request is answered or dropped.
          await Promise.all(settled);
          expect(transportRequests.every((e) => e.kind === 'http')).toBe(true);
          const answered = transportRequests.filter((e) => e.status !== null);
          expect(answered.map((e) => e.method)).toEqual(expect.arrayContaining(['GET', 'POST']));
          for (const e of answered) {
            expect(e).toMatchObject({ status: 200, acao: allowed, acac: 'true' });
          }
        }
        expect(lines.filter((line) => /WebSocket|CORS/.test(line))).toEqual([]);
      },
    );

    it.each(['polling', 'websocket'] as const)(
      'a page on a refused origin cannot connect over %s: connect_error, no gateway code',
      async (transport) => {
        const lines: string[] = [];
        const page = await open(allowed, lines);
        expect(await logIn(page, api)).toBe(200);
        await page.close();
        const other = await open(refused, lines);
        connections.length = 0;
        seen.length = 0;
        log.lines.length = 0;
        const reported = other.waitForEvent('console', (m) =>
          transport === 'polling'
            ? m.text().includes('blocked by CORS policy')
            : m.text().includes('WebSocket connection'),
        );
        const outcome = await connect(other, transport);
        await reported;
        await other.close();
        expect(outcome).toEqual({
          events: ['connect_error'],
          error: transport === 'polling' ? 'xhr poll error' : 'websocket error',
        });
        expect(connections).toEqual([]);
        // The browser sent the cookie with the handshake; the module refused it (403).
        const transportRequests = seen.filter((e) => e.path === '/socket.io/');
        expect(transportRequests).toEqual([
          expect.objectContaining({
            kind: transport === 'polling' ? 'http' : 'upgrade',
            method: 'GET',
            origin: refused,
            cookie: true,
            status: 403,
          }),
        ]);
        expect(transportRequests[0].acao).toBeUndefined();
        if (transport === 'polling') {
          expect(lines.join('\n')).toMatch(
            new RegExp(
              `Access to XMLHttpRequest at '${api}/socket\\.io/\\?EIO=4&transport=polling[^']*' ` +
                `from origin '${refused}' has been blocked by CORS policy: No ` +
                `'Access-Control-Allow-Origin' header is present on the requested resource`,
            ),
          );
        } else {
          expect(lines.join('\n')).toMatch(
            new RegExp(
              `WebSocket connection to '${api.replace(/^http/, 'ws')}/socket\\.io/\\?EIO=4&transport=websocket' ` +
                `failed: Error during WebSocket handshake: Unexpected response code: 403`,
            ),
          );
        }
        expect(log.lines).toEqual([
          expect.stringMatching(
            `^CORS denied WebSocket handshake \\(default path\\) from "${refused}" → ChatGateway: the Origin is not allowed by the policy`,
          ),
        ]);
      },
    );
  });
});
