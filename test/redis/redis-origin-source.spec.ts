/**
 * `RedisOriginSource` (`nestjs-cors/redis`) against a real redis-server: writes are validated
 * before anything is written, canonical, versioned and announced; a store without its version key
 * is never read as an empty list; any message on the channel means "reload"; reads fail at once
 * during an outage and the source reloads after a reconnection. Then one app per adapter on it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Post, type INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { CorsConfigError, CorsModule } from '../../lib/index.js';
import { RedisOriginSource } from '../../lib/redis/index.js';
import { ADAPTERS, makeApp } from '../e2e/helpers.js';
import { allowed, LogCapture } from '../live/support.js';
import {
  connect,
  RedisServer,
  redisTarget,
  subscribers,
  uniqueKey,
  until,
  type RedisTarget,
} from './support.js';

const T1 = 'https://tenant-1.example';
const T2 = 'https://tenant-2.example';

let target: RedisTarget;
let client: Redis;
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  target = await redisTarget();
  client = connect(target.options);
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

afterAll(async () => {
  client?.disconnect();
  await target?.release();
});

/** A source on a fresh key of the suite's Redis (closed after the test). */
function newSource(key = uniqueKey('origins')): RedisOriginSource {
  const source = new RedisOriginSource({ client, key });
  cleanup.push(() => source.close());
  return source;
}

/** What the store holds: the SET (sorted) and the version key. */
async function stored(source: RedisOriginSource) {
  const [members, version] = await Promise.all([
    client.smembers(source.key),
    client.get(source.versionKey),
  ]);
  return { members: members.sort(), version };
}

/** The messages published on `channel`, from a connection of the test's own. */
async function listen(channel: string): Promise<{ messages: string[]; next(): Promise<string> }> {
  const subscriber = connect(target.options);
  cleanup.push(() => subscriber.disconnect());
  const messages: string[] = [];
  const waiting: Array<(m: string) => void> = [];
  subscriber.on('message', (_: string, message: string) => {
    messages.push(message);
    waiting.shift()?.(message);
  });
  await subscriber.subscribe(channel);
  return { messages, next: () => new Promise((resolve) => waiting.push(resolve)) };
}

function problemCodes(error: unknown): string[] {
  expect(error).toBeInstanceOf(CorsConfigError);
  return (error as CorsConfigError).problems.map((p) => p.code);
}

