/**
 * Starts the sample: the playground origin first (its URL is the API's default CORS origin), then
 * the Nest API, on Express or on Fastify (the same module and controllers: only the adapter
 * differs). Used by main.ts (`npm start`) and by the browser tests (port 0 = any free port).
 * Both listen on loopback only: nothing outside this machine can reach them.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppModule } from './app.module.js';
import { startPlayground } from './playground-server.js';
import { Activity, CapturingLogger } from './telemetry/activity.js';

/**
 * Where both servers listen. The API's URL says `localhost` (a different site from the playground's
 * 127.0.0.1, see AccountController); browsers and Node try every address `localhost` resolves to.
 */
export const LOOPBACK = '127.0.0.1';

/** The HTTP adapters the sample runs on. */
export const SAMPLE_ADAPTERS = ['express', 'fastify'] as const;
export type SampleAdapter = (typeof SAMPLE_ADAPTERS)[number];

export interface SampleOptions {
  /** Default 'express'. */
  adapter?: SampleAdapter;
  apiPort: number;
  playgroundPort: number;
  /** Read sample/.env (default true; the tests turn it off). */
  envFile?: boolean;
  /** Print only warnings and errors (tests). */
  quiet?: boolean;
}

export interface RunningSample {
  adapter: SampleAdapter;
  apiUrl: string;
  playgroundUrl: string;
  app: INestApplication;
  activity: Activity;
  close(): Promise<void>;
}

/** sample/ — found upwards from this file, so it works from src/ and from the build in dist/. */
export function sampleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'public', 'index.html'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('sample/public/index.html not found');
}

export async function startSample(options: SampleOptions): Promise<RunningSample> {
  const adapter = options.adapter ?? 'express';
  if (!SAMPLE_ADAPTERS.includes(adapter)) {
    throw new Error(
      `Unknown adapter ${JSON.stringify(adapter)}: use ${SAMPLE_ADAPTERS.join(' or ')}`,
    );
  }
  const root = sampleDir();
  const playground = await startPlayground(join(root, 'public'), options.playgroundPort, LOOPBACK);
  try {
    const appModule = AppModule.forRoot({
      playgroundOrigin: playground.origin,
      envFile: options.envFile === false ? false : join(root, '.env'),
    });
    let app: INestApplication;
    if (adapter === 'fastify') {
      const fastify = await NestFactory.create<NestFastifyApplication>(
        appModule,
        new FastifyAdapter(),
        { bufferLogs: true },
      );
      revalidateWithEtags(fastify);
      app = fastify;
    } else {
      app = await NestFactory.create(appModule, { bufferLogs: true });
    }
    // The gateways (shop/live.gateways.ts) on the API's own server, with the `ws` library: the
    // one line Nest requires to choose it. Nothing more for CORS: the module checks handshakes.
    app.useWebSocketAdapter(new WsAdapter(app));
    const activity = app.get(Activity);
    app.useLogger(
      new CapturingLogger(activity, options.quiet ? { logLevels: ['warn', 'error'] } : {}),
    );
    // What the server saw, preflights included: it must run before the CORS module. On Express,
    // an app.use() middleware of main.ts does (the module mounts its own before the body parsers
    // and every route, after those). On Fastify the module runs in the adapter's CORS request
    // hook, before any app.use() middleware: the adapter's instrumentation hook runs first.
    if (adapter === 'fastify') {
      const fastifyAdapter = (app as NestFastifyApplication).getHttpAdapter() as FastifyAdapter;
      fastifyAdapter.setOnRequestHook((request, reply, done) =>
        activity.middleware(request.raw, reply.raw, () => done()),
      );
    } else {
      app.use(activity.middleware);
    }
    // WebSocket handshakes (HTTP upgrades) never reach a middleware or a hook: record them from
    // the server's `upgrade` event, ahead of the WebSocket library's listener.
    (app.getHttpServer() as Server).prependListener('upgrade', activity.upgrade);
    await app.listen(options.apiPort, LOOPBACK);
    const port = (app.getHttpServer() as Server).address();
    const apiUrl = `http://localhost:${typeof port === 'object' && port ? port.port : options.apiPort}`;
    playground.apiUrl = apiUrl;
    return {
      adapter,
      apiUrl,
      playgroundUrl: playground.origin,
      app,
      activity,
      close: async () => {
        await app.close();
        await closeServer(playground.server);
      },
    };
  } catch (error) {
    await closeServer(playground.server);
    throw error;
  }
}

/**
 * Express answers a GET with an ETag and a conditional GET with a 304; Fastify does neither
 * without a plugin (@fastify/etag). This hook does the same on Fastify, so that a page on either
 * adapter sees the same revalidations (and the same CORS headers on a 304).
 */
function revalidateWithEtags(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', async (request, reply, payload) => {
      const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : undefined;
      if (!['GET', 'HEAD'].includes(request.method) || reply.statusCode !== 200 || !body) {
        return payload;
      }
      const hash = createHash('sha1').update(body).digest('base64').slice(0, 27);
      const etag = `W/"${Buffer.byteLength(body).toString(16)}-${hash}"`;
      reply.header('ETag', etag);
      const ifNoneMatch = request.headers['if-none-match'];
      if (ifNoneMatch?.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*')) {
        // As Express: no body, no Content-Type, no Content-Length.
        reply.code(304).removeHeader('content-type');
        return null;
      }
      return payload;
    });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
