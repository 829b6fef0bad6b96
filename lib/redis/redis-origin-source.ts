/**
 * Live origins in a Redis SET, shared by every app instance (`nestjs-cors/redis`). Layout:
 *
 * - `key`: a SET of origins (canonical strings, patterns as `https://*.tenant.example`);
 * - `versionKey` (default `<key>:version`): changes with every write. Its presence is the store
 *   saying "this SET is the list": without it (a Redis restarted empty) nothing is applied;
 * - `channel` (default `<key>:changed`): any message on it means "reload the SET".
 *
 * Reads go through a connection of the source's own (no offline queue: a read during an outage
 * fails at once instead of waiting for the store); so does the subscription. Writes go through
 * the app's client.
 */
import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis';
import { ProblemList, type CorsProblemPlace } from '../engine/errors.js';
import { OriginRule } from '../engine/origin-rule.js';
import type { OriginSnapshot, OriginSource, OriginUnsubscribe } from '../live/origin-source.js';

export interface RedisOriginSourceOptions {
  /** The app's ioredis (≥ 5) client; the source duplicates it for its reads and its subscription. */
  client: Redis;
  /** The SET that holds the origins. */
  key: string;
  /** The channel a change is announced on. Default `<key>:changed`. */
  channel?: string;
  /** The key whose value changes with every write. Default `<key>:version`. */
  versionKey?: string;
  /** See `OriginSource.pollMs` (default 5000). */
  pollMs?: number;
  /** See `OriginSource.timeoutMs` (default 5000). */
  timeoutMs?: number;
  /** See `OriginSource.onBootFailure` (default `'fail'`). */
  onBootFailure?: 'fail' | 'static';
}

/** SADD or SREM one origin, then (if it changed anything) bump the version and publish it. */
const WRITE_ONE = `
local version = redis.call('GET', KEYS[2])
if not version then return redis.error_reply('NOVERSION') end
local changed = redis.call(ARGV[2], KEYS[1], ARGV[3])
if changed == 0 then return {0, version} end
local epoch, count = string.match(version, '^(.*):(%d+)$')
if epoch then version = epoch .. ':' .. (tonumber(count) + 1) else version = version .. ':1' end
redis.call('SET', KEYS[2], version)
redis.call('PUBLISH', ARGV[1], version)
return {1, version}
`;

/** SADD arguments per command when a whole list is written. */
const CHUNK = 10_000;

export class RedisOriginSource implements OriginSource {
  readonly key: string;
  readonly channel: string;
  readonly versionKey: string;
  readonly pollMs: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly onBootFailure: 'fail' | 'static' | undefined;
  readonly description: string;
  private readonly client: Redis;
  private reader: Redis | undefined;
  private readerReady: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(options: RedisOriginSourceOptions) {
    const { client, key } = options ?? ({} as RedisOriginSourceOptions);
    if (typeof client?.duplicate !== 'function') {
      throw new TypeError('RedisOriginSource: client must be an ioredis (>= 5) client');
    }
    if (typeof key !== 'string' || key.length === 0) {
      throw new TypeError('RedisOriginSource: key must be a non-empty string');
    }
    this.client = client;
    this.key = key;
    this.channel = options.channel ?? `${key}:changed`;
    this.versionKey = options.versionKey ?? `${key}:version`;
    this.pollMs = options.pollMs;
    this.timeoutMs = options.timeoutMs;
    this.onBootFailure = options.onBootFailure;
    this.description = `redis set ${JSON.stringify(key)}`;
  }

  /** The SET and its version, read together. Rejects when the version key is missing. */
  async load(): Promise<OriginSnapshot> {
    const [members, version] = await this.read((r) =>
      r.multi().smembers(this.key).get(this.versionKey),
    );
    const origins = members as string[];
    return { origins, version: stamp(this.checkVersion(version), origins.length) };
  }

  /** The version and the size of the SET (a write that forgot to bump the version changes it). */
  async version(): Promise<string> {
    const [version, size] = await this.read((r) => r.multi().get(this.versionKey).scard(this.key));
    return stamp(this.checkVersion(version), size as number);
  }

  /**
   * Calls `onChange` on every message on the channel, and after every reconnection of either
   * connection (messages sent while away are lost). Never waits for the store.
   */
  subscribe(onChange: () => void): OriginUnsubscribe {
    const subscriber = this.client.duplicate({
      ...ownConnection('subscriber'),
      // A subscription waits for the store however long it is away; it never fails.
      maxRetriesPerRequest: null,
      // ioredis would resubscribe on reconnection with a promise nobody handles: a connection
      // closed before the reply (an app shutting down mid-reconnect) would be an unhandled
      // rejection. The subscription is (re)made here instead, on every connection.
      autoResubscribe: false,
    });
    // Outages are the sync's to report (once); without a listener ioredis prints every retry.
    subscriber.on('error', ignore);
    subscriber.on('message', (channel: string) => {
      if (channel === this.channel) onChange();
    });
    subscriber.on('ready', () => {
      subscriber.subscribe(this.channel).catch(ignore);
      onChange();
    });
    this.listeners.add(onChange);
    return () => {
      this.listeners.delete(onChange);
      subscriber.disconnect();
    };
  }

  /** Closes the source's read connection (the app's client stays open). */
  async close(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    this.readerReady = undefined;
    reader?.disconnect();
  }

  /**
   * Adds one origin (or pattern) in its canonical form, then announces it. Validated first: an
   * origin a policy with credentials would refuse throws `CorsConfigError` and writes nothing.
   * Resolves to false when it was already there.
   */
  async add(origin: string): Promise<boolean> {
    return this.writeOne('SADD', this.checked(origin, 'add'));
  }