describe('RedisOriginSource: writes', () => {
  it('add and remove store the canonical form, bump the version and announce each change', async () => {
    const source = newSource();
    await source.replace([]);
    const channel = await listen(source.channel);
    const before = await stored(source);
    const announced = channel.next();
    expect(await source.add('HTTPS://Tenant-1.EXAMPLE')).toBe(true);
    const after = await stored(source);
    expect(after.members).toEqual([T1]);
    expect(after.version).not.toBe(before.version);
    expect(await announced).toBe(after.version);
    // Already there: nothing changes, nothing is announced (the next message is the removal's).
    expect(await source.add(T1)).toBe(false);
    expect((await stored(source)).version).toBe(after.version);
    const removal = channel.next();
    expect(await source.remove('https://TENANT-1.example')).toBe(true);
    const removed = await stored(source);
    expect(await removal).toBe(removed.version);
    expect(removed.members).toEqual([]);
    expect(channel.messages).toEqual([after.version, removed.version]);
    expect(await source.remove(T1)).toBe(false);
  });

  it('an invalid origin throws CorsConfigError and writes and announces nothing', async () => {
    const source = newSource();
    await source.replace([T1]);
    const channel = await listen(source.channel);
    const before = await stored(source);
    const cases: Array<[string, string]> = [
      ['https://*.com', 'public-suffix-wildcard-with-credentials'],
      ['null', 'null-with-credentials'],
      ['*', 'wildcard-in-origin-list'],
      ['https://tenant.example/', 'origin-has-trailing-slash'],
      ['tenant.example', 'origin-without-scheme'],
      ['https://tenant.example:443', 'origin-default-port'],
    ];
    for (const [origin, code] of cases) {
      const error = await source.add(origin).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(problemCodes(error)).toEqual([code]);
      expect((error as CorsConfigError).problems[0]).toMatchObject({
        where: `redis set ${JSON.stringify(source.key)} (add)`,
        source: { kind: 'origin-source', name: source.key },
        value: origin,
      });
    }
    await expect(source.remove('https://x.example/path')).rejects.toThrow(CorsConfigError);
    expect(await stored(source)).toEqual(before);
    // The next message on the channel is the one of the next valid write: none came before it.
    const next = channel.next();
    await source.add(T2);
    expect(await next).toBe((await stored(source)).version);
    expect(channel.messages).toHaveLength(1);
  });

  it('replace() validates every entry before writing, and writes the list in one transaction', async () => {
    const source = newSource();
    await source.replace([T1]);
    const before = await stored(source);
    const error = await source.replace([T2, 'https://*.com', 'bad', T1]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(problemCodes(error)).toEqual([
      'public-suffix-wildcard-with-credentials',
      'origin-without-scheme',
    ]);
    expect(await stored(source)).toEqual(before);
    await source.replace([T2, 'HTTPS://*.Tenants.example', T2]);
    const after = await stored(source);
    expect(after.members).toEqual(['https://*.tenants.example', T2]);
    expect(after.version).toMatch(/^[0-9a-f-]{36}:0$/);
    expect(after.version).not.toBe(before.version);
  });
});

describe('RedisOriginSource: reads', () => {
  it('a store without its version key is never read as a list; replace() initialises it', async () => {
    const source = newSource();
    const missing = { name: 'OriginStoreNotInitialized' };
    await expect(source.load()).rejects.toMatchObject(missing);
    await expect(source.version()).rejects.toMatchObject(missing);
    await expect(source.add(T1)).rejects.toMatchObject(missing);
    expect(await source.initialized()).toBe(false);
    // Members without a version (a restarted Redis that a program began to refill): still refused.
    await client.sadd(source.key, T2);
    await expect(source.load()).rejects.toThrow(
      /is missing: the store does not say the SET is the list/,
    );
    expect(await client.smembers(source.key)).toEqual([T2]);
    await source.replace([]);
    expect(await source.initialized()).toBe(true);
    const empty = await source.load();
    expect(empty.origins).toEqual([]);
    expect(empty.version).toMatch(/:0#0$/);
  });

  it('version() is the version of load(), and changes with a write that forgot to bump it', async () => {
    const source = newSource();
    await source.replace([T1]);
    const snapshot = await source.load();
    expect(snapshot.origins).toEqual([T1]);
    expect(await source.version()).toBe(snapshot.version);
    await client.sadd(source.key, T2); // another program: no version bump
    const changed = await source.version();
    expect(changed).not.toBe(snapshot.version);
    expect((await source.load()).version).toBe(changed);
    await source.add('https://tenant-3.example');
    expect(await source.version()).not.toBe(changed);
  });

  it('any message on the channel, whatever its payload, calls back; unsubscribing stops it', async () => {
    const source = newSource();
    const calls: string[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = await source.subscribe(() => {
      calls.push('change');
      wake?.();
    });
    await subscribers(client, source.channel, 1);
    const before = calls.length;
    const called = new Promise<void>((resolve) => (wake = resolve));
    await client.publish(source.channel, 'whatever');
    await called;
    expect(calls.length).toBe(before + 1);
    await unsubscribe();
    await subscribers(client, source.channel, 0);
  });
});

describe('RedisOriginSource: an outage (a redis-server of its own, killed and restarted)', () => {
  // This test kills its Redis, so it never uses the shared one from REDIS_SOCKET / REDIS_URL.
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('reads fail at once while Redis is down, and a reconnection calls back for a reload', async () => {
    const own = connect({ path: server.socket });
    cleanup.push(() => own.disconnect());
    const source = new RedisOriginSource({ client: own, key: uniqueKey('origins') });
    cleanup.push(() => source.close());
    await source.replace([T1]);
    expect((await source.load()).origins).toEqual([T1]);
    let reloads = 0;
    let onReload: (() => void) | undefined;
    cleanup.push(
      await source.subscribe(() => {
        reloads++;
        onReload?.();
      }),
    );
    const names = (await own.client('LIST')) as string;
    expect(names).toContain('name=nestjs-cors:reader');
    await until(
      async () => ((await own.client('LIST')) as string).includes('name=nestjs-cors:subscriber'),
      'the subscriber',
    );
    await server.kill();
    const started = Date.now();
    await expect(source.load()).rejects.toMatchObject({ name: 'OriginSourceUnavailable' });
    await expect(source.version()).rejects.toMatchObject({ name: 'OriginSourceUnavailable' });
    expect(Date.now() - started).toBeLessThan(1000); // no offline queue: no waiting for Redis
    const before = reloads;
    const reloaded = new Promise<void>((resolve) => (onReload = resolve));
    await server.restart();
    await reloaded; // the first connection back calls for a reload
    expect(reloads).toBeGreaterThan(before);
    // The subscription itself is back on the restarted server (the source makes it again).
    const probe = connect({ path: server.socket });
    cleanup.push(() => probe.disconnect());
    await subscribers(probe, source.channel, 1);
    // Restarted empty: the source refuses to read it as an empty list.
    await until(
      () =>
        source.load().then(
          () => true,
          (e: Error) => e.name === 'OriginStoreNotInitialized',
        ),
      'the reader reconnecting',
    );
  });
});

@Controller('items')
class ItemsController {
  @Get()
  list() {
    return [];
  }
  @Post()
  create() {
    return {};
  }
}

describe.each(ADAPTERS)('an app on RedisOriginSource (%s)', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(source: RedisOriginSource) {
    const log = new LogCapture();
    const options = { origin: ['https://static.example'], credentials: true, originSource: source };
    app = await makeApp(
      { imports: [CorsModule.forRoot(options)], controllers: [ItemsController] },
      (a) => a.useLogger(log),
      adapter,
    );
    return { app, log };
  }

  it('refuses to boot on a store that was never given a list', async () => {
    const error = await boot(newSource()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(problemCodes(error)).toEqual(['origin-source-unavailable']);
    expect((error as Error).message).toMatch(
      /is missing: the store does not say the SET is the list/,
    );
  });

  it('allows an origin another program adds, through the notification', async () => {
    const key = uniqueKey('origins');
    const source = newSource(key);
    await source.replace([T1]);
    const { app, log } = await boot(source);
    expect(await allowed(app, T1)).toBe(true);
    expect(await allowed(app, T2)).toBe(false);
    await subscribers(client, source.channel, 1);
    const elsewhere = new RedisOriginSource({ client, key });
    cleanup.push(() => elsewhere.close());
    const applied = log.next(/2 live origins in force \(notify/);
    await elsewhere.add(T2);
    await applied;
    expect(await allowed(app, T2)).toBe(true);
  });
});
