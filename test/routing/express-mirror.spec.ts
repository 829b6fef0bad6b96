/**
 * Differential test of the Express router mirror: random route sets are registered on a real
 * Express 5 application and in the policy table; for random request paths and methods, the
 * route the table says will run must be the route Express really runs (each handler names
 * itself in a header), or none where Express answers 404/400. Seeded, reproducible.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import fc from 'fast-check';
import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import parseUrl from 'parseurl';
import { expressRouterMirror } from '../../lib/http/express.js';
import { PolicyTable, type TableRoute } from '../../lib/routing/policy-table.js';

const SEED = Number(process.env.ORACLE_SEED ?? 20261130);
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

interface RouteSpec {
  method: (typeof METHODS)[number] | 'ALL';
  path: string;
}

const segment = fc.constantFrom(
  'a',
  'b',
  'users',
  'Users',
  'drafts',
  'me',
  ':id',
  ':x',
  '*rest',
  '{*all}',
  'file.:ext',
  '{:opt}',
  'a%20b',
);
const routePath = fc
  .tuple(fc.array(segment, { minLength: 0, maxLength: 3 }), fc.boolean())
  .map(([parts, slash]) => `/${parts.join('/')}${slash && parts.length > 0 ? '/' : ''}`);
const routeSpec = fc.record({
  method: fc.constantFrom(...METHODS, 'ALL' as const),
  path: routePath,
});
const fill = fc.constantFrom('1', 'drafts', 'a', 'Users', 'me', '%20', '%zz', 'x%2Fy', 'a.b', ';p');

/** A request path derived from a route pattern, then mutated. */
function requestPath(routes: RouteSpec[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom(...routes.map((r) => r.path)),
      fc.array(fill, { minLength: 4, maxLength: 4 }),
      fc.constantFrom('none', 'upper', 'slash', 'double', 'dotdot', 'query', 'strip'),
    )
    .map(([pattern, fills, mutation]) => {
      let i = 0;
      let path = pattern
        .replace(/\{\*all\}|\*rest/g, () => `${fills[i++ % 4]}/${fills[i++ % 4]}`)
        .replace(/\{:opt\}/g, () => (fills[i++ % 4] === '1' ? '' : fills[i++ % 4]))
        .replace(/:[a-z]+/g, () => fills[i++ % 4]);
      if (mutation === 'upper') path = path.toUpperCase();
      if (mutation === 'slash') path = path.endsWith('/') ? path.slice(0, -1) || '/' : `${path}/`;
      if (mutation === 'double') path = path.replace('/', '//');
      if (mutation === 'dotdot') path = `${path}/../a`;
      if (mutation === 'query') path = `${path}?q=/b`;
      if (mutation === 'strip') path = path.split('/').slice(0, -1).join('/') || '/';
      return path;
    });
}

let agent: Agent;
beforeAll(() => {
  agent = new Agent({ keepAlive: true, maxSockets: 4 });
});
afterAll(() => agent.destroy());

/** The id Express ran for (method, path): a number, or the status when no handler ran. */
function send(port: number, method: string, path: string): Promise<number | string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const id = res.headers['x-route'];
        resolve(id === undefined ? `status ${res.statusCode}` : Number(id));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(routes: RouteSpec[], caseSensitive: boolean, strict: boolean) {
  const app = express();
  app.set('case sensitive routing', caseSensitive);
  app.set('strict routing', strict);
  routes.forEach(({ method, path }, id) => {
    const verb = method.toLowerCase() as 'get';
    app[verb](path, (_req: express.Request, res: express.Response) => {
      res.setHeader('x-route', String(id));
      res.end();
    });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function tableOf(routes: RouteSpec[], caseSensitive: boolean, strict: boolean): PolicyTable {
  const rows: TableRoute[] = routes.map(({ method, path }, order) => ({
    method,
    path,
    order,
    controller: class Controller {},
    handler: () => order,
    name: `route ${order}`,
    policy: null,
    source: 'test',
  }));
  return PolicyTable.build(
    rows,
    { policy: null, source: 'module' },
    expressRouterMirror({ caseSensitive, strict }),
  );
}

/** Express rejects some patterns at registration; the table never sees those. */
function registrable(routes: RouteSpec[]): boolean {
  try {
    const app = express();
    for (const { method, path } of routes) app[method.toLowerCase() as 'get'](path, () => {});
    return true;
  } catch {
    return false;
  }
}

describe('the Express router mirror agrees with Express', () => {
  it('runs the same route (or none) for random route sets, paths and methods', async () => {
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .record({
            routes: fc.array(routeSpec, { minLength: 1, maxLength: 8 }),
            caseSensitive: fc.boolean(),
            strict: fc.boolean(),
          })
          .filter(({ routes }) => registrable(routes))
          .chain((config) =>
            fc.record({
              config: fc.constant(config),
              requests: fc.array(
                fc.tuple(requestPath(config.routes), fc.constantFrom(...METHODS)),
                { minLength: 10, maxLength: 25 },
              ),
            }),
          ),
        async ({ config, requests }) => {
          const { routes, caseSensitive, strict } = config;
          const table = tableOf(routes, caseSensitive, strict);
          const { server, port } = await serve(routes, caseSensitive, strict);
          try {
            for (const [path, method] of requests) {
              const real = await send(port, method, path);
              const pathname = parseUrl({ url: path } as never)?.pathname as string;
              const mirrored = table.routeFor(pathname, method, {});
              cases++;
              const expected = typeof real === 'number' ? real : undefined;
              expect({
                routes,
                caseSensitive,
                strict,
                method,
                path,
                route: mirrored?.order,
              }).toEqual({
                routes,
                caseSensitive,
                strict,
                method,
                path,
                route: expected,
              });
            }
          } finally {
            await new Promise((resolve) => server.close(resolve));
          }
        },
      ),
      { seed: SEED, numRuns: 120 },
    );
    expect(cases).toBeGreaterThan(1000);
  }, 60_000);
});
