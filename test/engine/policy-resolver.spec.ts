/**
 * PolicyResolver without Nest: module options that are missing or not options are boot errors,
 * `@Cors()` values are checked, problems are typed (code, value, source) and reported once where
 * they were declared, the `headers` alias merges as one setting with `allowedHeaders`, and the
 * error sink reaches every origin function with the place it was declared.
 */
import { describe, expect, it } from '@jest/globals';
import { DENIED } from '../../lib/engine/cors-policy.js';
import type { CorsConfigProblem } from '../../lib/engine/errors.js';
import type {
  CorsDecoratorValue,
  CorsModuleOptions,
  CorsOriginFunction,
} from '../../lib/interfaces/cors-options.interface.js';
import { PolicyResolver } from '../../lib/routing/policy-resolver.js';

const ORIGIN = 'https://app.example';

/** code, where, source and value of each problem (value omitted when there is none). */
function shape(problems: readonly CorsConfigProblem[]): unknown[] {
  return problems.map((p) =>
    'value' in p ? [p.code, p.where, p.source, p.value] : [p.code, p.where, p.source],
  );
}

const MODULE = { kind: 'module' };
const route = (controller: string, handler?: string) =>
  handler === undefined ? { kind: 'route', controller } : { kind: 'route', controller, handler };

/** Resolves `UsersController.<handler>` with these decorator values. */
function resolveRoute(
  resolver: PolicyResolver,
  controllerValue: CorsDecoratorValue | undefined,
  routeValue: CorsDecoratorValue | undefined,
  handler = 'list',
) {
  return resolver.resolve(
    controllerValue,
    routeValue,
    'UsersController',
    `UsersController.${handler}`,
  );
}

describe('module options that are not options (defect 5)', () => {
  it.each([undefined, null])(
    'a forRootAsync factory returning %p is an error, not the defaults',
    (options) => {
      const resolver = new PolicyResolver(options);
      expect(shape(resolver.problems.errors)).toEqual([
        ['missing-module-options', 'module', MODULE, options],
      ]);
      expect(resolver.problems.errors[0].message).toBe(
        `module options are missing: the forRootAsync factory returned ${String(options)} (return an options object, {} for the defaults)`,
      );
    },
  );

  it('a function (the enableCors options delegate) is an error', () => {
    const delegate = (_req: unknown, cb: (e: null, o: object) => void) => cb(null, {});
    const resolver = new PolicyResolver(delegate as unknown as CorsModuleOptions);
    expect(shape(resolver.problems.errors)).toEqual([
      ['options-not-object', 'module', MODULE, delegate],
    ]);
    expect(resolver.problems.errors[0].message).toMatch(/delegate/);
  });

  it.each([[['https://a.example']], ['https://a.example'], [42]])(
    'a non-object (%p) is an error',
    (options) => {
      const resolver = new PolicyResolver(options as unknown as CorsModuleOptions);
      expect(shape(resolver.problems.errors)).toEqual([
        ['options-not-object', 'module', MODULE, options],
      ]);
    },
  );

  it('routes, debug and policies of the wrong type; a named policy that is a function', () => {
    const fn = () => ({});
    const resolver = new PolicyResolver({
      routes: 'some',
      debug: 'yes',
      policies: { admin: fn, ok: { origin: [ORIGIN] } },
    } as unknown as CorsModuleOptions);
    expect(shape(resolver.problems.errors)).toEqual([
      ['invalid-routes', 'module', MODULE, 'some'],
      ['invalid-boolean', 'module', MODULE, 'yes'],
      ['options-not-object', 'policy "admin"', { kind: 'policy', name: 'admin' }, fn],
    ]);
    const list = new PolicyResolver({ policies: ['admin'] } as unknown as CorsModuleOptions);
    expect(shape(list.problems.errors)).toEqual([
      ['invalid-policies', 'module', MODULE, ['admin']],
    ]);
  });

  it('valid options, and {} , report nothing', () => {
    expect(new PolicyResolver({}).problems.errors).toEqual([]);
    const resolver = new PolicyResolver({ origin: [ORIGIN], policies: { a: { maxAge: 5 } } });
    expect(resolver.problems.errors).toEqual([]);
    expect(resolver.problems.warnings).toEqual([]);
  });
});

