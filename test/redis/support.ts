/**
 * A real `redis-server` for the Redis suites. `.ci/run` starts one and passes its address in
 * `REDIS_SOCKET` (a unix socket path) or `REDIS_URL`; without either, a suite starts its own from
 * `REDIS_SERVER_BIN` (default /usr/bin/redis-server) on a unix socket in a temporary directory,
 * without persistence, and stops it afterwards. No Redis at all is a failure with a clear
 * message, never a skipped test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

/** A `redis-server` process this suite owns (it can be killed and started again, same socket). */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly socket: string,
  ) {}

  /** Starts a server on a fresh unix socket; resolves once it accepts connections. */
  static async start(): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'nestjs-cors-redis-'));
    const server = new RedisServer(dir, join(dir, 'redis.sock'));
    try {
      await server.restart();
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** (Re)starts the server on the same socket, empty (no persistence). */
  async restart(): Promise<void> {
    if (!existsSync(REDIS_SERVER_BIN)) {
      throw new Error(
        `redis-server not found at ${REDIS_SERVER_BIN}: install it (apt-get install redis-server), set REDIS_SERVER_BIN, or point REDIS_SOCKET / REDIS_URL at a running Redis`,
      );
    }
    const args = ['--port', '0', '--unixsocket', this.socket, '--unixsocketperm', '700'];
    args.push('--save', '', '--appendonly', 'no', '--dir', this.dir, '--logfile', '');
    const child = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => fail(new Error('did not start within 10 s')), 10_000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`redis-server: ${error.message}\n${output}`));
      };
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (!/ready to accept connections/i.test(output)) return;
        clearTimeout(timer);
        resolve();
      });
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', fail);
      child.on('exit', (code) => fail(new Error(`exited with ${code}`)));
    });
  }

  /** Kills the server (SIGKILL: a crash, no goodbye to clients); resolves once it has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Where the suites' Redis is: from the environment, or a server of the suite's own. */
export interface RedisTarget {
  /** ioredis options for a new connection (always with `lazyConnect: false`). */
  readonly options: RedisOptions;
  readonly describe: string;
  /** Stops the suite's own server, if it started one. */
  release(): Promise<void>;
}

export async function redisTarget(): Promise<RedisTarget> {
  const socket = process.env.REDIS_SOCKET;
  const url = process.env.REDIS_URL;
  if (socket) return { options: { path: socket }, describe: socket, release: async () => {} };
  if (url) return { options: urlOptions(url), describe: url, release: async () => {} };
  const server = await RedisServer.start();
  return {
    options: { path: server.socket },
    describe: `${server.socket} (started by the suite)`,
    release: () => server.stop(),
  };
}

function urlOptions(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password && { password: decodeURIComponent(u.password) }),
    ...(u.pathname.length > 1 && { db: Number(u.pathname.slice(1)) }),
  };
}

/** A client that never prints ioredis's "Unhandled error event" lines (tests await outcomes). */
export function connect(options: RedisOptions, extra: RedisOptions = {}): Redis {
  const client = new Redis({ ...options, ...extra });
  client.on('error', () => undefined);
  return client;
}

/** A key no other suite uses (suites may share one server, in parallel). */
export function uniqueKey(name: string): string {
  return `nestjs-cors-test:${randomUUID()}:${name}`;
}

/**
 * Resolves when `condition()` holds; checked every 10 ms, for at most `timeoutMs`. For state only
 * Redis knows and announces to no one (how many connections subscribe to a channel): where an
 * event exists, await it instead.
 */
export async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Resolves once `count` connections subscribe to `channel` (a message published before an app's
 * subscription is in place would wait for its periodic check).
 */
export function subscribers(redis: Redis, channel: string, count: number): Promise<void> {
  const current = async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1];
  return until(async () => (await current()) === count, `${count} subscribers on ${channel}`);
}
