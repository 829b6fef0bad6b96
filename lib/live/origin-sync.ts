/**
 * Keeps one origin source's list in force: the first load at boot, a reload on every
 * notification, a periodic check (the bound on a missed one). One check runs at a time; a failed
 * read keeps the last good list and is logged once per outage; invalid entries are left out and
 * logged once while they stay in the store. Nothing here runs per request.
 */
import { configProblem, CorsConfigError, type CorsProblemPlace } from '../engine/errors.js';
import type { LiveUpdate } from './origin-owners.js';
import {
  ORIGIN_SOURCE_DEFAULTS,
  type OriginSnapshot,
  type OriginSource,
  type OriginSourceStatus,
  type OriginUnsubscribe,
} from './origin-source.js';

/** Where log lines go (the module passes its Nest logger). */
export interface SyncLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Swaps a loaded list in (every policy that uses the source); `strict` throws on any bad entry. */
export type ApplyLive = (entries: readonly unknown[], strict: boolean) => LiveUpdate;

type Trigger = 'boot' | 'poll' | 'notify';

interface Applied {
  version: string | undefined;
  members: ReadonlySet<unknown>;
}

export class OriginSync {
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly label: string;
  private applied: Applied | undefined;
  private running: Promise<void> | undefined;
  private queued: 'poll' | 'notify' | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: OriginUnsubscribe | undefined;
  private stopped = false;
  /** The current outage: since when, and the kinds of failure already logged. */
  private outage: { since: number; logged: Set<string> } | undefined;
  /** Problem lines logged for the entries still in the store (not repeated per version). */
  private reported = new Set<string>();
  private state: Mutable<OriginSourceStatus>;

  constructor(
    private readonly source: OriginSource,
    /** Where the source is declared: `module`, `policy "tenants"`. */
    private readonly place: CorsProblemPlace,
    private readonly apply: ApplyLive,
    private readonly logger: SyncLogger,
  ) {
    this.pollMs = source.pollMs ?? ORIGIN_SOURCE_DEFAULTS.pollMs;
    this.timeoutMs = source.timeoutMs ?? ORIGIN_SOURCE_DEFAULTS.timeoutMs;
    const description = source.description ?? 'origin source';
    this.label = `${place.where} (${description})`;
    this.state = {
      source: description,
      origins: 0,
      version: undefined,
      appliedAt: undefined,
      checkedAt: undefined,
      checks: 0,
      loadMs: undefined,
      applyMs: undefined,
      skipped: [],
      failingSince: undefined,
      lastError: undefined,
    };
  }

  get status(): OriginSourceStatus {
    return { ...this.state };
  }

  /**
   * The first load. Throws `CorsConfigError` when it fails or holds invalid entries, unless the
   * source says `onBootFailure: 'static'` (then the error is logged and the static list stays).
   */
  async boot(): Promise<void> {
    const strict = this.source.onBootFailure !== 'static';
    this.state.checks++;
    let snapshot: OriginSnapshot;
    const started = performance.now();
    try {
      snapshot = await this.read();
    } catch (error) {
      if (strict) throw this.unavailableAtBoot(error);
      this.logger.error(
        `${this.label}: the first load failed (${errorText(error)}); starting with the static origins only (onBootFailure: 'static'), retrying every ${this.pollMs} ms`,
      );
      this.failed(error, true);
      return;
    }
    this.applySnapshot(snapshot, 'boot', performance.now() - started, strict);
  }

  /** Subscribes and starts the periodic check (a timer that never keeps the process alive). */
  async watch(): Promise<void> {
    this.timer = setInterval(() => void this.refresh('poll'), this.pollMs);
    this.timer.unref?.();
    if (this.source.subscribe !== undefined) await this.subscribe(this.source.subscribe);
    // A change between the first load and the subscription would otherwise wait for a poll.
    void this.refresh('poll');
  }