describe('@Cors() values', () => {
  it.each<[string, unknown]>([
    ['a number', 5],
    ['true', true],
    ['null', null],
    ['an array', ['admin']],
    ['a function', () => ({})],
  ])('%s is an error at the controller or the route that declared it', (_, value) => {
    const resolver = new PolicyResolver({ origin: [ORIGIN] });
    resolveRoute(resolver, value as CorsDecoratorValue, undefined);
    resolveRoute(resolver, undefined, value as CorsDecoratorValue, 'remove');
    expect(shape(resolver.problems.errors)).toEqual([
      ['invalid-decorator-value', 'UsersController', route('UsersController'), value],
      [
        'invalid-decorator-value',
        'UsersController.remove',
        route('UsersController', 'remove'),
        value,
      ],
    ]);
  });

  it('an unknown policy name is an error with the name as value', () => {
    const resolver = new PolicyResolver({ policies: { admin: {} } });
    const resolved = resolveRoute(resolver, undefined, 'admn', 'remove');
    expect(resolved.policy).toBeNull();
    expect(shape(resolver.problems.errors)).toEqual([
      ['unknown-policy', 'UsersController.remove', route('UsersController', 'remove'), 'admn'],
    ]);
    expect(resolver.problems.errors[0].message).toBe('unknown policy "admn" (known: admin)');
  });
});

describe('each problem reported once, where it was declared', () => {
  it('inherited from the module defaults: once at the module, not at every route', () => {
    const resolver = new PolicyResolver({ origin: 'https://a.example/', maxAge: 8000 });
    resolveRoute(resolver, undefined, { maxAge: 5 }, 'a');
    resolveRoute(resolver, undefined, { enforce: true }, 'b');
    resolveRoute(resolver, { preflightContinue: true }, undefined);
    expect(shape(resolver.problems.errors)).toEqual([
      ['origin-has-trailing-slash', 'module', MODULE, 'https://a.example/'],
    ]);
    // The module's maxAge warning is not repeated where a route inherits it.
    expect(shape(resolver.problems.warnings)).toEqual([
      ['max-age-above-browser-cap', 'module', MODULE, 8000],
    ]);
  });

  it('inherited from a named policy: once at the policy', () => {
    const resolver = new PolicyResolver({
      origin: [ORIGIN],
      policies: { admin: { origin: ['example.com'] } },
    });
    resolveRoute(resolver, 'admin', { maxAge: 5 }, 'a');
    resolveRoute(resolver, { enforce: true }, 'admin', 'b');
    expect(shape(resolver.problems.errors)).toEqual([
      ['origin-without-scheme', 'policy "admin"', { kind: 'policy', name: 'admin' }, 'example.com'],
    ]);
  });

  it('inherited from a controller-level @Cors: once at the controller', () => {
    const resolver = new PolicyResolver({ origin: [ORIGIN] });
    const controller = { origin: ['https://c.example/'] };
    resolveRoute(resolver, controller, undefined, 'a');
    resolveRoute(resolver, controller, { maxAge: 5 }, 'b');
    resolveRoute(resolver, controller, { enforce: true }, 'c');
    expect(shape(resolver.problems.errors)).toEqual([
      [
        'origin-has-trailing-slash',
        'UsersController',
        route('UsersController'),
        'https://c.example/',
      ],
    ]);
  });

  it('the same mistake declared at two routes is reported at each', () => {
    const resolver = new PolicyResolver({ origin: [ORIGIN] });
    resolveRoute(resolver, undefined, { origin: 'https://a.com/' }, 'a');
    resolveRoute(resolver, undefined, { origin: 'https://a.com/' }, 'b');
    expect(shape(resolver.problems.errors)).toEqual([
      [
        'origin-has-trailing-slash',
        'UsersController.a',
        route('UsersController', 'a'),
        'https://a.com/',
      ],
      [
        'origin-has-trailing-slash',
        'UsersController.b',
        route('UsersController', 'b'),
        'https://a.com/',
      ],
    ]);
  });

  it('a problem made by merging (module origin + route credentials) is reported at the route', () => {
    const resolver = new PolicyResolver({ origin: '*' });
    resolveRoute(resolver, undefined, { credentials: true }, 'a');
    expect(shape(resolver.problems.errors)).toEqual([
      ['wildcard-with-credentials', 'UsersController.a', route('UsersController', 'a'), '*'],
    ]);
  });

  it('a route value different from the inherited one is its own problem', () => {
    const resolver = new PolicyResolver({ maxAge: 8000 });
    resolveRoute(resolver, undefined, { maxAge: 9000 }, 'a');
    expect(shape(resolver.problems.warnings)).toEqual([
      ['max-age-above-browser-cap', 'module', MODULE, 8000],
      ['max-age-above-browser-cap', 'UsersController.a', route('UsersController', 'a'), 9000],
    ]);
  });

  it('a named policy merged over route options is reported at the route', () => {
    const resolver = new PolicyResolver({
      origin: [ORIGIN],
      policies: { open: { origin: '*' } },
    });
    const resolved = resolveRoute(resolver, { credentials: true }, 'open', 'a');
    expect(resolved.source).toBe('UsersController.a + policy "open"');
    expect(shape(resolver.problems.errors)).toEqual([
      [
        'wildcard-with-credentials',
        'UsersController.a + policy "open"',
        route('UsersController', 'a'),
        '*',
      ],
    ]);
  });
});