  /** Removes one origin (validated and canonicalised as by `add`); false when it was not there. */
  async remove(origin: string): Promise<boolean> {
    return this.writeOne('SREM', this.checked(origin, 'remove'));
  }

  /**
   * `origin` in the form `add` stores it (`HTTPS://Tenant.Example` → `https://tenant.example`),
   * or `CorsConfigError` when it is not one: check user input with it before your own writes.
   */
  canonical(origin: string): string {
    return this.checked(origin, 'canonical');
  }

  /**
   * Replaces the whole list (from your source of truth) in one transaction, with a new version,
   * then announces it. This is also how a store without a version key (a new or restarted Redis)
   * is initialised. All entries are validated first: any invalid one throws `CorsConfigError`
   * listing them all, and nothing is written.
   */
  async replace(origins: readonly string[]): Promise<void> {
    const list = canonicalList(origins, this.place('replace'));
    const version = `${randomUUID()}:0`;
    const staging = `${this.key}:staging:${randomUUID()}`;
    const tx = this.client.multi();
    for (let i = 0; i < list.length; i += CHUNK) {
      tx.sadd(staging, ...(list.slice(i, i + CHUNK) as string[]));
    }
    if (list.length > 0) tx.rename(staging, this.key);
    else tx.del(this.key);
    tx.set(this.versionKey, version).publish(this.channel, version);
    failedReply(await tx.exec());
  }

  /** Is the version key there (has the store been given a list)? */
  async initialized(): Promise<boolean> {
    return (await this.client.exists(this.versionKey)) === 1;
  }

  private async writeOne(command: 'SADD' | 'SREM', origin: string): Promise<boolean> {
    try {
      const [changed] = (await this.client.eval(
        WRITE_ONE,
        2,
        this.key,
        this.versionKey,
        this.channel,
        command,
        origin,
      )) as [number, string];
      return changed === 1;
    } catch (error) {
      if (error instanceof Error && error.message.includes('NOVERSION'))
        throw this.notInitialized();
      throw error;
    }
  }

  /** Runs a MULTI on the read connection; any failure rejects as `OriginSourceUnavailable`. */
  private async read(build: (reader: Redis) => ChainableCommander): Promise<unknown[]> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await build(await this.readyReader()).exec();
    } catch (error) {
      if (error instanceof Error && error.name === UNAVAILABLE) throw error;
      throw unavailable(error instanceof Error ? error.message : String(error));
    }
    return failedReply(results);
  }

  /**
   * The read connection, connected. Before its first connection this waits for it (the boot's
   * first load); afterwards a connection that is not ready fails at once.
   */
  private async readyReader(): Promise<Redis> {
    if (this.reader === undefined) {
      const reader = this.client.duplicate({
        ...ownConnection('reader'),
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
      });
      reader.on('error', ignore);
      let connected = false;
      // After a reconnection, notifications sent while away are lost: have the subscribers reload.
      reader.on('ready', () => {
        if (connected) for (const listener of this.listeners) listener();
        connected = true;
      });
      this.reader = reader;
      this.readerReady = reader.connect();
    }
    const reader = this.reader;
    if (reader.status !== 'ready') {
      if (this.readerReady === undefined) throw unavailable(`the connection is ${reader.status}`);
      await this.readerReady.catch((error: unknown) => {
        throw unavailable(error instanceof Error ? error.message : String(error));
      });
    }
    this.readerReady = undefined; // connected once: from now on, never wait
    return reader;
  }

  private checkVersion(version: unknown): string {
    if (typeof version === 'string') return version;
    throw this.notInitialized();
  }

  private notInitialized(): Error {
    const error = new Error(
      `${JSON.stringify(this.versionKey)} is missing: the store does not say the SET is the list (a new Redis, or one restarted without its data). Nothing is applied; write the list with replace() to initialise it`,
    );
    error.name = 'OriginStoreNotInitialized';
    return error;
  }

  private checked(origin: string, operation: string): string {
    return canonicalList([origin], this.place(operation))[0];
  }

  private place(operation: string): CorsProblemPlace {
    return {
      where: `${this.description} (${operation})`,
      source: { kind: 'origin-source', name: this.key },
    };
  }
}

/**
 * `origins` in canonical form, without duplicates, validated as a policy with credentials
 * validates them (the strictest: what is stored is valid for every policy). Throws
 * `CorsConfigError` listing every invalid entry.
 */
function canonicalList(origins: readonly unknown[], place: CorsProblemPlace): string[] {
  const problems = new ProblemList();
  if (!Array.isArray(origins)) {
    problems.error(place, 'invalid-origin', 'origins must be an array of strings', origins);
  } else {
    for (const origin of origins) {
      if (typeof origin !== 'string') {
        problems.error(place, 'invalid-origin-item', 'a stored origin must be a string', origin);
      }
    }
  }
  problems.throwIfAny();
  const rule = OriginRule.compile(origins as string[], true, place, problems);
  problems.throwIfAny();
  return [...rule.list];
}

function ignore(): void {}

/** Options of a connection the source opens itself. */
function ownConnection(role: string): Partial<RedisOptions> {
  return { connectionName: `nestjs-cors:${role}`, lazyConnect: false };
}

/** A version stamp: the store's version and the SET's size. */
function stamp(version: string, size: number): string {
  return `${version}#${size}`;
}

/** The replies of a transaction; throws the first failed one. */
function failedReply(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw unavailable('the transaction was aborted');
  const failed = results.find(([error]) => error !== null);
  if (failed !== undefined) throw failed[0];
  return results.map(([, value]) => value);
}

const UNAVAILABLE = 'OriginSourceUnavailable';

function unavailable(reason: string): Error {
  const error = new Error(`Redis is unavailable: ${reason}`);
  error.name = UNAVAILABLE;
  return error;
}
