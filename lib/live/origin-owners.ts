/**
 * The origins of each owner key (`''` the module defaults, or a policy name): a static part
 * (`origin`, replaced by `setOrigins`) and a live part (from an origin source). Any change
 * compiles new policies for every owner and hands them to `swap` in one call, so a request sees
 * the old or the new origins, never a mix.
 */
import type { CorsPolicy } from '../engine/cors-policy.js';
import {
  CorsConfigError,
  ProblemList,
  problemKey,
  type CorsConfigProblem,
  type CorsProblemPlace,
} from '../engine/errors.js';
import { OriginRuleCache, type ParseCache } from '../engine/origin-rule.js';
import type { CorsPolicyOptions } from '../interfaces/cors-options.interface.js';
import type { OriginDeclaration } from '../routing/policy-resolver.js';

type Origin = CorsPolicyOptions['origin'];

/** What an update left out or warned about (problems of live entries only). */
export interface LiveUpdate {
  readonly skipped: readonly CorsConfigProblem[];
  readonly warnings: readonly CorsConfigProblem[];
}

/** The origins in force, as `describe()` shows them (`[]` when none is allowed). */
export type OriginsInForce = readonly string[] | '*' | 'reflect' | 'function';

interface OwnerState {
  readonly declaration: OriginDeclaration;
  /** The static part in force (`setOrigins` replaces it). */
  staticOrigin: Origin;
  /** The valid live entries in force; undefined before the first load (or without a source). */
  live: readonly string[] | undefined;
  /** Parsed strings of the lists in force: an update reparses only the entries it adds. */
  parsed: ParseCache;
}

export class OriginOwners {
  private readonly states = new Map<string, OwnerState>();

  constructor(
    private policies: ReadonlyMap<string, ReadonlySet<CorsPolicy>>,
    declarations: ReadonlyMap<string, OriginDeclaration>,
    private readonly swap: (replace: ReadonlyMap<CorsPolicy, CorsPolicy>) => void,
  ) {
    for (const [key, declaration] of declarations) {
      const state = { declaration, staticOrigin: declaration.origin, live: undefined };
      this.states.set(key, { ...state, parsed: new Map() });
    }
  }

  /**
   * Replaces the static part of `key` (`setOrigins`). Throws `CorsConfigError` on any problem,
   * leaving everything as it was; returns the warnings.
   */
  setStatic(key: string, origin: Origin, place: CorsProblemPlace): readonly CorsConfigProblem[] {
    const state = this.state(key);
    const withSource = state.declaration.source !== undefined;
    if (withSource) checkListForm(origin, place);
    const next = withSource ? combine(origin, state.live ?? []) : origin;
    const { replace, problems } = this.compile(key, next, place);
    if (problems.errors.length > 0) throw new CorsConfigError(unique(problems.errors));
    state.staticOrigin = origin;
    this.commit(replace);
    prune(state);
    return unique(problems.warnings);
  }

  /**
   * Replaces the live part of `key` with `entries` from its source. Invalid entries are left out
   * and reported (with `strict`, any invalid entry throws `CorsConfigError` and nothing changes).
   */
  setLive(key: string, entries: readonly unknown[], strict: boolean): LiveUpdate {
    const state = this.state(key);
    const place = liveUpdatePlace(state.declaration.place);
    const given = new Set(entries);
    let attempt = this.compile(key, combine(state.staticOrigin, entries), place);
    const skipped = unique(attempt.problems.errors.filter((p) => given.has(p.value)));
    if (strict && skipped.length > 0) throw new CorsConfigError(skipped);
    let kept = entries as readonly string[];
    if (skipped.length > 0) {
      const bad = new Set(skipped.map((p) => p.value));
      kept = entries.filter((entry) => !bad.has(entry)) as string[];
      attempt = this.compile(key, combine(state.staticOrigin, kept), place);
    }
    // Only live entries can be wrong here: the static part was checked when it was set.
    if (attempt.problems.errors.length > 0)
      throw new CorsConfigError(unique(attempt.problems.errors));
    state.live = kept;
    this.commit(attempt.replace);
    prune(state);
    const warnings = attempt.problems.warnings.filter((p) => given.has(p.value));
    return { skipped, warnings: unique(warnings) };
  }

