/**
 * WebSocket e2e support: a Nest app with gateways on `ws` (WsAdapter) or Socket.IO (IoAdapter),
 * on either HTTP adapter, and real clients (`ws`, `socket.io-client`) sending a chosen `Origin`.
 */
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import type { AddressInfo } from 'node:net';
import { io, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { makeApp, type AdapterName } from '../e2e/helpers.js';

export const WS_ADAPTERS = ['ws', 'socket.io'] as const;
export type WsAdapterName = (typeof WS_ADAPTERS)[number];

/** Every gateway's `handleConnection` calls this: what reached gateway code. */
export const connections: string[] = [];

/** Boots `metadata` on `http`, with the `ws` WebSocket adapter chosen in `main.ts` style. */
export async function listenWithGateways(
  metadata: ModuleMetadata,
  ws: WsAdapterName,
  http: AdapterName = 'express',
  setup?: (app: INestApplication) => unknown,
): Promise<{ app: INestApplication; port: number; url: string }> {
  connections.length = 0;
  const app = await makeApp(
    metadata,
    async (app) => {
      // What Nest itself requires to choose an adapter, nothing more.
      if (ws === 'ws') app.useWebSocketAdapter(new WsAdapter(app));
      else app.useWebSocketAdapter(new IoAdapter(app));
      await setup?.(app);
    },
    http,
  );
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, port, url: `http://127.0.0.1:${port}` };
}

/** What a `ws` client handshake ended in: open (and an echo round trip), or an HTTP status. */
export type WsOutcome = { open: true; echo: unknown } | { open: false; status: number | 'closed' };

/** Opens a `ws` connection to `url` with `Origin: origin` (none when undefined) and echoes once. */
export function wsConnect(url: string, origin: string | undefined): Promise<WsOutcome> {
  return new Promise((resolve) => {
    const headers = origin === undefined ? {} : { Origin: origin };
    const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    socket.on('unexpected-response', (_req, res) => {
      resolve({ open: false, status: res.statusCode ?? 0 });
      socket.terminate();
    });
    socket.on('error', () => resolve({ open: false, status: 'closed' }));
    socket.on('open', () => socket.send(JSON.stringify({ event: 'echo', data: 'ping' })));
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
