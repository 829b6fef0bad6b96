/**
 * Two app instances (separate Node processes: A on Express, B on Fastify) and one redis-server,
 * as a multi-tenant deployment runs them. Each instance is test/redis/instance.mjs on the built
 * package (dist/, which `npm test` builds first). Steps run in order and share the deployment:
 * adds and removes through either instance reach both (pub/sub, measured), a write nobody
 * announces reaches both through the periodic check (measured), an invalid add changes nothing
 * anywhere, another program's invalid entry is left out, Redis killed (both keep the last list,
 * one log line each), restarted empty (still kept), given another list (both converge), and a
 * list of 100k origins (load time and memory, printed).
 *
 * The redis-server is the suite's own, whatever REDIS_SOCKET says: the suite kills it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { RedisOriginSource } from '../../lib/redis/index.js';
import { awaitEvents } from '../live/support.js';
import { connect, RedisServer, subscribers, uniqueKey } from './support.js';

const ROOT = process.cwd();
const POLL_MS = 500;
/** The staleness bound while Redis is up: one periodic check plus a load, with room for a busy CI. */
const BOUND_MS = POLL_MS + 2000;
const SEED = 'https://seed.example';
const T1 = 'https://tenant-1.example';
const T2 = 'https://tenant-2.example';
const T3 = 'https://tenant-3.example';
const T4 = 'https://tenant-4.example';
const AFTER = 'https://after-restart.example';
const IN_FORCE = /live origins in force/;
const OUTAGE = /cannot read the origin source/;

interface Line {
  t: number;
  level: string;
  message: string;
}

/** One app instance: its process, its log lines (awaitable), and HTTP helpers. */
class Instance {
  readonly lines: Line[] = [];
  port = 0;
  private readonly events = new EventEmitter();
  private stderr = '';

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {}

  static start(name: string, adapter: string, env: Record<string, string>): Promise<Instance> {
    const child = spawn(process.execPath, [join(ROOT, 'test/redis/instance.mjs')], {
      cwd: ROOT,
      env: { ...process.env, ...env, ADAPTER: adapter },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const instance = new Instance(name, child);
    return instance.whenReady();
  }

  private whenReady(): Promise<Instance> {
    let buffer = '';
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail('did not listen within 30 s'), 30_000);
      const fail = (why: string) => {
        clearTimeout(timer);
        this.child.kill('SIGKILL');
        reject(new Error(`instance ${this.name} ${why}\n${this.transcript()}\n${this.stderr}`));
      };
      this.child.once('exit', (code) => fail(`exited with ${code} before listening`));
      this.child.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let newline: number;
        while ((newline = buffer.indexOf('\n')) !== -1) {
          const value = JSON.parse(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
          if (value.check) {
            this.events.emit('check');
          } else if (value.ready) {
            this.port = value.port;
            clearTimeout(timer);
            this.child.removeAllListeners('exit');
            resolve(this);
          } else {
            this.lines.push(value);
            this.events.emit('line', value);
          }
        }
      });
    });
  }

  /** The first line matching `pattern` from line `from` on (default: from now), within `ms`. */
  next(pattern: RegExp, from = this.lines.length, ms = 10_000): Promise<Line> {
    const found = this.lines.slice(from).find((l) => pattern.test(l.message));
    if (found) return Promise.resolve(found);
    return awaitEvents<Line>(this.events, 'line', {
      accept: (line) => pattern.test(line.message),
      timeoutMs: ms,
      failure: () =>
        `${this.name}: no line matched ${pattern} within ${ms} ms\n${this.transcript()}`,
    });
  }

  /** What the process wrote on stderr (ioredis prints its unhandled errors there). */
  get errors(): string {
    return this.stderr;
  }

  count(pattern: RegExp): number {
    return this.lines.filter((l) => pattern.test(l.message)).length;
  }

  transcript(): string {
    return this.lines.map((l) => `  [${this.name}] ${l.level}: ${l.message}`).join('\n');
  }

  /** Does `origin` get ACAO on an actual request and a preflight (both must agree)? */
  async allows(origin: string): Promise<boolean> {
    const url = `http://127.0.0.1:${this.port}/items`;
    const actual = await fetch(url, { headers: { origin } });
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    const a = actual.headers.get('access-control-allow-origin') === origin;
    const p =
      preflight.status === 204 && preflight.headers.get('access-control-allow-origin') === origin;
    if (a !== p) throw new Error(`${this.name}: request and preflight disagree for ${origin}`);
    return a;
  }

  async admin(method: 'POST' | 'DELETE', origin: string): Promise<{ status: number; body: any }> {
    const url = `http://127.0.0.1:${this.port}/admin/origins`;
    const res =
      method === 'POST'
        ? await fetch(url, {
            method,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ origin }),
          })
        : await fetch(`${url}?origin=${encodeURIComponent(origin)}`, { method });
    return { status: res.status, body: await res.json() };
  }

  async status(): Promise<{ status: any; origins: number; rss: number }> {
    const res = await fetch(`http://127.0.0.1:${this.port}/admin/status`);
    return (await res.json()) as { status: any; origins: number; rss: number };
  }

  /** Resolves once the instance has checked its source `count` more times (its own lines). */
  async checks(count: number, ms = 10_000): Promise<void> {
    await awaitEvents(this.events, 'check', {
      count,
      timeoutMs: ms,
      failure: (seen) => `${this.name}: ${seen} of ${count} checks in ${ms} ms`,
    });
  }

  /** SIGTERM (the app closes: the source's connections with it), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Fails with the stale files when dist/ is older than lib/ (the instances run dist/). */
