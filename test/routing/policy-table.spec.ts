/**
 * The policy table without Nest: which route decides an actual request and a preflight, in the
 * router's order, with host and version filters, CORS-off routes, and live policy swaps.
 */
import { describe, expect, it } from '@jest/globals';
import { CorsPolicy } from '../../lib/engine/cors-policy.js';
import { expressRouterMirror } from '../../lib/http/express.js';
import { PolicyTable, type TableRoute } from '../../lib/routing/policy-table.js';

const A = CorsPolicy.compile({ origin: 'https://a.test' });
const B = CorsPolicy.compile({ origin: 'https://b.test', credentials: true });
const ENFORCED = CorsPolicy.compile({ origin: 'https://e.test', enforce: true });
const FALLBACK = CorsPolicy.compile({ origin: 'https://fallback.test' });

class Ctl {}

type Spec = Partial<TableRoute> & Pick<TableRoute, 'method' | 'path'>;

function table(
  specs: Spec[],
  fallback: CorsPolicy | null = FALLBACK,
  paths: Array<{ path: string; policy: CorsPolicy | null; source: string }> = [],
): PolicyTable {
  const routes = specs.map((spec, order) => ({
    controller: Ctl,
    handler: () => order,
    name: `Ctl.r${order}`,
    order,
    policy: A,
    source: 'test',
    ...spec,
  }));
  return PolicyTable.build(
    routes,
    { policy: fallback, source: 'module' },
    expressRouterMirror({ caseSensitive: false, strict: false }),
    paths,
  );
}

const byVersion = (v: string) => (req: object) => (req as { v?: string }).v === v;
const byHost = (h: string) => (req: object) => (req as { host?: string }).host === h;

describe('PolicyTable.routeFor (actual requests)', () => {
  it('takes the first registered route that matches, as Express does', () => {
    const t = table([
      { method: 'GET', path: '/posts/:id', policy: A },
      { method: 'GET', path: '/posts/drafts', policy: B },
    ]);
    expect(t.routeFor('/posts/drafts', 'GET', {})?.order).toBe(0);
    expect(t.routeFor('/POSTS/drafts/', 'GET', {})?.order).toBe(0);
    expect(t.routeFor('/posts/drafts', 'PUT', {})).toBeUndefined();
  });

  it('serves HEAD with the first route that serves GET or HEAD', () => {
    const t = table([
      { method: 'GET', path: '/x', policy: A },
      { method: 'HEAD', path: '/x', policy: B },
    ]);
    expect(t.routeFor('/x', 'HEAD', {})?.order).toBe(0);
  });

  it('passes over routes whose host or version filter refuses the request', () => {
    const t = table([
      { method: 'GET', path: '/v', acceptsVersion: byVersion('1'), policy: A },
      { method: 'GET', path: '/v', acceptsHost: byHost('h.test'), policy: B },
      { method: 'GET', path: '/v', policy: FALLBACK },
    ]);
    expect(t.routeFor('/v', 'GET', { v: '1' })?.order).toBe(0);
    expect(t.routeFor('/v', 'GET', { host: 'h.test' })?.order).toBe(1);
    expect(t.routeFor('/v', 'GET', {})?.order).toBe(2);
  });

  it('stops where the router cannot decode a parameter', () => {
    const t = table([
      { method: 'GET', path: '/f/:name', policy: A },
      { method: 'GET', path: '/{*any}', policy: B },
    ]);
    expect(t.routeFor('/f/%zz', 'GET', {})).toBeUndefined();
    expect(t.routeFor('/f/%20', 'GET', {})?.order).toBe(0);
  });
});

