/**
 * Differential test of the Fastify router mirror (lib/http/fastify.ts), cors-rules §2 item 10:
 * random route sets in Fastify syntax (static, `:id`, `:lat-:lng`, `:id(^\\d+)`, `*`, several
 * methods, `ALL`, GET with its automatic HEAD) are registered on a plain `fastify()` instance
 * with random router options (caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes,
 * useSemicolonDelimiter; exposeHeadRoutes) and in a policy table built with the mirror the
 * module builds from that very instance (`fastifyAdapter(...).routerFactory()`). For random
 * request paths derived from the routes (percent-encoding, trailing and duplicate slashes, case
 * changes, query strings, semicolons, empty and over-long parameters) and every method,
 * Fastify's own request handling is the oracle: the route `routeFor` picks must be the one whose
 * handler ran (none on a 404, 400 or 414), `preflightRoute` must name that same route (or the
 * module defaults where none runs), and every method its Access-Control-Allow-Methods list names
 * must run, there, the route of the policy it is listed with.
 *
 * Seeded and reproducible: ORACLE_SEED=<n> changes the seed (fast-check prints the seed and the
 * shrunk counterexample on failure), ORACLE_RUNS the number of route sets, ORACLE_VERBOSE=1
 * prints the counts. The disagreements found so far are pinned by the examples at the end; until
 * they are fixed the property fails on them too, unless ORACLE_KNOWN=tolerate (then it counts
 * them and goes on looking for others).
 */
import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  comparePath,
  fastifyOptions,
  METHODS,
  noneTolerated,
  pathSeedArb,
  register,
  registrable,
  requestPath,
  routeArb,
  settingsArb,
  tableFor,
  type RouteSpec,
} from './fastify-mirror.support.js';

const SEED = process.env.ORACLE_SEED === undefined ? 20261201 : Number(process.env.ORACLE_SEED);
const RUNS = Number(process.env.ORACLE_RUNS ?? 150);
/** Count the known disagreements (the examples below) instead of failing on them, to explore. */
const TOLERATE_KNOWN = process.env.ORACLE_KNOWN === 'tolerate';

describe('the Fastify router mirror agrees with Fastify', () => {
  it('picks the route whose handler Fastify runs (or none), for actual requests and preflights', async () => {
    let cases = 0;
    let paths = 0;
    const tolerated = TOLERATE_KNOWN ? noneTolerated() : undefined;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(
        fc
          .record({
            routes: fc.array(routeArb, { minLength: 1, maxLength: 8 }),
            settings: settingsArb,
          })
          .filter(({ routes, settings }) => registrable(routes, settings))
          .chain((config) =>
            fc.record({
              config: fc.constant(config),
              seeds: fc.array(pathSeedArb, { minLength: 8, maxLength: 16 }),
            }),
          ),
        async ({ config, seeds }) => {
          const { routes, settings } = config;
          const app = register(routes, fastifyOptions(settings));
          try {
            await app.ready();
            const table = tableFor(app, routes);
            for (const seed of seeds) {
              const path = requestPath(routes, seed);
              const context = { seed: SEED, routes, settings };
              cases += await comparePath(app, table, context, path, tolerated);
              paths++;
            }
          } finally {
            await app.close();
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    if (process.env.ORACLE_VERBOSE === '1') {
      console.log(
        `fastify mirror: seed ${SEED}, ${RUNS} route sets, ${paths} paths, ${cases} cases, ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s` +
          (tolerated === undefined
            ? ''
            : `; known disagreements met: ${JSON.stringify(tolerated)}`),
      );
    }
    expect(cases).toBeGreaterThanOrEqual(RUNS * 8 * METHODS.length);
  }, 120_000);
});

/** One route set, one path, every method, no tolerance: each disagreement fails. */
async function example(
  routes: RouteSpec[],
  path: string,
  options: Parameters<typeof register>[1] = fastifyOptions({
    caseSensitive: true,
    ignoreTrailingSlash: false,
    ignoreDuplicateSlashes: false,
    useSemicolonDelimiter: false,
    exposeHeadRoutes: true,
  }),
): Promise<void> {
  const app = register(routes, options);
  try {
    await app.ready();
    await comparePath(app, tableFor(app, routes), { routes, options }, path);
  } finally {
    await app.close();
  }
}

/**
 * The disagreements the property found, each as one route set and one path, every method checked
 * with no tolerance. Each fails while the module has the bug it describes (cors-rules §2 items
 * 5, 10, 11), and guards against its return once fixed.
 */
describe('Fastify router mirror: the disagreements found', () => {
  // The property's counterexample (seed 4, 600 runs), shrunk. `/` matches `/:p0` with an empty
  // parameter, which Fastify tries before `/*`: for GET and HEAD the handler of `/:p0` runs and
  // Nest answers 404. The table agrees for GET, but a HEAD preflight names `/*` (route 0), whose
  // handler never runs for `HEAD /`: the mirror's `serves(route, 'HEAD')` looks the route up in
  // `headRoutes`, but `routesAt` hands it the route's empty-parameter copy (`notFound: true`),
  // which is not in that set, so the route is passed over. Expected: the module defaults (the
  // same copy also lists HEAD under `/*`'s policy in Access-Control-Allow-Methods elsewhere).
  it('HEAD preflight where the GET route Fastify matches has an empty parameter', async () => {
    await example(
      [
        { method: 'GET', path: '/*' },
        { method: 'GET', path: '/:p0' },
      ],
      '/',
    );
  });

  // `/a/` matches `/a/:p0` with an empty parameter: a 404 for every method (no handler serves
  // the path at all), so rule 11 gives the module defaults — which the table does for POST
  // (the route's own method), but for GET, PUT… it answers 'method-not-served' (a 403): its
  // candidates skip the POST route, find none, and deny as if the path were served for another
  // method. Expected: the module defaults (approving GET, PUT… for their origin).
  it('a preflight at a path only an empty-parameter match reaches gets the module defaults', async () => {
    await example([{ method: 'POST', path: '/a/:p0' }], '/a/');
  });

  // `HEAD /` matches `/:p0` (an explicit HEAD route) with an empty parameter: a 404, so the
  // module defaults answer the HEAD preflight — with the defaults' method list (GET, HEAD, PUT,
  // PATCH, POST, DELETE), although at `/` every other method runs route 1 (`ALL /*`), whose
  // policy refuses the defaults' origin. Rule 5: Access-Control-Allow-Methods lists only the
  // methods the path serves under policies that allow the origin. Expected: PUT, PATCH, POST,
  // DELETE (and GET) not listed with the defaults' policy. (Fixed in the working tree while
  // these tests were written: `notFoundPreflight` lists the requested method only.)
  it('the module defaults list no method another route serves at that path', async () => {
    await example(
      [
        { method: 'HEAD', path: '/:p0' },
        { method: 'ALL', path: '/*' },
      ],
      '/',
    );
  });

  // A Fastify instance passed to `new FastifyAdapter(instance)` may carry its router options at
  // the top level (deprecated in Fastify 5, still applied): `initialConfig.routerOptions` is
  // then absent, and the mirror, which reads only that, matches case-sensitively and strictly
  // while the router does not. (Nest's own adapter reads both: `getRouteMatchingOptions()`.)
  // `GET /USERS/` runs route 0; expected: the table names route 0, actual: none (the module
  // defaults' policy decides the request). Fastify logs its FSTDEP022 deprecation warning here.
  it('router options given at the top level of a Fastify instance', async () => {
    await example([{ method: 'GET', path: '/users' }], '/USERS/', {
      caseSensitive: false,
      ignoreTrailingSlash: true,
    });
  });
});