function checkBuild(): void {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) {
        const built = join(ROOT, 'dist', path.slice('lib/'.length).replace(/\.ts$/, '.js'));
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(ROOT, path)).mtimeMs) {
          stale.push(path);
        }
      }
    }
  };
  walk('lib');
  if (stale.length > 0) {
    throw new Error(`dist/ is older than ${stale.join(', ')}: run npm run build (npm test does)`);
  }
}

/** Milliseconds from `since` (Date.now() in this process) to the line's time in the instance. */
const after = (since: number, line: Line) => line.t - since;

let server: RedisServer;
let redis: Redis;
let store: RedisOriginSource;
let a: Instance;
let b: Instance;
const figures: Record<string, string> = {};

/** Awaits the next line matching `pattern` on both instances; the delays from `since`. */
async function onBoth(pattern: RegExp, since: number, ms?: number): Promise<[number, number]> {
  const [la, lb] = await Promise.all([
    a.next(pattern, undefined, ms),
    b.next(pattern, undefined, ms),
  ]);
  return [after(since, la), after(since, lb)];
}

async function allowedOnBoth(origin: string): Promise<[boolean, boolean]> {
  return [await a.allows(origin), await b.allows(origin)];
}

beforeAll(async () => {
  checkBuild();
  server = await RedisServer.start();
  redis = connect({ path: server.socket });
  const key = uniqueKey('tenants');
  store = new RedisOriginSource({ client: redis, key });
  await store.replace([SEED]);
  const env = { REDIS_SOCKET: server.socket, ORIGINS_KEY: key, POLL_MS: String(POLL_MS) };
  [a, b] = await Promise.all([
    Instance.start('A', 'express', env),
    Instance.start('B', 'fastify', env),
  ]);
  await subscribers(redis, store.channel, 2);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  redis?.disconnect();
  await store?.close();
  await server?.stop();
  if (Object.keys(figures).length === 0) return;
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  const table = Object.entries(figures).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  console.log(`two instances, one redis-server (poll ${POLL_MS} ms):\n${table.join('\n')}`);
}, 30_000);