  /**
   * Checks the source now: `notify` always reloads, `poll` reloads when the version changed.
   * One check at a time: a trigger during a check runs once after it (a notify wins over a poll).
   */
  refresh(trigger: 'poll' | 'notify'): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running !== undefined) {
      if (this.queued !== 'notify') this.queued = trigger;
      return this.running;
    }
    this.running = this.check(trigger).finally(() => {
      this.running = undefined;
      const next = this.queued;
      this.queued = undefined;
      if (next !== undefined) void this.refresh(next);
    });
    return this.running;
  }

  /** Stops checking, unsubscribes, and closes what the source opened. Never throws. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.running;
    await quietly(() => this.unsubscribe?.());
    await quietly(() => this.source.close?.());
  }

  private async subscribe(subscribe: NonNullable<OriginSource['subscribe']>): Promise<void> {
    try {
      const pending = Promise.resolve(
        subscribe.call(this.source, () => void this.refresh('notify')),
      );
      this.unsubscribe = await withTimeout(pending, this.timeoutMs, 'subscribe');
    } catch (error) {
      this.logger.error(
        `${this.label}: subscribe failed (${errorText(error)}): changes arrive with the periodic check only (every ${this.pollMs} ms)`,
      );
    }
  }

  /** One check; never rejects (a failure is recorded and logged). */
  private async check(trigger: 'poll' | 'notify'): Promise<void> {
    this.state.checks++;
    try {
      if (trigger === 'poll' && (await this.unchanged())) return this.answered();
      const started = performance.now();
      const snapshot = await this.read();
      this.answered();
      if (!this.stopped) this.applySnapshot(snapshot, trigger, performance.now() - started, false);
    } catch (error) {
      this.failed(error, false);
    }
  }

  /** Does the source's version equal the one applied (no load needed)? */
  private async unchanged(): Promise<boolean> {
    const { version } = this.source;
    if (version === undefined || this.applied?.version === undefined) return false;
    const stamp = await withTimeout(version.call(this.source), this.timeoutMs, 'version()');
    return stamp === this.applied.version;
  }

  /** `load()` under the timeout, as a snapshot (a plain array has no version). */
  private async read(): Promise<OriginSnapshot> {
    const loaded = await withTimeout(this.source.load(), this.timeoutMs, 'load()');
    if (Array.isArray(loaded)) return { origins: loaded };
    const snapshot = loaded as OriginSnapshot;
    if (snapshot !== null && typeof snapshot === 'object' && Array.isArray(snapshot.origins)) {
      return snapshot;
    }
    throw named(
      'OriginSourceInvalid',
      'load() must resolve to an array of origins or { origins, version }',
    );
  }

  /** Swaps the list in unless it holds the same entries as the list in force. */
  private applySnapshot(
    snapshot: OriginSnapshot,
    trigger: Trigger,
    loadMs: number,
    strict: boolean,
  ): void {
    const members = new Set<unknown>(snapshot.origins);
    if (this.applied !== undefined && sameMembers(this.applied.members, members)) {
      this.applied.version = snapshot.version;
      this.state.version = snapshot.version;
      return;
    }
    const started = performance.now();
    const update = this.apply(snapshot.origins, strict);
    const applyMs = performance.now() - started;
    this.applied = { version: snapshot.version, members };
    const origins = members.size - new Set(update.skipped.map((p) => p.value)).size;
    Object.assign(this.state, {
      origins,
      version: snapshot.version,
      appliedAt: new Date(),
      loadMs: round(loadMs),
      applyMs: round(applyMs),
      skipped: update.skipped,
    });
    const version = snapshot.version === undefined ? '' : `, version ${snapshot.version}`;
    this.logger.log(
      `${this.label}: ${origins} live origins in force (${trigger}${version}; loaded in ${round(loadMs)} ms, applied in ${round(applyMs)} ms)`,
    );
    this.reportProblems(update);
  }

  /** Logs each skipped entry and warning once while it stays in the store. */
  private reportProblems(update: LiveUpdate): void {
    const lines = [
      ...update.skipped.map(
        (p) => `${this.label}: left out ${JSON.stringify(p.value)}: ${p.message}`,
      ),
      ...update.warnings.map((p) => `${this.label}: ${p.message}`),
    ];
    for (const line of lines) if (!this.reported.has(line)) this.logger.warn(line);
    this.reported = new Set(lines);
  }

  /** The source answered: an outage (if any) is over. */
  private answered(): void {
    this.state.checkedAt = new Date();
    if (this.outage === undefined) return;
    const ms = Date.now() - this.outage.since;
    this.outage = undefined;
    this.state.failingSince = undefined;
    this.state.lastError = undefined;
    this.logger.log(`${this.label}: the origin source answers again after ${ms} ms`);
  }

  /** Keeps the last good list; logs the first failure of an outage (and each new kind of one). */
  private failed(error: unknown, alreadyLogged: boolean): void {
    const kind = error instanceof Error ? error.name : typeof error;
    this.state.lastError = errorText(error);
    if (this.outage === undefined) {
      this.outage = { since: Date.now(), logged: new Set() };
      this.state.failingSince = new Date();
    }
    if (this.outage.logged.has(kind)) return;
    this.outage.logged.add(kind);
    if (alreadyLogged) return;
    const kept = this.applied === undefined ? 'the static origins' : 'the last good list';
    const version = this.state.version === undefined ? '' : ` (version ${this.state.version})`;
    this.logger.warn(
      `${this.label}: cannot read the origin source (${errorText(error)}); keeping ${kept}${version} until it answers`,
    );
  }

  private unavailableAtBoot(error: unknown): CorsConfigError {
    const message = `originSource (${this.state.source}): the first load failed: ${errorText(error)}. The boot waits for the store; to start with the static origins only and keep retrying, set onBootFailure: 'static' on the source`;
    return new CorsConfigError([configProblem(this.place, 'origin-source-unavailable', message)]);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** `promise`, rejected with a `OriginSourceTimeout` error after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(named('OriginSourceTimeout', `${what} did not answer within ${ms} ms`)),
      ms,
    );
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sameMembers(a: ReadonlySet<unknown>, b: ReadonlySet<unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const item of b) if (!a.has(item)) return false;
  return true;
}

function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

async function quietly(action: () => unknown): Promise<void> {
  try {
    await action();
  } catch {
    // Closing is best effort: the app is shutting down.
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