  /** The origins in force for `key` (static and live together). */
  originsOf(key: string): OriginsInForce {
    const [policy] = this.policies.get(key) ?? [];
    if (policy === undefined) return [];
    const origins = policy.describe().origins;
    return origins === 'none' ? [] : origins;
  }

  private state(key: string): OwnerState {
    const state = this.states.get(key);
    if (state === undefined) throw new Error(`no origins are declared for "${key}"`); // a bug
    return state;
  }

  /** New policies for every owner of `key` with origins `origin` (one rule shared by all). */
  private compile(
    key: string,
    origin: Origin,
    place: CorsProblemPlace,
  ): { replace: Map<CorsPolicy, CorsPolicy>; problems: ProblemList } {
    const problems = new ProblemList();
    const state = this.state(key);
    const rules = new OriginRuleCache(state.declaration.place.where, state.parsed);
    const replace = new Map<CorsPolicy, CorsPolicy>();
    for (const owner of this.policies.get(key) ?? []) {
      replace.set(owner, owner.withOrigins(origin, place, problems, rules));
    }
    return { replace, problems };
  }

  private commit(replace: ReadonlyMap<CorsPolicy, CorsPolicy>): void {
    this.swap(replace);
    const next = new Map<string, Set<CorsPolicy>>();
    for (const [key, set] of this.policies) {
      next.set(key, new Set([...set].map((p) => replace.get(p) ?? p)));
    }
    this.policies = next;
  }
}

/** `module (originSource)`, `policy "tenants" (originSource)`: where live entries are reported. */
function liveUpdatePlace(declared: CorsProblemPlace): CorsProblemPlace {
  return { where: `${declared.where} (originSource)`, source: declared.source };
}

/** The static part and the live entries as one `origin` list. */
function combine(staticOrigin: Origin, live: readonly unknown[]): Origin {
  if (live.length === 0) return staticOrigin ?? false;
  const base =
    staticOrigin === undefined || staticOrigin === false
      ? []
      : Array.isArray(staticOrigin)
        ? staticOrigin
        : [staticOrigin];
  return [...base, ...live] as Origin;
}

/**
 * Drops the parsed strings no list in force holds (else the cache would keep every entry ever
 * seen), once they outnumber the lists: a rebuild per update would cost what the cache saves.
 */
function prune(state: OwnerState): void {
  const { staticOrigin } = state;
  const lists: ReadonlyArray<readonly unknown[]> = [
    state.live ?? [],
    Array.isArray(staticOrigin) ? staticOrigin : [staticOrigin],
  ];
  if (state.parsed.size <= 2 * (lists[0].length + lists[1].length) + 1000) return;
  const next: ParseCache = new Map();
  for (const list of lists) {
    for (const entry of list) {
      const value = typeof entry === 'string' ? state.parsed.get(entry) : undefined;
      if (value !== undefined) next.set(entry as string, value);
    }
  }
  state.parsed = next;
}

/** With a source, `setOrigins` replaces a list that live origins are added to. */
function checkListForm(origin: Origin, place: CorsProblemPlace): void {
  if (origin !== '*' && origin !== true && typeof origin !== 'function') return;
  const problems = new ProblemList();
  problems.error(
    place,
    'origin-source-needs-list',
    "this policy has an originSource: setOrigins() replaces the static list its live origins are added to, so it takes a list of origins (or false), not '*', true or a function",
    origin,
  );
  problems.throwIfAny();
}

/** Every owner reports the same problem of the same list: keep each once. */
function unique(list: readonly CorsConfigProblem[]): CorsConfigProblem[] {
  return [...new Map(list.map((p) => [problemKey(p), p])).values()];
}
