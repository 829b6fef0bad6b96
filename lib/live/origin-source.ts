/**
 * Live origin lists that several app instances share: what a store must offer (`OriginSource`)
 * and what the module reports about it (`OriginSourceStatus`). No store is imported here: the
 * Redis one is the separate entry `nestjs-cors/redis`.
 */
import type { CorsConfigProblem } from '../engine/errors.js';

/** A list read from a store, with the store's version of it when it has one. */
export interface OriginSnapshot {
  readonly origins: readonly string[];
  /**
   * Changes whenever the list changes (opaque). When it equals the one last applied, a periodic
   * check skips the load; a notification always reloads.
   */
  readonly version?: string;
}

/** Stops a subscription. */
export type OriginUnsubscribe = () => void | Promise<void>;

/**
 * Where a policy's live origins come from: a store the app instances share (a Redis SET, a
 * tenant table). Its origins are allowed in addition to the policy's static `origin` list, with
 * the same strict parsing. The module loads it at boot, reloads it when `subscribe` says so, and
 * checks it every `pollMs` (with `version()` when there is one, else with a load).
 */
export interface OriginSource {
  /**
   * The whole list as the store holds it now. Must reject when the store cannot be read: a
   * resolved list (even empty) is applied, a rejection keeps the last good list.
   */
  load(): Promise<readonly string[] | OriginSnapshot>;
  /** Calls `onChange` whenever the list may have changed (any payload means "reload"). */
  subscribe?(onChange: () => void): OriginUnsubscribe | Promise<OriginUnsubscribe>;
  /** A cheap stamp equal to `load()`'s `version` for the same list: spares loads while idle. */
  version?(): Promise<string>;
  /** Milliseconds between periodic checks, the bound on a missed notification. Default 5000. */
  readonly pollMs?: number;
  /** Milliseconds a load or a version check may take before it counts as failed. Default 5000. */
  readonly timeoutMs?: number;
  /**
   * When the first load at boot fails or holds invalid entries: `'fail'` the boot (default), or
   * start with the `'static'` list only (an error is logged, invalid entries are skipped, and the
   * periodic check keeps trying).
   */
  readonly onBootFailure?: 'fail' | 'static';
  /** Names the store in log lines: `redis set "cors:origins"`. */
  readonly description?: string;
  /** Releases what the source opened itself; called when the app closes. */
  close?(): Promise<void>;
}

/** The state of one policy's origin source, for health checks (`CorsService.originSourceStatus`). */
export interface OriginSourceStatus {
  /** The source's `description`. */
  readonly source: string;
  /** Live origins in force (the valid entries of the list last applied). */
  readonly origins: number;
  /** The source's version of the list in force, if it gives one. */
  readonly version: string | undefined;
  /** When the list in force was applied. */
  readonly appliedAt: Date | undefined;
  /** When the source last answered a check. */
  readonly checkedAt: Date | undefined;
  /** Checks done so far (loads and version checks, failed or not). */
  readonly checks: number;
  /** How long the load of the list in force took, and compiling and swapping it in (ms). */
  readonly loadMs: number | undefined;
  readonly applyMs: number | undefined;
  /** Entries of the store left out of the list in force, with why. */
  readonly skipped: readonly CorsConfigProblem[];
  /** Set while the source cannot be read: since when, and the last error. */
  readonly failingSince: Date | undefined;
  readonly lastError: string | undefined;
}

/** Defaults and bounds of the source settings (checked at boot). */
export const ORIGIN_SOURCE_DEFAULTS = Object.freeze({
  pollMs: 5000,
  timeoutMs: 5000,
  minPollMs: 50,
  maxPollMs: 86_400_000,
  maxTimeoutMs: 600_000,
});
