/**
 * The router oracle (issue 8, "Proof"): random route sets, each route with its own origin, booted
 * twice on Express — without the module (the oracle: which handler really runs, from the
 * `x-handler` header every handler writes) and with `CorsModule.forRoot({ origin: FALLBACK })`.
 * For every generated (method, path, host, version) it asserts cors-rules §2 items 1, 4, 5, 6, 10
 * and 11: the actual response and the preflight are decided by the policy of the handler Express
 * runs, and only by it; a preflight over versions the request does not carry is approved only when
 * every candidate handler approves it; Access-Control-Allow-Methods never lists a method whose
 * handler refuses the origin; paths no route serves get the module defaults.
 *
 * Seeded and reproducible: ORACLE_SEED=<n> changes the seed, ORACLE_RUNS / ORACLE_CASES the size,
 * ORACLE_ONLY_RUN=<family>:<run> replays one run, ORACLE_VERBOSE=1 prints the counts,
 * ORACLE_LIST_ALL=1 lists every violation.
 * Violations of all runs are collected, grouped by rule, and one of each is reduced to a small
 * route set before the test fails.
 */
import { describe, it } from '@jest/globals';
import fc from 'fast-check';
import {
  appSpecArb,
  caseFrom,
  caseSeedArb,
  describeSpec,
  inPool,
  reduce,
  routeCount,
  withApps,
  type AppSpec,
  type Focus,
  type Stats,
  type Violation,
} from './router-oracle.support.js';

const SEED = process.env.ORACLE_SEED === undefined ? 20260711 : Number(process.env.ORACLE_SEED);
const RUNS = Number(process.env.ORACLE_RUNS ?? 10);
const CASES = Number(process.env.ORACLE_CASES ?? 80);
const ONLY = process.env.ORACLE_ONLY_RUN;
const VERBOSE = process.env.ORACLE_VERBOSE === '1';
/** List every violation (request and context), not only one per category. */
const LIST_ALL = process.env.ORACLE_LIST_ALL === '1';
/** Time the reducer may spend on a failing test (all categories together), and per category. */
const REDUCE_MS = Number(process.env.ORACLE_REDUCE_MS ?? 20000);
const REDUCE_CATEGORY_MS = 2500;
const CONCURRENCY = 6;

const FAMILIES: Array<{ name: string; key: string; focus: Focus }> = [
  {
    name: 'overlapping params, literals and wildcards, @All, explicit @Head, duplicates, path arrays, specificity strategy',
    key: 'overlap',
    focus: {
      versioning: ['none'],
      families: false,
      hosts: false,
      prefix: false,
      strict: false,
      caseSensitive: false,
      specificity: true,
    },
  },
  {
    name: 'controller inheritance, host-bound controllers, global prefix with exclude, URI versioning',
    key: 'shared',
    focus: {
      versioning: ['none', 'uri'],
      families: true,
      hosts: true,
      prefix: true,
      strict: false,
      caseSensitive: false,
      specificity: true,
    },
  },
  {
    name: 'header and media-type versioning: a preflight over every candidate handler',
    key: 'versions',
    focus: {
      versioning: ['header', 'media'],
      families: true,
      hosts: true,
      prefix: true,
      strict: false,
      caseSensitive: false,
      specificity: true,
    },
  },
  {
    name: 'strict routing, case-sensitive routing, encoded and odd paths',
    key: 'matching',
    focus: {
      versioning: ['none', 'uri'],
      families: false,
      hosts: false,
      prefix: true,
      strict: true,
      caseSensitive: true,
      specificity: true,
    },
  },
];

interface FailedRun {
  run: number;
  spec: AppSpec;
  violations: Violation[];
}

describe('router oracle: the policy is the one of the handler Express runs', () => {
  it.each(FAMILIES.map((f, index) => ({ ...f, index })))(
    '$name',
    async ({ key, focus, index }) => {
      const seed = SEED + index;
      const stats: Stats = { cases: 0, requests: 0, skipped: 0 };
      const failed: FailedRun[] = [];
      const started = Date.now();
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          appSpecArb(focus),
          fc.array(caseSeedArb, { minLength: CASES, maxLength: CASES }),
          async (spec, seeds) => {
            const current = run++;
            if (ONLY !== undefined && ONLY !== `${key}:${current}`) return;
            const violations = await withApps(spec, stats, async (checker, oracleApp) => {
              const cases = seeds.map((s) => caseFrom(oracleApp, spec, s));
              await inPool(cases, CONCURRENCY, (c) => checker.check(c));
              return checker.violations;
            });
            if (violations.length > 0) failed.push({ run: current, spec, violations });
          },
        ),
        { seed, numRuns: RUNS, endOnFailure: true },
      );
      const counts =
        `${stats.cases} cases, ${stats.requests} requests, ${stats.skipped} checks skipped ` +
        `(Express answered 400 before any handler), ${((Date.now() - started) / 1000).toFixed(1)} s`;
      if (VERBOSE) console.log(`router oracle [${key}] seed ${seed}: ${counts}`);
      if (failed.length > 0) throw new Error(await report(key, seed, counts, failed));
    },
    240_000,
  );
});

/** Groups the violations by category and reduces one route set per category. */
async function report(
  key: string,
  seed: number,
  counts: string,
  failed: FailedRun[],
): Promise<string> {
  const byCategory = new Map<string, Array<{ run: FailedRun; violation: Violation }>>();
  for (const run of failed) {
    for (const violation of run.violations) {
      const list = byCategory.get(violation.category) ?? [];
      list.push({ run, violation });
      byCategory.set(violation.category, list);
    }
  }
  const total = [...byCategory.values()].reduce((n, l) => n + l.length, 0);
  const lines = [
    `Router oracle [${key}]: ${total} violations in ${failed.length} of ${RUNS} runs ` +
      `(seed ${seed}; rerun with ORACLE_SEED=${seed - FAMILIES.findIndex((f) => f.key === key)}` +
      ` ORACLE_ONLY_RUN=${key}:<run>). ${counts}.`,
  ];
  const deadline = Date.now() + REDUCE_MS;
  for (const [category, list] of byCategory) {
    const budget = Math.max(0, Math.min(REDUCE_CATEGORY_MS, deadline - Date.now()));
    // The occurrence in the smallest route set, then reduced further.
    const first = [...list].sort((a, b) => routeCount(a.run.spec) - routeCount(b.run.spec))[0];
    const runs = [...new Set(list.map((x) => x.run.run))].join(', ');
    const reduced = await reduce(first.run.spec, first.violation, budget);
    const v = reduced.violation;
    lines.push(
      '',
      `● ${category}: ${list.length}× (runs ${runs})`,
      `  request:  ${v.request}`,
      `  context:  ${v.context}`,
      `  expected: ${v.expected}`,
      `  actual:   ${v.actual}`,
      `  route set (run ${first.run.run}, reduced from ${routeCount(first.run.spec)} to ${routeCount(reduced.spec)} routes):`,
      describeSpec(reduced.spec),
    );
    if (LIST_ALL) {
      for (const { run, violation } of list) {
        lines.push(`  - run ${run.run}: ${violation.request} — ${violation.context}`);
      }
    }
  }
  return lines.join('\n');
}
