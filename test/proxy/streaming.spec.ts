/**
 * Bodies are streamed, never buffered: 256 MiB down from the upstream through the proxy to a
 * client that discards it, and 128 MiB up from a client to an upstream that hashes it. Memory
 * (RSS and the ArrayBuffers holding Buffers) is sampled every 100 ms during the transfer; its peak
 * growth over a baseline taken after a full collection must stay far below the body size.
 * The proxy runs in a plain server and in Nest apps on both HTTP adapters (the module's own path:
 * its middleware and header hook in front of the proxy).
 * Upstream, proxy and client share this process, so the numbers are an upper bound of what the
 * proxy holds. Each sample follows a young-generation collection, but Buffer memory is released
 * by a background sweeper, so the garbage of the last chunks still counts (every socket read
 * allocates a fresh Buffer). A control run, where the client keeps what it receives, shows that
 * the sampling sees buffering when there is some.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CorsModule } from '../../lib/index.js';
import { compileProxy, type ProxyTarget } from '../../lib/proxy/proxy-target.js';
import { listenApp } from '../e2e/helpers.js';
import {
  closeServer,
  open,
  portOf,
  startProxyServer,
  streamBytes,
  Upstream,
  type Received,
} from './upstream.js';

const MiB = 1024 * 1024;
const DOWN = 256 * MiB;
const UP = 128 * MiB;
/**
 * Allowed growth: well under either body (a buffering proxy holds all of it, 128 or 256 MiB),
 * with room for the garbage the background sweeper has not released yet (up to about 45 MiB
 * measured).
 */
const LIMIT = 96 * MiB;

let upstream: Upstream;
let proxy: ProxyTarget;
let app: Server;
const nestApps: INestApplication[] = [];
/** Where the proxy runs → its port. */
const ports = new Map<string, number>();

beforeAll(async () => {
  upstream = await Upstream.start();
  const options = { target: `http://${upstream.host}`, maxRequestBytes: UP, timeout: 60_000 };
  proxy = compileProxy('/vendor', options).proxy!;
  app = await startProxyServer(proxy);
  ports.set('a plain server', portOf(app));
  for (const adapter of ['express', 'fastify'] as const) {
    const nest = await listenApp(
      { imports: [CorsModule.forRoot({ proxies: { '/vendor': options } })] },
      undefined,
      adapter,
    );
    nestApps.push(nest.app);
    ports.set(`Nest on ${adapter}`, nest.port);
  }
}, 30_000);

afterAll(async () => {
  proxy.close();
  await closeServer(app);
  await Promise.all(nestApps.map((nest) => nest.close()));
  await upstream.close();
});

// A full collection before each baseline, so that garbage of the previous test is not counted
// (V8 exposes gc() to contexts created after the flag is set).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;

/** The sampler of the running test: stopped after each test, whatever happened in it. */
let sampling: { stop(): unknown } | undefined;
afterEach(() => {
  sampling?.stop();
  sampling = undefined;
});

/**
 * Samples memory every 100 ms until stopped: the peak growth over the baseline of RSS and of the
 * ArrayBuffers holding Buffers. Each sample follows a young-generation collection: the chunks of
 * a stream are short-lived, so it frees their garbage (what a buffering proxy holds, it keeps),
 * and it costs milliseconds however large the heap is. A full collection per sample would not:
 * with every suite in one process (jest in band) the heap is large, and sampling alone would
 * slow the transfer to a crawl.
 */
function sampleMemory() {
  collectGarbage();
  const base = process.memoryUsage();
  let rss = 0;
  let arrayBuffers = 0;
  const take = () => {
    collectGarbage({ type: 'minor' });
    const now = process.memoryUsage();
    rss = Math.max(rss, now.rss - base.rss);
    arrayBuffers = Math.max(arrayBuffers, now.arrayBuffers - base.arrayBuffers);
  };
  const timer = setInterval(take, 100);
  const sampler = {
    stop() {
      clearInterval(timer);
      take();
      return { rss, arrayBuffers };
    },
  };
  sampling = sampler;
  return sampler;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/** About a second each on an idle machine; room for a loaded one. */
const SLOW = 60_000;

describe.each(['a plain server', 'Nest on express', 'Nest on fastify'])(
  'streaming through the proxy in %s',
  (where) => {
    it(
      '256 MiB down to a client that discards it',
      async () => {
        const port = ports.get(where)!;
        upstream.behaviour = streamBytes(DOWN);
        const memory = sampleMemory();
        const started = Date.now();
        const { req, response } = open(port, { path: '/vendor/big' });
        req.end();
        const { res, closed } = await response;
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-length']).toBe(String(DOWN));
        let received = 0;
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        expect(await closed).toBe(true);
        const growth = memory.stop();
        console.log(
          `${where}: proxy download ${mib(DOWN)} in ${Date.now() - started} ms: peak growth ` +
            `rss ${mib(growth.rss)}, arrayBuffers ${mib(growth.arrayBuffers)}`,
        );
        expect(received).toBe(DOWN);
        expect(growth.arrayBuffers).toBeLessThan(LIMIT);
        expect(growth.rss).toBeLessThan(LIMIT);
      },
      SLOW,
    );

    it(
      '128 MiB up from a client to an upstream that hashes it',
      async () => {
        const port = ports.get(where)!;
        upstream.reset();
        const chunk = Buffer.alloc(64 * 1024, 0x62);
        const expected = createHash('sha256');
        for (let sent = 0; sent < UP; sent += chunk.length) expected.update(chunk);
        const memory = sampleMemory();
        const started = Date.now();
        const { req, response } = open(port, {
          method: 'POST',
          path: '/vendor/up',
          headers: { 'content-length': String(UP) },
        });
        for (let sent = 0; sent < UP; sent += chunk.length) {
          if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve));
        }
        req.end();
        const { res } = await response;
        const parts: Buffer[] = [];
        for await (const part of res) parts.push(part as Buffer);
        const growth = memory.stop();
        console.log(
          `${where}: proxy upload ${mib(UP)} in ${Date.now() - started} ms: peak growth ` +
            `rss ${mib(growth.rss)}, arrayBuffers ${mib(growth.arrayBuffers)}`,
        );
        const echo = JSON.parse(Buffer.concat(parts).toString()) as Received;
        expect(res.statusCode).toBe(200);
        expect(echo.bodyLength).toBe(UP);
        expect(echo.bodySha256).toBe(expected.digest('hex'));
        expect(growth.arrayBuffers).toBeLessThan(LIMIT);
        expect(growth.rss).toBeLessThan(LIMIT);
      },
      SLOW,
    );
  },
);

describe('the memory sampling', () => {
  it(
    'control: a client that keeps 128 MiB it receives shows as growth',
    async () => {
      const port = ports.get('a plain server')!;
      upstream.behaviour = streamBytes(128 * MiB);
      const memory = sampleMemory();
      const { req, response } = open(port, { path: '/vendor/kept' });
      req.end();
      const { res, closed } = await response;
      const kept: Buffer[] = [];
      res.on('data', (chunk: Buffer) => kept.push(chunk));
      expect(await closed).toBe(true);
      const growth = memory.stop();
      console.log(`control: kept 128.0 MiB, peak growth arrayBuffers ${mib(growth.arrayBuffers)}`);
      expect(kept.reduce((n, c) => n + c.length, 0)).toBe(128 * MiB);
      expect(growth.arrayBuffers).toBeGreaterThan(120 * MiB);
      kept.length = 0;
    },
    SLOW,
  );
});
