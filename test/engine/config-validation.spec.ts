/**
 * Boot-time validation of a policy (cors-rules.md §2 item 8): every error, every warning, one error
 * listing every problem with where it was declared, and the canonicalisation of configured origins.
 * Each problem has a stable code, the offending value and a structured source besides its text.
 */
import { describe, expect, it } from '@jest/globals';
import { CorsConfigError, CorsPolicy } from '../../lib/engine/cors-policy.js';
import {
  placeOf,
  ProblemList,
  type CorsConfigProblem,
  type CorsProblemCode,
} from '../../lib/engine/errors.js';
import type { CorsPolicyOptions } from '../../lib/interfaces/cors-options.interface.js';

const WHERE = 'policy "t"';
const SOURCE = { kind: 'policy', name: 't' };

/** No expectation on the value (`NO_VALUE`) vs an expected value (`undefined` included). */
const ANY_VALUE = Symbol('any value');

function check(options: CorsPolicyOptions, where = WHERE): ProblemList {
  const problems = new ProblemList();
  CorsPolicy.compileInto(options, where, problems);
  return problems;
}

function expectShape(
  p: CorsConfigProblem,
  code: CorsProblemCode,
  value: unknown,
  message?: RegExp,
): void {
  expect(p.code).toBe(code);
  expect(p.where).toBe(WHERE);
  expect(p.source).toEqual(SOURCE);
  if (value !== ANY_VALUE) {
    expect('value' in p).toBe(true);
    expect(p.value).toEqual(value);
  }
  if (message) expect(p.message).toMatch(message);
}

/**
 * `options` compile to exactly one error with `code` about `value` (its message matching
 * `message`), and `compile()` throws it.
 */
