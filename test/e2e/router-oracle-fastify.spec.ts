/**
 * The router oracle on Fastify (issue 10: the same module, the same guarantees, proven by the
 * same tests): random route sets in Fastify syntax, each route with its own origin, booted twice
 * on the FastifyAdapter — without the module (the oracle: which handler really runs, from the
 * `x-handler` header every handler writes) and with `CorsModule.forRoot({ origin: FALLBACK })`.
 * For every generated (method, path, host, version) the Express oracle's checks (cors-rules §2
 * items 1, 4, 5, 6, 10 and 11) must hold: the actual response and the preflight are decided by
 * the policy of the handler Fastify runs, and only by it; a preflight over versions the request
 * does not carry (header versioning) is approved only when every candidate handler approves it;
 * Access-Control-Allow-Methods never lists a method whose handler refuses the origin; paths no
 * route serves (Fastify's 404s, empty parameters included) get the module defaults.
 *
 * Fastify's own semantics are the ones checked, not Express's: static beats parametric beats
 * wildcard whatever the registration order, regex and multi-parameter segments, `*` matching the
 * empty rest, strict trailing slash and case-sensitive matching by default (and the router
 * options that change them), the automatic HEAD route of a GET, an empty parameter answered 404
 * by Nest, and a host-bound controller answering 404 for another host. Cases where Fastify
 * answers before any hook (400 for a malformed escape, 414 for an over-long parameter) carry no
 * CORS headers on Fastify, as the module never sees them: the checker skips them (counted).
 *
 * Seeded and reproducible: ORACLE_SEED=<n> changes the seed, ORACLE_RUNS / ORACLE_CASES the size,
 * ORACLE_ONLY_RUN=<family>:<run> replays one run, ORACLE_VERBOSE=1 prints the counts,
 * ORACLE_LIST_ALL=1 lists every violation. Violations of all runs are collected, grouped by rule,
 * and one of each is reduced to a small route set before the test fails.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  caseFrom,
  caseSeedArb,
  inPool,
  routeCount,
  type Case,
  type CorsSpec,
  type FamilySpec,
  type PlainSpec,
  type Violation,
} from './router-oracle.support.js';
import {
  DEFAULT_ROUTER,
  describeFastifySpec,
  fastifyAppSpecArb,
  reduceFastify,
  withFastifyApps,
  type FastifyAppSpec,
  type FastifyStats,
  type FastifyFocus,
} from './router-oracle-fastify.support.js';

const SEED = process.env.ORACLE_SEED === undefined ? 20261202 : Number(process.env.ORACLE_SEED);
const RUNS = Number(process.env.ORACLE_RUNS ?? 6);
const CASES = Number(process.env.ORACLE_CASES ?? 50);
const ONLY = process.env.ORACLE_ONLY_RUN;
const VERBOSE = process.env.ORACLE_VERBOSE === '1';
const LIST_ALL = process.env.ORACLE_LIST_ALL === '1';
const REDUCE_MS = Number(process.env.ORACLE_REDUCE_MS ?? 6000);
const REDUCE_CATEGORY_MS = 2000;
const CONCURRENCY = 6;

const FAMILIES: Array<{ name: string; key: string; focus: FastifyFocus }> = [
  {
    name: 'static, parametric, regex, multi-parameter and wildcard overlaps in any order, @All, @Head, path arrays',
    key: 'overlap',
    focus: { versioning: ['none'], families: false, hosts: false, router: false },
  },
  {
    name: 'router options: caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes, useSemicolonDelimiter',
    key: 'options',
    focus: { versioning: ['none'], families: false, hosts: false, router: true },
  },
  {
    name: 'header versioning, host-bound controllers, controller inheritance',
    key: 'versions',
    focus: { versioning: ['header'], families: true, hosts: true, router: false },
  },
];

interface FailedRun {
  run: number;
  spec: FastifyAppSpec;
  violations: Violation[];
}

describe('router oracle on Fastify: the policy is the one of the handler Fastify runs', () => {
  it.each(FAMILIES.map((f, index) => ({ ...f, index })))(
    '$name',
    async ({ key, focus, index }) => {
      const seed = SEED + index;
      const stats: FastifyStats = { cases: 0, requests: 0, skipped: 0, handled: 0 };
      const failed: FailedRun[] = [];
      const started = Date.now();
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fastifyAppSpecArb(focus),
          fc.array(caseSeedArb, { minLength: CASES, maxLength: CASES }),
          async (spec, seeds) => {
            const current = run++;
            if (ONLY !== undefined && ONLY !== `${key}:${current}`) return;
            const violations = await withFastifyApps(spec, stats, async (checker, oracleApp) => {
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
        `${stats.cases} cases, ${stats.requests} requests (${stats.handled} oracle answers from a ` +
        `handler), ${stats.skipped} checks skipped ` +
        `(Fastify answered 400/414 before any hook), ${((Date.now() - started) / 1000).toFixed(1)} s`;
      if (VERBOSE) console.log(`router oracle on Fastify [${key}] seed ${seed}: ${counts}`);
      // Most requests are derived from the routes: a run where no handler ever ran checks nothing.
      if (ONLY === undefined && stats.handled < stats.cases / 4) {
        throw new Error(`test harness: handlers ran for too few requests (${counts})`);
      }
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
    `Router oracle on Fastify [${key}]: ${total} violations in ${failed.length} of ${RUNS} runs ` +
      `(seed ${seed}; rerun with ORACLE_SEED=${seed - FAMILIES.findIndex((f) => f.key === key)}` +
      ` ORACLE_ONLY_RUN=${key}:<run>). ${counts}.`,
  ];
  const deadline = Date.now() + REDUCE_MS;
  for (const [category, list] of byCategory) {
    const budget = Math.max(0, Math.min(REDUCE_CATEGORY_MS, deadline - Date.now()));
    const first = [...list].sort((a, b) => routeCount(a.run.spec) - routeCount(b.run.spec))[0];
    const runs = [...new Set(list.map((x) => x.run.run))].join(', ');
    const reduced = await reduceFastify(first.run.spec, first.violation, budget);
    const v = reduced.violation;
    lines.push(
      '',
      `● ${category}: ${list.length}× (runs ${runs})`,
      `  request:  ${v.request}`,
      `  context:  ${v.context.replace(/Express/g, 'Fastify')}`,
      `  expected: ${v.expected.replace(/Express/g, 'Fastify')}`,
      `  actual:   ${v.actual}`,
      `  route set (run ${first.run.run}, reduced from ${routeCount(first.run.spec)} to ${routeCount(reduced.spec)} routes):`,
      describeFastifySpec(reduced.spec),
    );
    if (LIST_ALL) {
      for (const { run, violation } of list) {
        lines.push(`  - run ${run.run}: ${violation.request} — ${violation.context}`);
      }
    }
  }
  return lines.join('\n');
}

// ----- the violations found, as fixed examples ---------------------------------------------------------

const DEFAULT: CorsSpec = { kind: 'default', n: 0, credentials: false, enforce: false };
const own = (n: number): CorsSpec => ({ kind: 'origin', n, credentials: false, enforce: false });

/** A route set on default router options (header versioning when `versioning` says so). */
function appSpec(
  controllers: Array<PlainSpec | FamilySpec>,
  versioning: 'none' | 'header' = 'none',
): FastifyAppSpec {
  return {
    controllers,
    versioning,
    strict: false,
    caseSensitive: false,
    specificity: false,
    router: DEFAULT_ROUTER,
  };
}