describe("the 'headers' alias merges as one setting with allowedHeaders", () => {
  it('a route allowedHeaders replaces the module headers, and the reverse', () => {
    const a = new PolicyResolver({ headers: 'x-a' });
    const routeA = resolveRoute(a, undefined, { allowedHeaders: 'x-b' });
    expect(a.problems.errors).toEqual([]);
    expect(routeA.policy?.describe().allowedHeaders).toEqual(['x-b']);
    expect(a.fallback.policy?.describe().allowedHeaders).toEqual(['x-a']);

    const b = new PolicyResolver({ allowedHeaders: 'x-a' });
    const routeB = resolveRoute(b, undefined, { headers: ['x-c'] });
    expect(b.problems.errors).toEqual([]);
    expect(routeB.policy?.describe().allowedHeaders).toEqual(['x-c']);
  });

  it('both given at one place and different: an error there', () => {
    const resolver = new PolicyResolver({});
    resolveRoute(resolver, undefined, { headers: 'x-a', allowedHeaders: 'x-b' }, 'a');
    expect(shape(resolver.problems.errors)).toEqual([
      ['conflicting-headers-alias', 'UsersController.a', route('UsersController', 'a'), 'x-a'],
    ]);
  });
});

describe('origin function errors go to the sink, labelled with where the function was declared', () => {
  const throwing: CorsOriginFunction = () => {
    throw new Error('boom');
  };

  it('module, named policy and inline functions', () => {
    const lines: string[] = [];
    const resolver = new PolicyResolver(
      { origin: throwing, policies: { tenants: { origin: throwing, credentials: true } } },
      (m) => lines.push(m),
    );
    expect(resolver.problems.errors).toEqual([]);
    expect(resolver.fallback.policy?.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    // A route that merges the module's function with credentials compiles its own rule, but
    // the function was declared in the module.
    const merged = resolveRoute(resolver, undefined, { credentials: true }, 'a');
    expect(merged.policy?.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    const named = resolveRoute(resolver, undefined, 'tenants', 'b');
    expect(named.policy?.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    const inline = resolveRoute(resolver, undefined, { origin: throwing }, 'c');
    expect(inline.policy?.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    expect(lines).toEqual([
      'module: the origin function threw: boom',
      'module: the origin function threw: boom',
      'policy "tenants": the origin function threw: boom',
      'UsersController.c: the origin function threw: boom',
    ]);
  });
});