describe('PolicyTable.preflightRoute', () => {
  it('is decided by the route that will run, never by the next one', () => {
    const t = table([
      { method: 'DELETE', path: '/items/:id', policy: B },
      { method: 'DELETE', path: '/items/mine', policy: A },
    ]);
    const target = t.preflightRoute('/items/mine', 'DELETE', {});
    expect(target).toMatchObject({ policies: [B] });
  });

  it('lists every version-filtered candidate up to the first unfiltered route', () => {
    const t = table([
      { method: 'GET', path: '/v', acceptsVersion: byVersion('1'), policy: A },
      { method: 'GET', path: '/v', acceptsVersion: byVersion('2'), policy: B },
      { method: 'GET', path: '/v', policy: FALLBACK },
      { method: 'GET', path: '/v', policy: ENFORCED },
    ]);
    expect(t.preflightRoute('/v', 'GET', {})).toMatchObject({ policies: [A, B, FALLBACK] });
  });

  it('leaves out a versioned route that earlier routes always take first', () => {
    const versioned = (v: string[]) => ({ acceptsVersion: () => true, versions: new Set(v) });
    const t = table([
      { method: 'GET', path: '/s', ...versioned(['1', '2']), policy: A },
      { method: 'GET', path: '/s', ...versioned(['2']), policy: B },
      { method: 'GET', path: '/s', ...versioned(['2', '3']), policy: FALLBACK },
    ]);
    // B accepts only version 2, which A takes first: B never runs.
    expect(t.preflightRoute('/s', 'GET', {})).toMatchObject({ policies: [A, FALLBACK] });
  });

  it('resolves host-bound routes by the preflight host', () => {
    const t = table([
      { method: 'PUT', path: '/h', acceptsHost: byHost('a.test'), policy: A },
      { method: 'PUT', path: '/h', policy: B },
    ]);
    expect(t.preflightRoute('/h', 'PUT', { host: 'a.test' })).toMatchObject({ policies: [A] });
    expect(t.preflightRoute('/h', 'PUT', { host: 'z.test' })).toMatchObject({ policies: [B] });
  });

  it('says why there is no policy to ask', () => {
    const t = table([
      { method: 'GET', path: '/off', policy: null },
      { method: 'PUT', path: '/off', policy: A },
      { method: 'GET', path: '/mixed', acceptsVersion: byVersion('1'), policy: null },
      { method: 'GET', path: '/mixed', policy: A },
    ]);
    // No route matches: the module defaults decide.
    expect(t.preflightRoute('/nothing', 'GET', {})).toMatchObject({ policies: [FALLBACK] });
    expect(t.preflightRoute('/off', 'DELETE', {})).toBe('method-not-served');
    expect(t.preflightRoute('/off', 'GET', {})).toBe('cors-off');
    expect(t.preflightRoute('/mixed', 'GET', {})).toBe('cors-off-candidate');
    expect(t.preflightRoute('/off', 'PUT', {})).toMatchObject({ policies: [A] });
  });

  it('offers the methods of the URL with the policy deciding each', () => {
    const t = table([
      { method: 'GET', path: '/m/:id', policy: A },
      { method: 'PUT', path: '/m/:id', policy: A },
      { method: 'DELETE', path: '/m/:id', policy: B },
      { method: 'PATCH', path: '/m/:id', acceptsVersion: byVersion('1'), policy: A },
      { method: 'PATCH', path: '/m/:id', policy: B },
    ]);
    const target = t.preflightRoute('/m/1', 'PUT', {});
    if (typeof target === 'string') throw new Error(target);
    expect(target.methods.map(({ method, policy }) => [method, policy])).toEqual([
      ['GET', A],
      ['PUT', A],
      ['DELETE', B],
    ]);
  });

  it('answers paths no route serves with the module defaults and their methods', () => {
    const t = table([]);
    const off = t.offRouteFor('/nowhere');
    expect(off.policy).toBe(FALLBACK);
    expect(t.preflightRoute('/nowhere', 'PATCH', {})).toMatchObject({
      policies: [FALLBACK],
      defaultMethods: true,
      routes: [off],
    });
    const decorated = table([], null);
    expect(decorated.preflightRoute('/nowhere', 'PATCH', {})).toBe('cors-off');
  });

  it('gives paths no route serves to the first matching `paths` entry', () => {
    const t = table([{ method: 'POST', path: '/graphql/:op', policy: A }], FALLBACK, [
      { path: '/graphql{/*rest}', policy: B, source: 'policy "public"' },
      { path: '/{*any}', policy: null, source: 'paths["/{*any}"]' },
    ]);
    expect(t.offRouteFor('/graphql').policy).toBe(B);
    expect(t.offRouteFor('/GraphQL/').policy).toBe(B);
    expect(t.offRouteFor('/other').policy).toBeNull();
    // A controller route keeps its own policy.
    expect(t.routeFor('/graphql/q', 'POST', {})?.policy).toBe(A);
    expect(t.preflightRoute('/graphql', 'POST', {})).toMatchObject({ policies: [B] });
    expect(t.preflightRoute('/other', 'POST', {})).toBe('cors-off');
    expect(t.withPolicies(new Map([[B, A]])).offRouteFor('/graphql').policy).toBe(A);
  });
});

describe('PolicyTable, guard and live updates', () => {
  it('knows the handlers whose routes enforce', () => {
    const shared = () => 'shared';
    const t = table([
      { method: 'GET', path: '/a', handler: shared, policy: A },
      { method: 'GET', path: '/b', handler: shared, policy: ENFORCED },
    ]);
    expect(t.enforcedRoutesOf(shared)?.map((r) => r.path)).toEqual(['/a', '/b']);
    expect(t.enforcedRoutesOf(() => 0)).toBeUndefined();
  });

  it('swaps policies into a new table and leaves the old one as it was', () => {
    const t = table([{ method: 'GET', path: '/a', policy: A }]);
    const next = t.withPolicies(
      new Map([
        [A, B],
        [FALLBACK, ENFORCED],
      ]),
    );
    expect(next.routeFor('/a', 'GET', {})?.policy).toBe(B);
    expect(next.fallback).toBe(ENFORCED);
    expect(t.routeFor('/a', 'GET', {})?.policy).toBe(A);
    expect(t.fallback).toBe(FALLBACK);
    expect(Object.isFrozen(t.routes)).toBe(true);
  });
});