/** Every check of the shared checker for one request on one route set: no violation. */
async function expectNoViolation(spec: FastifyAppSpec, c: Case): Promise<void> {
  const stats: FastifyStats = { cases: 0, requests: 0, skipped: 0, handled: 0 };
  const violations = await withFastifyApps(spec, stats, async (checker) => {
    await checker.check(c);
    return checker.violations;
  });
  expect(
    violations.map(({ category, request, expected, actual, context }) => ({
      category,
      request,
      // The shared checker speaks of Express; the router here is Fastify's.
      context: context.replace(/Express/g, 'Fastify'),
      expected: expected.replace(/Express/g, 'Fastify'),
      actual,
    })),
  ).toEqual([]);
}

/**
 * The violations the families found, reduced to one route set and one request each and checked
 * by the same checker. Each fails while the module has the bug it describes, and guards against
 * its return once fixed.
 */
describe('router oracle on Fastify: the violations found', () => {
  // Reduced from the [versions] family (seed 20261204, run 2). `/` matches `/:id` with an empty
  // parameter: Nest answers 404 for every method, no route serves the path, so rule 11 gives a
  // preflight the module defaults (fallback.test approved for POST). The module answers 403
  // ("method not served"): the table's candidates skip the PUT route for POST, find none, and
  // deny, although the only route "there" never runs.
  it('a preflight at a path only an empty-parameter match reaches gets the module defaults', async () => {
    const spec = appSpec([
      {
        kind: 'plain',
        n: 0,
        paths: [''],
        routes: [{ verb: 'PUT', paths: [':id'], cors: DEFAULT }],
      },
    ]);
    await expectNoViolation(spec, { method: 'POST', path: '/' });
  });

  // Reduced from the [versions] family (seed 20261204, run 1). For `POST /docs/new` with host
  // a.test, Fastify matches C0's route, bound to b.test: Nest answers 404, so the module defaults
  // answer the preflight (right), but with their whole method list (GET, HEAD, PUT, PATCH, POST,
  // DELETE) although `PUT /docs/new` runs C1.m0, whose policy refuses fallback.test (rule 5: a
  // method is listed only under a policy that allows the origin). The table's 'not-found' answer
  // (other host, or an empty parameter) fell back to the defaults' own, path-blind, list.
  // (Fixed in the working tree while these tests were written: `notFoundPreflight`.)
  it('the module defaults list no method another route serves at that path', async () => {
    const spec = appSpec([
      {
        kind: 'plain',
        n: 0,
        paths: ['docs'],
        host: 'b.test',
        routes: [{ verb: 'POST', paths: ['new'], cors: DEFAULT }],
      },
      {
        kind: 'plain',
        n: 1,
        paths: ['docs'],
        routes: [{ verb: 'PUT', paths: [':id'], cors: own(1) }],
      },
    ]);
    await expectNoViolation(spec, { method: 'POST', path: '/docs/new', host: 'a.test' });
  });

  // The mirror's HEAD bug (see test/routing/fastify-mirror.spec.ts) end to end: `HEAD /` matches
  // `/:id` (the automatic HEAD route of C0.m1) with an empty parameter, a 404. The module
  // passes over that route (the empty-parameter copy is not in its HEAD-route set) and decides
  // the HEAD preflight with C0.m0 (`/*`, r1.test): approved for r1.test, denied for the
  // defaults' origin. Expected: the module defaults.
  it('a HEAD preflight where the GET route Fastify matches has an empty parameter', async () => {
    const spec = appSpec([
      {
        kind: 'plain',
        n: 0,
        paths: [''],
        routes: [
          { verb: 'GET', paths: ['*'], cors: own(1) },
          { verb: 'GET', paths: [':id'], cors: own(2) },
        ],
      },
    ]);
    await expectNoViolation(spec, { method: 'HEAD', path: '/' });
  });

  // Found by the [versions] family (seed 100). Two PUT routes at `/items/x`, versions 1+2 (r1)
  // and 2 (r2). Fastify (find-my-way, Nest's version constraint) runs, among the versioned
  // handlers of a path that match a request's version, the last registered: version 1 runs
  // m0, version 2 runs m1. A preflight, which carries no version, has both as candidates and
  // must be approved for neither origin alone. The table tries versioned routes first-come
  // and drops m1 as "always taken first by m0": it approves the preflight for r1.test, whose
  // PUT then runs m1 (r2 only) for version 2 — and refuses it for r2.test.
  it('a preflight over versions: the last registered versioned route wins on Fastify', async () => {
    const spec = appSpec(
      [
        {
          kind: 'plain',
          n: 0,
          paths: ['items'],
          routes: [
            { verb: 'PUT', paths: ['x'], version: ['1', '2'], cors: own(1) },
            { verb: 'PUT', paths: ['x'], version: ['2'], cors: own(2) },
          ],
        },
      ],
      'header',
    );
    await expectNoViolation(spec, { method: 'PUT', path: '/items/x' });
  });

  // Found by the [versions] family (seed 100, run 16), reduced. S0 and S1 share B's POST route
  // at `/docs/new`, bound to b.test with version 2 and to a.test with version 1. For a.test,
  // Fastify runs S1 (r2.test's) for version 1 and answers 404 otherwise: the preflight must be
  // approved for r2.test, and for nobody else. The table looks at S0 first, sees another host,
  // and stops there ("a 404 whatever the version"): the module defaults decide, approving
  // fallback.test and refusing r2.test. But Fastify only reaches S0 for version 2.
  it('a preflight over versions: a host-bound route of another version does not end the search', async () => {
    const spec = appSpec(
      [
        {
          kind: 'family',
          n: 0,
          routes: [{ verb: 'POST', paths: ['new'], cors: DEFAULT }],
          subs: [
            { paths: ['docs'], host: 'b.test', version: '2', cors: own(1) },
            { paths: ['docs'], host: 'a.test', version: '1', cors: own(2) },
          ],
        },
      ],
      'header',
    );
    await expectNoViolation(spec, { method: 'POST', path: '/docs/new', host: 'a.test' });
  });
});