describe('two app instances (A: Express, B: Fastify) sharing one Redis', () => {
  it("both boot with the store's list", async () => {
    expect(await allowedOnBoth(SEED)).toEqual([true, true]);
    expect(await allowedOnBoth('https://static.example')).toEqual([true, true]);
    expect(await allowedOnBoth(T1)).toEqual([false, false]);
  });

  it('an origin added through A is allowed by both within the bound', async () => {
    const since = Date.now();
    const applied = onBoth(IN_FORCE, since);
    expect(await a.admin('POST', T1)).toEqual({ status: 201, body: { added: true } });
    const [da, db] = await applied;
    figures['add via A → applied on A / B'] = `${da} ms / ${db} ms`;
    expect(Math.max(da, db)).toBeLessThan(BOUND_MS);
    expect(await allowedOnBoth(T1)).toEqual([true, true]);
  });

  it("another program's write (SREM + SADD, no version bump) and PUBLISH reach both by pub/sub alone", async () => {
    // The SET keeps its size and the version stays: the periodic check cannot see this change,
    // only the message can.
    await redis.multi().srem(store.key, T1).sadd(store.key, T2).exec();
    const since = Date.now();
    const applied = onBoth(/2 live origins in force \(notify/, since);
    await redis.publish(store.channel, 'tenant-2 moved in');
    const [da, db] = await applied;
    figures['pub/sub only (other program) A / B'] = `${da} ms / ${db} ms`;
    expect(await allowedOnBoth(T2)).toEqual([true, true]);
    expect(await allowedOnBoth(T1)).toEqual([false, false]);
  });

  it('a write nobody announces reaches both through the periodic check', async () => {
    const since = Date.now();
    const applied = onBoth(/3 live origins in force \(poll/, since);
    await redis.multi().sadd(store.key, T3).set(store.versionKey, 'bumped-by-hand:1').exec();
    const [da, db] = await applied;
    figures['periodic check only A / B'] = `${da} ms / ${db} ms (bound ${BOUND_MS} ms)`;
    expect(Math.max(da, db)).toBeLessThan(BOUND_MS);
    expect(await allowedOnBoth(T3)).toEqual([true, true]);
  });

  it('an origin removed through B is refused by both', async () => {
    const since = Date.now();
    const applied = onBoth(/2 live origins in force/, since);
    expect(await b.admin('DELETE', 'HTTPS://Tenant-3.EXAMPLE')).toEqual({
      status: 200,
      body: { removed: true },
    });
    const [da, db] = await applied;
    figures['remove via B → applied on A / B'] = `${da} ms / ${db} ms`;
    expect(await allowedOnBoth(T3)).toEqual([false, false]);
    expect(await allowedOnBoth(T2)).toEqual([true, true]);
  });

  it('an invalid add is rejected and changes nothing anywhere', async () => {
    const before = {
      members: (await redis.smembers(store.key)).sort(),
      version: await redis.get(store.versionKey),
    };
    const [sa, sb] = [(await a.status()).status, (await b.status()).status];
    const linesBefore = [a.lines.length, b.lines.length];
    expect(await a.admin('POST', 'https://*.com')).toEqual({
      status: 400,
      body: { codes: ['public-suffix-wildcard-with-credentials'] },
    });
    expect(await b.admin('POST', 'https://tenant-9.example/app')).toEqual({
      status: 400,
      body: { codes: ['origin-has-path'] },
    });
    expect(await a.admin('DELETE', 'null')).toEqual({
      status: 400,
      body: { codes: ['null-with-credentials'] },
    });
    const afterwards = {
      members: (await redis.smembers(store.key)).sort(),
      version: await redis.get(store.versionKey),
    };
    expect(afterwards).toEqual(before);
    expect((await a.status()).status.version).toBe(sa.version);
    expect((await b.status()).status.version).toBe(sb.version);
    expect([a.lines.length, b.lines.length]).toEqual(linesBefore);
  });

  it("another program's invalid entry is left out and logged once; the valid ones apply", async () => {
    const since = Date.now();
    // The SET's size changes too: the periodic check may be the first to see it.
    const applied = onBoth(/3 live origins in force/, since);
    const logged = onBoth(
      /left out "https:\/\/\*\.com": origin pattern "https:\/\/\*\.com" spans a public suffix/,
      since,
    );
    await redis.multi().sadd(store.key, 'https://*.com', T4).publish(store.channel, '').exec();
    await applied;
    await logged;
    expect(await allowedOnBoth(T4)).toEqual([true, true]);
    const skipped = (await a.status()).status.skipped.map((p: { code: string }) => p.code);
    expect(skipped).toEqual(['public-suffix-wildcard-with-credentials']);
    // Later versions with the bad entry still there: applied, not logged again.
    const next = onBoth(/4 live origins in force/, Date.now());
    expect((await a.admin('POST', T1)).status).toBe(201);
    await next;
    expect([a.count(/left out/), b.count(/left out/)]).toEqual([1, 1]);
    const cleaned = onBoth(/4 live origins in force/, Date.now());
    await redis.srem(store.key, 'https://*.com');
    await redis.publish(store.channel, 'cleaned');
    await cleaned;
    expect((await b.status()).status.skipped).toEqual([]);
  });

  it('Redis killed: both keep serving the last good list and log the outage once', async () => {
    const kept = [SEED, T1, T2, T4];
    const since = Date.now();
    const noticed = onBoth(/cannot read the origin source \(Redis is unavailable/, since);
    await server.kill();
    const [da, db] = await noticed;
    figures['outage noticed on A / B'] = `${da} ms / ${db} ms after the kill`;
    await Promise.all([a.checks(4), b.checks(4)]);
    expect([a.count(OUTAGE), b.count(OUTAGE)]).toEqual([1, 1]);
    for (const origin of kept) expect(await allowedOnBoth(origin)).toEqual([true, true]);
    expect([a.errors, b.errors]).toEqual(['', '']); // no line per reconnection attempt either
    expect((await b.status()).status.failingSince).toEqual(expect.any(String));
  });

  it('Redis restarted empty: no version key, so both still keep the list (one more line each)', async () => {
    const missing =
      /cannot read the origin source \(.*is missing: the store does not say the SET is the list/;
    const refused = onBoth(missing, Date.now());
    await server.restart();
    await refused;
    await Promise.all([a.checks(4), b.checks(4)]);
    expect([a.count(OUTAGE), b.count(OUTAGE)]).toEqual([2, 2]);
    expect([a.errors, b.errors]).toEqual(['', '']);
    expect(await allowedOnBoth(T4)).toEqual([true, true]);
    expect((await a.status()).status.origins).toBe(4);
  });

  it('Redis given another list: both converge', async () => {
    const since = Date.now();
    const back = onBoth(/the origin source answers again after \d+ ms/, since);
    const applied = onBoth(/1 live origins in force/, since);
    await store.replace([AFTER]);
    await back;
    const [da, db] = await applied;
    figures['converged after restart A / B'] = `${da} ms / ${db} ms after the new list was written`;
    expect(Math.max(da, db)).toBeLessThan(BOUND_MS);
    expect(await allowedOnBoth(AFTER)).toEqual([true, true]);
    expect(await allowedOnBoth(T4)).toEqual([false, false]);
    expect(await allowedOnBoth(SEED)).toEqual([false, false]);
    expect((await a.status()).status.failingSince).toBeUndefined();
  });

  it('100k origins: load time, memory, and the cost of one change', async () => {
    const rssBefore = [(await a.status()).rss, (await b.status()).rss];
    const big = Array.from({ length: 100_000 }, (_, i) => `https://tenant-${i}.saas.example`);
    let since = Date.now();
    const loaded = onBoth(/100000 live origins in force/, since, 60_000);
    await store.replace(big);
    figures['100k: replace() in the test process'] = `${Date.now() - since} ms`;
    await loaded;
    const [sa, sb] = [await a.status(), await b.status()];
    const mb = (n: number) => `${Math.round(n / 1e6)} MB`;
    figures['100k: load / compile+swap on A'] = `${sa.status.loadMs} ms / ${sa.status.applyMs} ms`;
    figures['100k: load / compile+swap on B'] = `${sb.status.loadMs} ms / ${sb.status.applyMs} ms`;
    figures['100k: RSS A / B'] =
      `${mb(sa.rss)} / ${mb(sb.rss)} (was ${mb(rssBefore[0])} / ${mb(rssBefore[1])})`;
    expect([sa.origins, sb.origins]).toEqual([100_001, 100_001]); // + the static origin
    expect(await allowedOnBoth('https://tenant-99999.saas.example')).toEqual([true, true]);
    expect(await allowedOnBoth(AFTER)).toEqual([false, false]);
    for (const s of [sa, sb]) {
      expect(s.status.loadMs + s.status.applyMs).toBeLessThan(15_000);
      expect(s.rss).toBeLessThan(1_000_000_000);
    }
    // One change at 100k: every instance reloads and recompiles the whole list.
    since = Date.now();
    const applied = onBoth(/100001 live origins in force \(notify/, since, 60_000);
    expect((await a.admin('POST', T1)).status).toBe(201);
    const [da, db] = await applied;
    figures['100k: one add → applied on A / B'] = `${da} ms / ${db} ms`;
    const [ca, cb] = [(await a.status()).status, (await b.status()).status];
    figures['100k: that reload, load / compile+swap'] =
      `A ${ca.loadMs} ms / ${ca.applyMs} ms, B ${cb.loadMs} ms / ${cb.applyMs} ms`;
    expect(await allowedOnBoth(T1)).toEqual([true, true]);
  }, 120_000);
});