function expectOneError(
  options: CorsPolicyOptions,
  code: CorsProblemCode,
  value: unknown = ANY_VALUE,
  message?: RegExp,
): CorsConfigProblem {
  const problems = check(options);
  expect(problems.errors).toHaveLength(1);
  expectShape(problems.errors[0], code, value, message);
  let thrown: unknown;
  try {
    CorsPolicy.compile(options, WHERE);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(CorsConfigError);
  const error = thrown as CorsConfigError;
  expect(error.problems).toHaveLength(1);
  expect(error.problems[0].code).toBe(code);
  expect(error.message).toContain(`${WHERE}: ${problems.errors[0].message}`);
  return problems.errors[0];
}

/** `options` compile without an error and without a warning. */
function expectClean(options: CorsPolicyOptions): CorsPolicy {
  const problems = check(options);
  expect(problems.errors).toEqual([]);
  expect(problems.warnings).toEqual([]);
  return CorsPolicy.compile(options, WHERE);
}

/** `options` compile without an error and with exactly one warning with `code`. */
function expectOneWarning(
  options: CorsPolicyOptions,
  code: CorsProblemCode,
  value: unknown = ANY_VALUE,
  message?: RegExp,
): CorsConfigProblem {
  const problems = check(options);
  expect(problems.errors).toEqual([]);
  expect(problems.warnings).toHaveLength(1);
  expectShape(problems.warnings[0], code, value, message);
  expect(() => CorsPolicy.compile(options, WHERE)).not.toThrow();
  return problems.warnings[0];
}

async function allowOrigin(policy: CorsPolicy, origin: string): Promise<string | undefined> {
  const d = await policy.decide({ method: 'GET', headers: { origin } });
  return d.headers['Access-Control-Allow-Origin'];
}

describe('configuration errors', () => {
  it("origin '*' with credentials (explicit)", () => {
    expectOneError(
      { origin: '*', credentials: true },
      'wildcard-with-credentials',
      '*',
      /'\*'.*credentials|credentials.*'\*'/,
    );
    expectClean({ origin: '*', credentials: false });
  });

  it("credentials with the default origin (omitted = '*')", () => {
    const p = expectOneError({ credentials: true }, 'wildcard-with-credentials');
    // No origin was configured: there is no offending origin value.
    expect('value' in p).toBe(false);
    expectOneError({ credentials: true, origin: undefined }, 'wildcard-with-credentials');
    expectClean({ credentials: true, origin: 'https://example.com' });
    expectClean({});
  });

  it('an origin without scheme', () => {
    expectOneError({ origin: 'example.com' }, 'origin-without-scheme', 'example.com', /scheme/);
    expectOneError(
      { origin: ['https://ok.example', 'localhost:3000'] },
      'origin-without-scheme',
      'localhost:3000',
    );
    expectOneError({ origin: '//example.com' }, 'origin-without-scheme', '//example.com');
  });

  it('an origin with a path', () => {
    expectOneError(
      { origin: 'https://example.com/app' },
      'origin-has-path',
      'https://example.com/app',
      /path/,
    );
    expectOneError(
      { origin: 'https://example.com/?x=1' },
      'origin-has-path',
      'https://example.com/?x=1',
    );
  });

  it('an origin with a trailing slash', () => {
    expectOneError(
      { origin: 'https://example.com/' },
      'origin-has-trailing-slash',
      'https://example.com/',
      /trailing slash/,
    );
  });

  it('an origin with the default port (http :80, https :443)', () => {
    expectOneError(
      { origin: 'http://example.com:80' },
      'origin-default-port',
      'http://example.com:80',
      /default port/,
    );
    expectOneError(
      { origin: 'https://example.com:443' },
      'origin-default-port',
      'https://example.com:443',
    );
    // Not the default port of the scheme: valid.
    expectClean({ origin: ['http://example.com:443', 'https://example.com:80'] });
  });

  it('other malformed origins: user info, bad port, misplaced "*", bad host, wildcard over an IP', () => {
    expectOneError(
      { origin: 'https://u:p@example.com' },
      'origin-has-userinfo',
      'https://u:p@example.com',
    );
    expectOneError(
      { origin: 'https://example.com:99999' },
      'origin-invalid-port',
      'https://example.com:99999',
    );
    expectOneError(
      { origin: 'https://a.*.example.com' },
      'origin-invalid-wildcard',
      'https://a.*.example.com',
    );
    expectOneError(
      { origin: 'https://exa_mple..com' },
      'origin-invalid-host',
      'https://exa_mple..com',
    );
    expectOneError({ origin: 'https://*.10.0.0.1' }, 'origin-ip-wildcard', 'https://*.10.0.0.1');
    expectOneError({ origin: [''] }, 'empty-origin', '');
  });

  it('several origins in one string (comma, space)', () => {
    expectOneError(
      { origin: 'https://a.example,https://b.example' },
      'origin-has-several-values',
      'https://a.example,https://b.example',
      /several|one origin/,
    );
    expectOneError(
      { origin: 'https://a.example https://b.example' },
      'origin-has-several-values',
      'https://a.example https://b.example',
    );
    expectOneError(
      { origin: ['https://a.example, https://b.example'] },
      'origin-has-several-values',
      'https://a.example, https://b.example',
    );
  });

  it('a bare wildcard *.example.com', () => {
    expectOneError(
      { origin: '*.example.com' },
      'origin-bare-wildcard',
      '*.example.com',
      /wildcard/,
    );
    expectOneError({ origin: ['*.example.com'] }, 'origin-bare-wildcard', '*.example.com');
  });

  it("'*' inside an origin list", () => {
    expectOneError({ origin: ['https://a.example', '*'] }, 'wildcard-in-origin-list', '*');
  });

  it("'null' with credentials", () => {
    expectOneError(
      { origin: ['null'], credentials: true },
      'null-with-credentials',
      'null',
      /null/,
    );
    expectOneError({ origin: 'null', credentials: true }, 'null-with-credentials', 'null');
    expectClean({ origin: ['null'] });
  });

  it('file:// with credentials (§2 item 8: null/file:// with credentials is an error)', () => {
    expectOneError(
      { origin: ['file://'], credentials: true },
      'file-origin-with-credentials',
      'file://',
    );
    expect(() => CorsPolicy.compile({ origin: ['file://'], credentials: true }, WHERE)).toThrow(
      CorsConfigError,
    );
  });

  it('a wildcard over a public suffix with credentials', () => {
    expectOneError(
      { origin: 'https://*.com', credentials: true },
      'public-suffix-wildcard-with-credentials',
      'https://*.com',
      /public suffix/,
    );
    expectOneError(
      { origin: ['https://*.co.uk'], credentials: true },
      'public-suffix-wildcard-with-credentials',
      'https://*.co.uk',
    );
    // A registrable domain under the wildcard is fine with credentials.
    expectClean({
      origin: ['https://*.example.com', 'https://*.example.co.uk'],
      credentials: true,
    });
  });

  it('origin arrays holding booleans, null, numbers or objects (defect 5)', () => {
    for (const item of [true, false, null, 0, 42, { origin: 'https://a.example' }]) {
      const p = expectOneError(
        { origin: ['https://a.example', item] as unknown as string[] },
        'invalid-origin-item',
        item,
        /strings or RegExps/,
      );
      expect(p.message).toContain(item === null ? 'null' : typeof item);
    }
  });

  it('an origin that is neither a string, RegExp, boolean, array nor function', () => {
    for (const value of [null, 42, { a: 1 }]) {
      expectOneError({ origin: value as unknown as string }, 'invalid-origin', value);
    }
  });

  it('forbidden methods CONNECT, TRACE, TRACK in any case', () => {
    for (const m of ['CONNECT', 'TRACE', 'TRACK', 'connect', 'Trace', 'tRaCk']) {
      expectOneError({ methods: ['GET', m] }, 'forbidden-method', m, /forbidden/);
      expectOneError({ methods: `GET, ${m}` }, 'forbidden-method', m);
    }
  });

  it('invalid method tokens', () => {
    for (const m of ['GE T', 'GET()', 'P/UT', 'DELETE;', 'gét']) {
      expectOneError({ methods: ['GET', m] }, 'invalid-method', m, /method/);
    }
    expectClean({ methods: ['GET', 'PURGE', 'M-SEARCH'] });
  });

  it('methods / allowedHeaders / exposedHeaders that are not a string or a string array', () => {
    expectOneError({ methods: 5 as unknown as string }, 'invalid-list', 5, /methods/);
    expectOneError(
      { allowedHeaders: [1] as unknown as string[] },
      'invalid-list',
      [1],
      /allowedHeaders/,
    );
    expectOneError(
      { exposedHeaders: {} as unknown as string },
      'invalid-list',
      {},
      /exposedHeaders/,
    );
  });

  it("empty items in methods, allowedHeaders and exposedHeaders ('a,,b', ['a', ''], blanks) (defect 5)", () => {
    const lists: unknown[] = [
      'GET,,POST',
      ['GET', ''],
      ['GET', '  '],
      'GET, ',
      '',
      ['GET', 'POST,'],
    ];
    for (const key of ['methods', 'allowedHeaders', 'exposedHeaders'] as const) {
      for (const value of lists) {
        const p = expectOneError(
          { [key]: value } as CorsPolicyOptions,
          'empty-list-item',
          value,
          /empty item/,
        );
        expect(p.message).toContain(key);
      }
    }
    // The non-empty items still compile: the rest of the list is checked as usual.
    expect(check({ methods: 'GET,,TRACE' }).errors.map((e) => e.code)).toEqual([
      'empty-list-item',
      'forbidden-method',
    ]);
    expectClean({ methods: [], allowedHeaders: [], exposedHeaders: [] });
  });

  it('invalid header names in allowedHeaders and exposedHeaders', () => {
    for (const h of ['x foo', 'x:y', 'x(y)', 'x/y', 'é', 'x"y']) {
      const a = expectOneError(
        { allowedHeaders: ['content-type', h] },
        'invalid-header-name',
        h,
        /header name/,
      );
      expect(a.message).toMatch(/allowedHeaders/);
      const e = expectOneError(
        { exposedHeaders: ['x-request-id', h] },
        'invalid-header-name',
        h,
        /header name/,
      );
      expect(e.message).toMatch(/exposedHeaders/);
    }
    expectClean({ allowedHeaders: 'content-type, x-request-id', exposedHeaders: ['x-total'] });
  });

  it('Set-Cookie (and Set-Cookie2) in exposed headers', () => {
    expectOneError(
      { exposedHeaders: ['x-a', 'Set-Cookie'] },
      'exposed-set-cookie',
      'set-cookie',
      /set-cookie/i,
    );
    expectOneError({ exposedHeaders: 'set-cookie' }, 'exposed-set-cookie', 'set-cookie');
    expectOneError({ exposedHeaders: ['SET-COOKIE2'] }, 'exposed-set-cookie', 'set-cookie2');
  });

  it('maxAge outside 0..86400 or not an integer', () => {
    expectOneError({ maxAge: -1 }, 'invalid-max-age', -1, /maxAge/);
    expectOneError({ maxAge: 86401 }, 'invalid-max-age', 86401);
    expectOneError({ maxAge: 1.5 }, 'invalid-max-age', 1.5);
    expectOneError({ maxAge: Number.NaN }, 'invalid-max-age', Number.NaN);
    expectOneError({ maxAge: '600' as unknown as number }, 'invalid-max-age', '600');
    expectClean({ maxAge: 0 });
    expectClean({ maxAge: 7200 });
  });

  it('a non-2xx optionsSuccessStatus', () => {
    for (const status of [301, 404, 199, 300]) {
      expectOneError(
        { optionsSuccessStatus: status },
        'invalid-success-status',
        status,
        /optionsSuccessStatus/,
      );
    }
    expectClean({ optionsSuccessStatus: 200 });
    expectClean({ optionsSuccessStatus: 299 });
  });

  it('an invalid preflightCacheControl', () => {
    expectOneError({ preflightCacheControl: -1 }, 'invalid-cache-control', -1);
    expectOneError({ preflightCacheControl: 'a\nb' }, 'invalid-cache-control', 'a\nb');
    expectClean({ preflightCacheControl: 'no-store' });
  });

  it('booleans that are not booleans', () => {
    for (const key of ['credentials', 'enforce', 'preflightContinue', 'privateNetwork'] as const) {
      expectOneError(
        { [key]: 'true' } as CorsPolicyOptions,
        'invalid-boolean',
        'true',
        new RegExp(key),
      );
    }
  });

  it('originTimeout outside 1..60000 or not an integer', () => {
    for (const value of [0, -5, 60001, 1.5, Number.NaN, '3000']) {
      expectOneError(
        { originTimeout: value as number },
        'invalid-origin-timeout',
        value,
        /originTimeout/,
      );
    }
    expectClean({ originTimeout: 1 });
    expectClean({ originTimeout: 60000 });
  });

  it('an unknown option key', () => {
    const e = expectOneError(
      { origns: ['https://example.com'] } as unknown as CorsPolicyOptions,
      'unknown-option',
      'origns',
      /unknown option/,
    );
    expect(e.message).toContain('origns');
  });

  it('options that are not an object: the enableCors options delegate, an array, a primitive (defect 5)', () => {
    const delegate = (_req: unknown, cb: (e: null, o: object) => void) => cb(null, {});
    const p = expectOneError(
      delegate as unknown as CorsPolicyOptions,
      'options-not-object',
      delegate,
      /function.*delegate/,
    );
    expect(p.message).toContain('origin function');
    expectOneError([] as unknown as CorsPolicyOptions, 'options-not-object', [], /array/);
    expectOneError(
      'https://a.example' as unknown as CorsPolicyOptions,
      'options-not-object',
      'https://a.example',
    );
    expectOneError(null as unknown as CorsPolicyOptions, 'options-not-object', null);
  });

  it("the cors alias 'headers' is accepted for allowedHeaders; both and different is an error", async () => {
    const policy = expectClean({ headers: 'Content-Type, X-Token' });
    expect(policy.describe().allowedHeaders).toEqual(['content-type', 'x-token']);
    const d = await policy.decide({
      method: 'OPTIONS',
      headers: {
        origin: 'https://a.example',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'x-other',
      },
    });
    expect(d.status).toBe(403);
    // The same list under both names (case, spaces and order aside) is fine.
    expectClean({ headers: ['X-Token', 'content-type'], allowedHeaders: 'content-type,x-token' });
    expectOneError(
      { headers: 'x-a', allowedHeaders: 'x-b' },
      'conflicting-headers-alias',
      'x-a',
      /headers.*allowedHeaders/,
    );
    // The alias is checked like allowedHeaders, under its own name.
    const bad = expectOneError({ headers: ['x-a', ''] }, 'empty-list-item', ['x-a', '']);
    expect(bad.message).toContain('headers');
  });
});

describe('configuration warnings (compileInto)', () => {
  it('an unanchored RegExp', () => {
    expectOneWarning(
      { origin: [/example\.com$/] },
      'regexp-unanchored',
      /example\.com$/,
      /anchored/,
    );
    expectOneWarning(
      { origin: [/^https:\/\/example\.com/] },
      'regexp-unanchored',
      /^https:\/\/example\.com/,
    );
    expectOneWarning(
      { origin: [/^https:\/\/app.example\.com$/] },
      'regexp-unescaped-dot',
      /^https:\/\/app.example\.com$/,
    );
    expectClean({ origin: [/^https:\/\/[a-z]+\.example\.com$/] });
  });

  it('origin: true with credentials', () => {
    expectOneWarning(
      { origin: true, credentials: true },
      'reflect-with-credentials',
      true,
      /origin: true/,
    );
    expectClean({ origin: true });
  });

  it("exposedHeaders '*' with credentials", () => {
    expectOneWarning(
      { origin: 'https://example.com', credentials: true, exposedHeaders: '*' },
      'exposed-wildcard-with-credentials',
      '*',
      /exposedHeaders|\*/,
    );
    expectClean({ origin: 'https://example.com', exposedHeaders: '*' });
  });

  it('maxAge above 7200', () => {
    expectOneWarning({ maxAge: 7201 }, 'max-age-above-browser-cap', 7201, /maxAge|7200/);
    expectOneWarning({ maxAge: 86400 }, 'max-age-above-browser-cap', 86400);
    expectClean({ maxAge: 7200 });
  });

  it('a file:// origin without credentials never matches', () => {
    expectOneWarning({ origin: ['file://'] }, 'file-origin', 'file://', /never matches/);
  });

  it('a wildcard over a public suffix without credentials', () => {
    expectOneWarning(
      { origin: ['https://*.github.io'] },
      'public-suffix-wildcard',
      'https://*.github.io',
    );
  });

  it('an empty origin list', () => {
    expectOneWarning({ origin: [] }, 'empty-origin-list', []);
  });

  it('a lower-case method', () => {
    expectOneWarning({ methods: ['GET', 'patch'] }, 'method-not-upper-case', 'patch');
  });

  it('an http:// origin (exact or pattern) with credentials: cookies over cleartext (defect 5)', () => {
    for (const origin of [
      'http://app.example.com',
      'http://*.example.com',
      'http://app.example.com:*',
      'http://10.0.0.5:8080',
    ]) {
      expectOneWarning(
        { origin: [origin], credentials: true },
        'cleartext-origin-with-credentials',
        origin,
        /http:.*credentials/,
      );
      // Without credentials there is nothing to leak.
      expectClean({ origin: [origin] });
    }
    // Loopback never leaves the machine.
    expectClean({
      origin: [
        'http://localhost:3000',
        'http://localhost:*',
        'http://127.0.0.1:8080',
        'http://[::1]:3000',
        'http://app.localhost',
        'https://app.example.com',
      ],
      credentials: true,
    });
    // A single string origin counts too.
    expectOneWarning(
      { origin: 'http://app.example.com', credentials: true },
      'cleartext-origin-with-credentials',
      'http://app.example.com',
    );
  });
});

describe('where a problem was declared', () => {
  it('text places are parsed into a structured source', () => {
    expect(placeOf('module')).toEqual({ where: 'module', source: { kind: 'module' } });
    expect(placeOf('policy "admin"')).toEqual({
      where: 'policy "admin"',
      source: { kind: 'policy', name: 'admin' },
    });
    expect(placeOf('UsersController.remove')).toEqual({
      where: 'UsersController.remove',
      source: { kind: 'route', controller: 'UsersController', handler: 'remove' },
    });
    expect(placeOf('fuzz')).toEqual({ where: 'fuzz', source: { kind: 'policy', name: 'fuzz' } });
  });

  it('a structured place is used as given', () => {
    const problems = new ProblemList();
    const place = {
      where: 'UsersController',
      source: { kind: 'route', controller: 'UsersController' },
    } as const;
    CorsPolicy.compileInto({ maxAge: -1 }, place, problems);
    expect(problems.errors).toEqual([
      expect.objectContaining({
        code: 'invalid-max-age',
        where: 'UsersController',
        source: { kind: 'route', controller: 'UsersController' },
        value: -1,
      }),
    ]);
  });
});

describe('every problem together in one error', () => {
  it('one CorsConfigError lists every problem of a policy, each with its where', () => {
    const options = {
      origin: [
        'example.com',
        'https://example.com/',
        'https://example.com:443',
        'https://a.example,https://b.example',
        '*.example.com',
        'null',
        'https://*.co.uk',
      ],
      credentials: true,
      methods: ['GET', 'CONNECT', 'GE T'],
      allowedHeaders: ['x foo'],
      exposedHeaders: ['Set-Cookie'],
      maxAge: -1,
      optionsSuccessStatus: 404,
      bogus: 1,
    } as unknown as CorsPolicyOptions;
    let thrown: unknown;
    try {
      CorsPolicy.compile(options, 'policy "admin"');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CorsConfigError);
    const error = thrown as CorsConfigError;
    expect(error.name).toBe('CorsConfigError');
    const messages = error.problems.map((p) => p.message);
    const expected = [
      /unknown option "bogus"/,
      /scheme/,
      /trailing slash/,
      /default port/,
      /several|one origin/,
      /wildcard/,
      /null/,
      /public suffix/,
      /forbidden/,
      /method token/,
      /allowedHeaders.*header name/,
      /set-cookie/i,
      /maxAge/,
      /optionsSuccessStatus/,
    ];
    expect(error.problems).toHaveLength(expected.length);
    for (const re of expected) {
      expect(messages.filter((m) => re.test(m)).length).toBeGreaterThanOrEqual(1);
    }
    expect(error.problems.map((p) => p.code).sort()).toEqual(
      [
        'unknown-option',
        'origin-without-scheme',
        'origin-has-trailing-slash',
        'origin-default-port',
        'origin-has-several-values',
        'origin-bare-wildcard',
        'null-with-credentials',
        'public-suffix-wildcard-with-credentials',
        'forbidden-method',
        'invalid-method',
        'invalid-header-name',
        'exposed-set-cookie',
        'invalid-max-age',
        'invalid-success-status',
      ].sort(),
    );
    for (const p of error.problems) {
      expect(p.where).toBe('policy "admin"');
      expect(p.source).toEqual({ kind: 'policy', name: 'admin' });
      expect('value' in p).toBe(true);
      expect(error.message).toContain(`  - policy "admin": ${p.message}`);
    }
    expect(error.message).toContain(`(${expected.length} problems)`);
    expect(error.message.split('\n').filter((l) => l.startsWith('  - '))).toHaveLength(
      expected.length,
    );
  });

  it('problems of several places collected in one ProblemList throw once, each with its own where', () => {
    const problems = new ProblemList();
    CorsPolicy.compileInto({ origin: '*', credentials: true }, 'module', problems);
    CorsPolicy.compileInto({ maxAge: 90000 }, 'policy "admin"', problems);
    CorsPolicy.compileInto({ methods: ['TRACE'] }, 'Users.remove', problems);
    CorsPolicy.compileInto({ origin: [/x/] }, 'Users.list', problems);
    expect(problems.warnings.map((w) => w.where)).toEqual(['Users.list']);
    let thrown: unknown;
    try {
      problems.throwIfAny();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CorsConfigError);
    const error = thrown as CorsConfigError;
    expect(error.problems.map((p) => p.where)).toEqual([
      'module',
      'policy "admin"',
      'Users.remove',
    ]);
    expect(error.problems.map((p) => [p.code, p.source, p.value])).toEqual([
      ['wildcard-with-credentials', { kind: 'module' }, '*'],
      ['invalid-max-age', { kind: 'policy', name: 'admin' }, 90000],
      ['forbidden-method', { kind: 'route', controller: 'Users', handler: 'remove' }, 'TRACE'],
    ]);
    expect(problems.warnings.map((w) => w.code)).toEqual(['regexp-unanchored']);
    expect(error.message).toMatch(/^Invalid CORS configuration \(3 problems\):/);
    expect(error.message).toMatch(/\n {2}- module: .*credentials/);
    expect(error.message).toMatch(/\n {2}- policy "admin": .*maxAge/);
    expect(error.message).toMatch(/\n {2}- Users\.remove: .*TRACE/);
  });

  it('a valid configuration does not throw', () => {
    const problems = new ProblemList();
    CorsPolicy.compileInto(
      { origin: 'https://example.com', credentials: true },
      'module',
      problems,
    );
    expect(() => problems.throwIfAny()).not.toThrow();
  });
});

describe('canonicalisation of configured origins', () => {
  it("'HTTPS://Example.COM' is accepted and matches the request origin 'https://example.com'", async () => {
    const policy = expectClean({ origin: 'HTTPS://Example.COM', credentials: true });
    expect(await allowOrigin(policy, 'https://example.com')).toBe('https://example.com');
    // The request side is byte-exact: browsers never send upper case.
    expect(await allowOrigin(policy, 'HTTPS://Example.COM')).toBeUndefined();
    expect(await allowOrigin(policy, 'https://Example.com')).toBeUndefined();
  });

  it("'https://bücher.example' is stored as 'https://xn--bcher-kva.example'", async () => {
    const policy = expectClean({ origin: ['https://bücher.example'] });
    expect(policy.describe().origins).toEqual(['https://xn--bcher-kva.example']);
    expect(await allowOrigin(policy, 'https://xn--bcher-kva.example')).toBe(
      'https://xn--bcher-kva.example',
    );
    expect(await allowOrigin(policy, 'https://bücher.example')).toBeUndefined();
  });

  it("IPv6 'http://[::1]:3000'", async () => {
    const policy = expectClean({ origin: ['http://[::1]:3000'] });
    expect(await allowOrigin(policy, 'http://[::1]:3000')).toBe('http://[::1]:3000');
    expect(await allowOrigin(policy, 'http://[::1]:3001')).toBeUndefined();
    expect(await allowOrigin(policy, 'http://[::1]')).toBeUndefined();
    // A long form is stored compressed, as the browser serializes it.
    const long = expectClean({ origin: ['http://[0:0:0:0:0:0:0:1]:3000'] });
    expect(long.describe().origins).toEqual(['http://[::1]:3000']);
    expect(await allowOrigin(long, 'http://[::1]:3000')).toBe('http://[::1]:3000');
  });

  it("the pattern 'http://localhost:*' matches any port", async () => {
    const policy = expectClean({ origin: ['http://localhost:*'], credentials: true });
    for (const o of ['http://localhost:3000', 'http://localhost:8080', 'http://localhost:1']) {
      expect(await allowOrigin(policy, o)).toBe(o);
    }
    for (const o of [
      'https://localhost:3000',
      'http://localhost.evil.com:3000',
      'http://evil.localhost:3000',
      'http://localhost:3000/',
      'http://localhost:99999',
      'http://127.0.0.1:3000',
    ]) {
      expect(await allowOrigin(policy, o)).toBeUndefined();
    }
  });
});
