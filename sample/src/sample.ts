/**
 * Starts the sample: the playground origin first (its URL is the API's default CORS origin), then
 * the Nest API. Used by main.ts (`npm start`) and by the browser tests (port 0 = any free port).
 * Both listen on loopback only: nothing outside this machine can reach them.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CorsModule } from '../../lib/index.js';
import { AppModule } from './app.module.js';
import { startPlayground } from './playground-server.js';
import { Activity, CapturingLogger } from './telemetry/activity.js';

/**
 * Where both servers listen. The API's URL says `localhost` (a different site from the playground's
 * 127.0.0.1, see AccountController); browsers and Node try every address `localhost` resolves to.
 */
export const LOOPBACK = '127.0.0.1';

export interface SampleOptions {
  apiPort: number;
  playgroundPort: number;
  /** Read sample/.env (default true; the tests turn it off). */
  envFile?: boolean;
  /** Print only warnings and errors (tests). */
  quiet?: boolean;
}

export interface RunningSample {
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
  const root = sampleDir();
  const playground = await startPlayground(join(root, 'public'), options.playgroundPort, LOOPBACK);
  try {
    const app = await NestFactory.create(
      AppModule.forRoot({
        playgroundOrigin: playground.origin,
        envFile: options.envFile === false ? false : join(root, '.env'),
      }),
      { bufferLogs: true },
    );
    const activity = app.get(Activity);
    app.useLogger(
      new CapturingLogger(activity, options.quiet ? { logLevels: ['warn', 'error'] } : {}),
    );
    // What the server saw, preflights included: mounted before the CORS middleware.
    app.use(activity.middleware);
    // The CORS middleware before the body parser: malformed JSON answers carry CORS headers too.
    CorsModule.mountEarly(app);
    await app.listen(options.apiPort, LOOPBACK);
    const port = (app.getHttpServer() as Server).address();
    const apiUrl = `http://localhost:${typeof port === 'object' && port ? port.port : options.apiPort}`;
    playground.apiUrl = apiUrl;
    return {
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

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
