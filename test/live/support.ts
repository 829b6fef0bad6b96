/**
 * Helpers of the live-origin suites: an in-memory `OriginSource` the test drives (list, version,
 * failures, notifications), a logger that records lines and lets a test await one, and small
 * request helpers.
 */
import type { INestApplication, LoggerService } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { OriginSource, OriginUnsubscribe } from '../../lib/index.js';
import { get, preflight } from '../e2e/helpers.js';

/**
 * Resolves with the `count`-th emission of `event` that `accept` takes (every one by default);
 * rejects after `timeoutMs` with `failure(seen)`. The one way these suites await what happens.
 */
export function awaitEvents<T>(
  emitter: EventEmitter,
  event: string,
  options: {
    count?: number;
    accept?: (value: T) => boolean;
    timeoutMs: number;
    failure: (seen: number) => string;
  },
): Promise<T> {
  const { count = 1, accept = () => true, timeoutMs, failure } = options;
  return new Promise((resolve, reject) => {
    let seen = 0;
    const onEvent = (value: T) => {
      if (!accept(value) || ++seen < count) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve(value);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(failure(seen)));
    }, timeoutMs);
    emitter.on(event, onEvent);
  });
}

export interface MemorySourceOptions {
  origins?: unknown[];
  /** Give the source a `version()` (and versioned snapshots). Default true. */
  versioned?: boolean;
  /** Give the source a `subscribe()`. Default true. */
  subscribable?: boolean;
  pollMs?: number;
  timeoutMs?: number;
  onBootFailure?: 'fail' | 'static';
}

/** The store's side of an in-memory source: what a test changes and counts. */
export class MemoryStore {
  origins: unknown[];
  version = 1;
  /** When set, every load and version check rejects with it. */
  failure: Error | undefined;
  /** When set, load() never settles (a store that hangs). */
  hang = false;
  loads = 0;
  versionChecks = 0;
  unsubscribed = 0;
  closed = 0;
  readonly listeners = new Set<() => void>();
  private readonly events = new EventEmitter();

  constructor(origins: unknown[]) {
    this.origins = origins;
  }

  /** Counts a load or a version check (called by the source). */
  checked(kind: 'load' | 'version'): void {
    if (kind === 'load') this.loads++;
    else this.versionChecks++;
    this.events.emit('check');
  }

  /** Resolves once `count` more loads or version checks have started (rejects after `timeoutMs`). */
  async checks(count: number, timeoutMs = 5000): Promise<void> {
    await awaitEvents(this.events, 'check', {
      count,
      timeoutMs,
      failure: (seen) => `only ${seen} of ${count} checks within ${timeoutMs} ms`,
    });
  }

  /** Replaces the list and bumps the version (does not notify). */
  write(origins: unknown[]): void {
    this.origins = origins;
    this.version++;
  }

  /** Tells every subscriber the list may have changed. */
  notify(): void {
    for (const listener of this.listeners) listener();
  }
}

/** An `OriginSource` over a `MemoryStore`, with the settings given. */
export function memorySource(options: MemorySourceOptions = {}): {
  source: OriginSource;
  store: MemoryStore;
} {
  const store = new MemoryStore(options.origins ?? []);
  const read = <T>(value: () => T): Promise<T> => {
    if (store.hang) return new Promise<T>(() => undefined);
    return store.failure ? Promise.reject(store.failure) : Promise.resolve(value());
  };
  const versioned = options.versioned ?? true;
  const source: OriginSource = {
    description: 'memory store',
    pollMs: options.pollMs,
    timeoutMs: options.timeoutMs,
    onBootFailure: options.onBootFailure,
    load: () => {
      store.checked('load');
      return read(() => ({
        origins: [...store.origins] as string[],
        version: versioned ? String(store.version) : undefined,
      }));
    },
    ...(versioned && {
      version: () => {
        store.checked('version');
        return read(() => String(store.version));
      },
    }),
    ...((options.subscribable ?? true) && {
      subscribe: (onChange: () => void): OriginUnsubscribe => {
        store.listeners.add(onChange);
        return () => {
          store.listeners.delete(onChange);
          store.unsubscribed++;
        };
      },
    }),
    close: async () => {
      store.closed++;
    },
  };
  return { source, store };
}

export interface LogLine {
  level: 'log' | 'warn' | 'error' | 'debug' | 'verbose' | 'fatal';
  message: string;
}

/** A Nest logger that keeps every line; `next()` awaits the next line matching a pattern. */
export class LogCapture implements LoggerService {
  readonly lines: LogLine[] = [];
  private readonly events = new EventEmitter();

  log(message: unknown) {
    this.add('log', message);
  }
  warn(message: unknown) {
    this.add('warn', message);
  }
  error(message: unknown) {
    this.add('error', message);
  }
  debug(message: unknown) {
    this.add('debug', message);
  }
  verbose(message: unknown) {
    this.add('verbose', message);
  }
  fatal(message: unknown) {
    this.add('fatal', message);
  }

  /** Lines matching `pattern` (at `level`, when given). */
  matching(pattern: RegExp, level?: LogLine['level']): LogLine[] {
    return this.lines.filter((l) => pattern.test(l.message) && (!level || l.level === level));
  }

  /**
   * The first line matching `pattern` logged after `from` lines (default: from now on), within
   * `timeoutMs`; rejects naming the pattern and the lines seen.
   */
  next(pattern: RegExp, from = this.lines.length, timeoutMs = 5000): Promise<LogLine> {
    const found = this.lines.slice(from).find((l) => pattern.test(l.message));
    if (found) return Promise.resolve(found);
    return awaitEvents<LogLine>(this.events, 'line', {
      accept: (line) => pattern.test(line.message),
      timeoutMs,
      failure: () => {
        const seen = this.lines.map((l) => `  ${l.level}: ${l.message}`).join('\n');
        return `no log line matched ${pattern} within ${timeoutMs} ms; lines:\n${seen}`;
      },
    });
  }

  private add(level: LogLine['level'], message: unknown) {
    const line = { level, message: String(message) };
    this.lines.push(line);
    this.events.emit('line', line);
  }
}

/** Does `origin` get `Access-Control-Allow-Origin` on `GET path` and on a preflight? */
export async function allowed(app: INestApplication, origin: string, path = '/items') {
  const actual = await get(app, path, origin);
  const pre = await preflight(app, path, origin, 'POST');
  const a = actual.headers['access-control-allow-origin'] === origin;
  const p = pre.status === 204 && pre.headers['access-control-allow-origin'] === origin;
  if (a !== p) throw new Error(`actual request and preflight disagree for ${origin}: ${a} vs ${p}`);
  return a;
}
