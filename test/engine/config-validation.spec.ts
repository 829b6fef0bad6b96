/**
 * Boot-time validation of a policy (cors-rules.md §2 item 8): every error, every warning, one error
 * listing every problem with where it was declared, and the canonicalisation of configured origins.
 */
import { describe, expect, it } from '@jest/globals';
import { CorsConfigError, CorsPolicy } from '../../lib/engine/cors-policy.js';
import { ProblemList, type CorsConfigProblem } from '../../lib/engine/errors.js';
import type { CorsPolicyOptions } from '../../lib/interfaces/cors-options.interface.js';

const WHERE = 'policy "t"';

function check(options: CorsPolicyOptions, where = WHERE): ProblemList {
  const problems = new ProblemList();
  CorsPolicy.compileInto(options, where, problems);
  return problems;
}

/** `options` compile to exactly one error, matching `message`, and `compile()` throws it. */
function expectOneError(options: CorsPolicyOptions, message: RegExp): CorsConfigProblem {
  const problems = check(options);
  expect(problems.errors).toHaveLength(1);
  expect(problems.errors[0].where).toBe(WHERE);
  expect(problems.errors[0].message).toMatch(message);
  let thrown: unknown;
  try {
    CorsPolicy.compile(options, WHERE);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(CorsConfigError);
  const error = thrown as CorsConfigError;
  expect(error.problems).toHaveLength(1);
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

/** `options` compile without an error and with exactly one warning matching `message`. */
function expectOneWarning(options: CorsPolicyOptions, message: RegExp): void {
  const problems = check(options);
  expect(problems.errors).toEqual([]);
  expect(problems.warnings).toHaveLength(1);
  expect(problems.warnings[0].where).toBe(WHERE);
  expect(problems.warnings[0].message).toMatch(message);
  expect(() => CorsPolicy.compile(options, WHERE)).not.toThrow();
}

async function allowOrigin(policy: CorsPolicy, origin: string): Promise<string | undefined> {
  const d = await policy.decide({ method: 'GET', headers: { origin } });
  return d.headers['Access-Control-Allow-Origin'];
}

describe('configuration errors', () => {
  it("origin '*' with credentials (explicit)", () => {
    expectOneError({ origin: '*', credentials: true }, /'\*'.*credentials|credentials.*'\*'/);
    expectClean({ origin: '*', credentials: false });
  });

  it("credentials with the default origin (omitted = '*')", () => {
    expectOneError({ credentials: true }, /credentials/);
    expectOneError({ credentials: true, origin: undefined }, /credentials/);
    expectClean({ credentials: true, origin: 'https://example.com' });
    expectClean({});
  });

  it('an origin without scheme', () => {
    expectOneError({ origin: 'example.com' }, /scheme/);
    expectOneError({ origin: ['https://ok.example', 'localhost:3000'] }, /scheme/);
    expectOneError({ origin: '//example.com' }, /scheme/);
  });

  it('an origin with a path', () => {
    expectOneError({ origin: 'https://example.com/app' }, /path/);
    expectOneError({ origin: 'https://example.com/?x=1' }, /path/);
  });

  it('an origin with a trailing slash', () => {
    expectOneError({ origin: 'https://example.com/' }, /trailing slash/);
  });

  it('an origin with the default port (http :80, https :443)', () => {
    expectOneError({ origin: 'http://example.com:80' }, /default port/);
    expectOneError({ origin: 'https://example.com:443' }, /default port/);
    // Not the default port of the scheme: valid.
    expectClean({ origin: ['http://example.com:443', 'https://example.com:80'] });
  });

  it('several origins in one string (comma, space)', () => {
    expectOneError({ origin: 'https://a.example,https://b.example' }, /several|one origin/);
    expectOneError({ origin: 'https://a.example https://b.example' }, /several|one origin/);
    expectOneError({ origin: ['https://a.example, https://b.example'] }, /several|one origin/);
  });

  it('a bare wildcard *.example.com', () => {
    expectOneError({ origin: '*.example.com' }, /wildcard|scheme/);
    expectOneError({ origin: ['*.example.com'] }, /wildcard|scheme/);
  });

  it("'null' with credentials", () => {
    expectOneError({ origin: ['null'], credentials: true }, /null/);
    expectOneError({ origin: 'null', credentials: true }, /null/);
    expectClean({ origin: ['null'] });
  });

  it('file:// with credentials (§2 item 8: null/file:// with credentials is an error)', () => {
    const problems = check({ origin: ['file://'], credentials: true });
    expect(problems.errors).toHaveLength(1);
    expect(problems.errors[0].where).toBe(WHERE);
    expect(() => CorsPolicy.compile({ origin: ['file://'], credentials: true }, WHERE)).toThrow(
      CorsConfigError,
    );
  });

  it('a wildcard over a public suffix with credentials', () => {
    expectOneError({ origin: 'https://*.com', credentials: true }, /public suffix/);
    expectOneError({ origin: ['https://*.co.uk'], credentials: true }, /public suffix/);
    // A registrable domain under the wildcard is fine with credentials.
    expectClean({
      origin: ['https://*.example.com', 'https://*.example.co.uk'],
      credentials: true,
    });
  });

  it('forbidden methods CONNECT, TRACE, TRACK in any case', () => {
    for (const m of ['CONNECT', 'TRACE', 'TRACK', 'connect', 'Trace', 'tRaCk']) {
      expectOneError({ methods: ['GET', m] }, /forbidden/);
      expectOneError({ methods: `GET, ${m}` }, /forbidden/);
    }
  });

  it('invalid method tokens', () => {
    for (const m of ['GE T', 'GET()', 'P/UT', 'DELETE;', 'gét']) {
      expectOneError({ methods: ['GET', m] }, /method/);
    }
    expectClean({ methods: ['GET', 'PURGE', 'M-SEARCH'] });
  });

  it('invalid header names in allowedHeaders and exposedHeaders', () => {
    for (const h of ['x foo', 'x:y', 'x(y)', 'x/y', 'é', 'x"y']) {
      const a = expectOneError({ allowedHeaders: ['content-type', h] }, /header name/);
      expect(a.message).toMatch(/allowedHeaders/);
      const e = expectOneError({ exposedHeaders: ['x-request-id', h] }, /header name/);
      expect(e.message).toMatch(/exposedHeaders/);
    }
    expectClean({ allowedHeaders: 'content-type, x-request-id', exposedHeaders: ['x-total'] });
  });

  it('Set-Cookie (and Set-Cookie2) in exposed headers', () => {
    expectOneError({ exposedHeaders: ['x-a', 'Set-Cookie'] }, /set-cookie/i);
    expectOneError({ exposedHeaders: 'set-cookie' }, /set-cookie/i);
    expectOneError({ exposedHeaders: ['SET-COOKIE2'] }, /set-cookie2/i);
  });

  it('maxAge outside 0..86400 or not an integer', () => {
    expectOneError({ maxAge: -1 }, /maxAge/);
    expectOneError({ maxAge: 86401 }, /maxAge/);
    expectOneError({ maxAge: 1.5 }, /maxAge/);
    expectOneError({ maxAge: Number.NaN }, /maxAge/);
    expectOneError({ maxAge: '600' as unknown as number }, /maxAge/);
    expectClean({ maxAge: 0 });
    expectClean({ maxAge: 7200 });
  });

  it('a non-2xx optionsSuccessStatus', () => {
    expectOneError({ optionsSuccessStatus: 301 }, /optionsSuccessStatus/);
    expectOneError({ optionsSuccessStatus: 404 }, /optionsSuccessStatus/);
    expectOneError({ optionsSuccessStatus: 199 }, /optionsSuccessStatus/);
    expectOneError({ optionsSuccessStatus: 300 }, /optionsSuccessStatus/);
    expectClean({ optionsSuccessStatus: 200 });
    expectClean({ optionsSuccessStatus: 299 });
  });

  it('an unknown option key', () => {
    const e = expectOneError(
      { origns: ['https://example.com'] } as unknown as CorsPolicyOptions,
      /unknown option/,
    );
    expect(e.message).toContain('origns');
  });
});

describe('configuration warnings (compileInto)', () => {
  it('an unanchored RegExp', () => {
    expectOneWarning({ origin: [/example\.com$/] }, /anchored/);
    expectOneWarning({ origin: [/^https:\/\/example\.com/] }, /anchored/);
    expectClean({ origin: [/^https:\/\/[a-z]+\.example\.com$/] });
  });

  it('origin: true with credentials', () => {
    expectOneWarning({ origin: true, credentials: true }, /origin: true|credentials/);
    expectClean({ origin: true });
  });

  it("exposedHeaders '*' with credentials", () => {
    expectOneWarning(
      { origin: 'https://example.com', credentials: true, exposedHeaders: '*' },
      /exposedHeaders|\*/,
    );
    expectClean({ origin: 'https://example.com', exposedHeaders: '*' });
  });

  it('maxAge above 7200', () => {
    expectOneWarning({ maxAge: 7201 }, /maxAge|7200/);
    expectOneWarning({ maxAge: 86400 }, /maxAge|7200/);
    expectClean({ maxAge: 7200 });
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
    for (const p of error.problems) {
      expect(p.where).toBe('policy "admin"');
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
