/**
 * WebSocket e2e support: a Nest app with gateways on `ws` (WsAdapter) or Socket.IO (IoAdapter),
 * on either HTTP adapter, and real clients (`ws`, `socket.io-client`) sending a chosen `Origin`.
 */
import { afterEach } from '@jest/globals';
import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { createServer } from 'node:net';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
} from '@nestjs/websockets';
import type { AddressInfo } from 'node:net';
import { io, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { CorsModule } from '../../lib/index.js';
import type { AdapterName } from '../e2e/helpers.js';

export const WS_ADAPTERS = ['ws', 'socket.io'] as const;
export type WsAdapterName = (typeof WS_ADAPTERS)[number];

/** Every gateway's `handleConnection` calls this: what reached gateway code. */
export const connections: string[] = [];

/**
 * A gateway class named `name` (`@WebSocketGateway(port, options)`) that records its connections
 * in `connections` and answers `echo` with `{ event: 'echo', data }`.
 */
export function echoGateway(name: string, options: Record<string, unknown> = {}, port = 0) {
  @WebSocketGateway(port, options)
  class Gateway implements OnGatewayConnection {
    handleConnection(): void {
      connections.push(name);
    }

    @SubscribeMessage('echo')
    echo(@MessageBody() data: unknown) {
      return { event: 'echo', data };
    }
  }
  Object.defineProperty(Gateway, 'name', { value: name });
  return Gateway;
}

/**
 * One app per test, closed after it: `boot(ws, http, gateways, options?, logger?)` imports
 * `CorsModule.forRoot(options)` (`defaults` when not given) next to the gateways.
 */
export function gatewayApps(defaults: Record<string, unknown>) {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  return {
    get app(): INestApplication {
      if (app === undefined) throw new Error('no app booted');
      return app;
    },
    async boot(
      ws: WsAdapterName,
      http: AdapterName,
      providers: Function[],
      options: Record<string, unknown> = defaults,
      logger: LoggerService | false = false,
    ) {
      const booted = await listenWithGateways(
        { imports: [CorsModule.forRoot(options)], providers: providers as never },
        ws,
        http,
        logger,
      );
      app = booted.app;
      return booted;
    },
  };
}

/**
 * Boots `metadata` on `http` with the WebSocket adapter `ws` chosen as `main.ts` does (nothing
 * more), logging to `logger` (none by default), and listens on 127.0.0.1.
 */
export async function listenWithGateways(
  metadata: ModuleMetadata,
  ws: WsAdapterName,
  http: AdapterName = 'express',
  logger: LoggerService | false = false,
): Promise<{ app: INestApplication; port: number; url: string }> {
  connections.length = 0;
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app =
    http === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger })
      : moduleRef.createNestApplication({ logger });
  // What Nest itself requires to choose an adapter, nothing more.
  app.useWebSocketAdapter(ws === 'ws' ? new WsAdapter(app) : new IoAdapter(app));
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close();
    throw error;
  }
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, port, url: `http://127.0.0.1:${port}` };
}

/** A port nothing listens on right now (for a gateway on a port of its own). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** What a `ws` client handshake ended in: open (and an echo round trip), or an HTTP status. */
export type WsOutcome = { open: true; echo: unknown } | { open: false; status: number | 'closed' };

/**
 * Opens a `ws` connection to `url` with `Origin: origin` (none when undefined), sends `event`
 * once and waits for the first answer.
 */
export function wsConnect(
  url: string,
  origin: string | undefined,
  event = 'echo',
): Promise<WsOutcome> {
  return new Promise((resolve) => {
    const headers = origin === undefined ? {} : { Origin: origin };
    const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    socket.on('unexpected-response', (_req, res) => {
      resolve({ open: false, status: res.statusCode ?? 0 });
      socket.terminate();
    });
    socket.on('error', () => resolve({ open: false, status: 'closed' }));
    socket.on('open', () => socket.send(JSON.stringify({ event, data: 'ping' })));
    socket.on('message', (data) => {
      resolve({ open: true, echo: JSON.parse(String(data)) });
      socket.close();
    });
  });
}

/** What a Socket.IO client ended in: connected (and an ack round trip), or `connect_error`. */
export type IoOutcome = { connected: true; echo: unknown } | { connected: false; error: string };

/** Connects a Socket.IO client with `Origin: origin` on the given transport, and echoes once. */
export function ioConnect(
  url: string,
  origin: string | undefined,
  transport: 'polling' | 'websocket',
  namespace = '',
): Promise<IoOutcome> {
  return new Promise((resolve) => {
    const socket: IoSocket = io(url + namespace, {
      transports: [transport],
      extraHeaders: origin === undefined ? {} : { Origin: origin },
      reconnection: false,
      forceNew: true,
    });
    socket.on('connect_error', (error) => {
      resolve({ connected: false, error: error.message });
      socket.close();
    });
    // The gateway answers `{ event, data }`, which Nest's IoAdapter emits as that event.
    socket.on('echo', (data: unknown) => {
      resolve({ connected: true, echo: { event: 'echo', data } });
      socket.close();
    });
    socket.on('connect', () => socket.emit('echo', 'ping'));
  });
}
