/**
 * Properties of `CorsPolicy.decide()` over generated valid policies and generated (often hostile)
 * requests. Whether an origin is allowed is computed here, from the semantics of the pool entries
 * (cors-rules.md §2 items 2–3), never by asking the engine.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CorsPolicy, type CorsDecision } from '../../lib/engine/cors-policy.js';
import { ProblemList } from '../../lib/engine/errors.js';
import type { CorsPolicyOptions } from '../../lib/interfaces/cors-options.interface.js';

const ACAO = 'Access-Control-Allow-Origin';
const ACAC = 'Access-Control-Allow-Credentials';
const ACAM = 'Access-Control-Allow-Methods';
const ACAH = 'Access-Control-Allow-Headers';
const ACMA = 'Access-Control-Max-Age';

const NUM_RUNS = 1000;

// ----- the independent model of origins -------------------------------------------------------

interface ParsedOrigin {
  scheme: string;
  host: string;
  port: string | undefined;
}

/** A serialized origin as a browser sends it (cors-rules §1.12), parsed; undefined otherwise. */
function parseSerializedOrigin(o: string): ParsedOrigin | undefined {
  if (o.length > 64 + 3 + 253 + 1 + 5) return undefined;
  const m =
    /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::([1-9][0-9]{0,4}))?$/.exec(
      o,
    );
  if (m === null) return undefined;
  if (m[3] !== undefined && Number(m[3]) > 65535) return undefined;
  // What a browser sends survives the WHATWG URL parser unchanged (no default port, canonical
  // IPv4/IPv6 such as 0.0.0.0 rather than 0, valid punycode).
  if (['http', 'https', 'ws', 'wss'].includes(m[1])) {
    try {
      if (new URL(o).origin.replace(/^ws/, 'http') !== o.replace(/^ws/, 'http')) return undefined;
    } catch {
      return undefined;
    }
  }
  return { scheme: m[1], host: m[2], port: m[3] };
}

/** One entry of the origin pool: what is configured, and what it means. */
interface PoolEntry {
  config: string | RegExp;
  /** `null` and some patterns are refused with credentials: the generator leaves them out. */
  credentialsOk: boolean;
  matches(origin: string): boolean;
}

function exact(value: string): PoolEntry {
  return { config: value, credentialsOk: true, matches: (o) => o === value };
}

/** `scheme://*.suffix[:port]`: one or more labels before `.suffix`, the apex excluded. */
function subdomainPattern(scheme: string, suffix: string, port?: string): PoolEntry {
  return {
    config: `${scheme}://*.${suffix}${port === undefined ? '' : `:${port}`}`,
    credentialsOk: true,
    matches: (o) => {
      const p = parseSerializedOrigin(o);
      return (
        p !== undefined &&
        p.scheme === scheme &&
        p.port === port &&
        p.host.endsWith(`.${suffix}`) &&
        p.host.length > suffix.length + 1
      );
    },
  };
}

/** `scheme://host:*`: that host, any port. */
function anyPortPattern(scheme: string, host: string): PoolEntry {
  return {
    config: `${scheme}://${host}:*`,
    credentialsOk: true,
    matches: (o) => {
      const p = parseSerializedOrigin(o);
      return p !== undefined && p.scheme === scheme && p.host === host;
    },
  };
}

const REGEX_ENTRY: PoolEntry = {
  config: /^https:\/\/[a-z]{1,12}\.regex\.test$/,
  credentialsOk: true,
  matches: (o) => /^https:\/\/[a-z]{1,12}\.regex\.test$/.test(o),
};

const NULL_ENTRY: PoolEntry = {
  config: 'null',
  credentialsOk: false,
  matches: (o) => o === 'null',
};

const POOL: PoolEntry[] = [
  exact('https://example.com'),
  exact('https://app.example.net'),
  exact('http://localhost:3000'),
  exact('https://xn--bcher-kva.example'),
  exact('http://[::1]:8080'),
  exact('https://example.org:8443'),
  subdomainPattern('https', 'example.com'),
  subdomainPattern('https', 'example.org', '8443'),
  anyPortPattern('http', 'localhost'),
  REGEX_ENTRY,
  NULL_ENTRY,
];

type OriginSpec = { kind: 'any' } | { kind: 'reflect' } | { kind: 'list'; entries: PoolEntry[] };

interface GeneratedPolicy {
  spec: OriginSpec;
  options: CorsPolicyOptions;
}

/** Is `origin` (the single request Origin value) allowed by `spec`? */
function modelAllows(spec: OriginSpec, origin: string | undefined): boolean {
  if (origin === undefined) return false;
  switch (spec.kind) {
    case 'any':
      return true;
    case 'reflect':
      return parseSerializedOrigin(origin) !== undefined; // 'null' has no "://"
    case 'list':
      return spec.entries.some((e) => e.matches(origin));
  }
}

// ----- generators --------------------------------------------------------------------------------

const METHOD_POOL = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'PURGE', 'patch'];
const ALLOWED_HEADER_POOL = ['content-type', 'authorization', 'x-request-id', 'X-Custom'];
const EXPOSED_HEADER_POOL = ['x-request-id', 'x-total', 'content-type', 'ETag'];

const policyArb: fc.Arbitrary<GeneratedPolicy> = fc
  .record({
    credentials: fc.boolean(),
    kind: fc.constantFrom('any', 'reflect', 'list', 'list', 'list'),
    entries: fc.subarray(POOL, { minLength: 1 }),
    methods: fc.option(fc.oneof(fc.constant('*'), fc.subarray(METHOD_POOL)), { nil: undefined }),
    allowedHeaders: fc.option(fc.oneof(fc.constant('*'), fc.subarray(ALLOWED_HEADER_POOL)), {
      nil: undefined,
    }),
    exposedHeaders: fc.option(fc.oneof(fc.constant('*'), fc.subarray(EXPOSED_HEADER_POOL)), {
      nil: undefined,
    }),
    maxAge: fc.option(fc.integer({ min: 0, max: 86400 }), { nil: undefined }),
    optionsSuccessStatus: fc.option(fc.constantFrom(200, 204), { nil: undefined }),
  })
  .map((r): GeneratedPolicy => {
    let spec: OriginSpec;
    if (r.kind === 'any' && !r.credentials) spec = { kind: 'any' };
    else if (r.kind === 'reflect') spec = { kind: 'reflect' };
    else {
      const entries = r.credentials ? r.entries.filter((e) => e.credentialsOk) : r.entries;
      spec = { kind: 'list', entries: entries.length > 0 ? entries : [POOL[0]] };
    }
    const options: CorsPolicyOptions = {
      origin:
        spec.kind === 'any'
          ? '*'
          : spec.kind === 'reflect'
            ? true
            : spec.entries.map((e) => e.config),
      credentials: r.credentials,
    };
    if (r.methods !== undefined) options.methods = r.methods;
    if (r.allowedHeaders !== undefined) options.allowedHeaders = r.allowedHeaders;
    if (r.exposedHeaders !== undefined) options.exposedHeaders = r.exposedHeaders;
    if (r.maxAge !== undefined) options.maxAge = r.maxAge;
    if (r.optionsSuccessStatus !== undefined) options.optionsSuccessStatus = r.optionsSuccessStatus;
    return { spec, options };
  });

const labelArb = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const labelsArb = fc.array(labelArb, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.'));

/** Origins that are valid serialized origins by construction, around the pool. */
const cleanOriginArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'https://example.com',
    'https://app.example.net',
    'http://localhost:3000',
    'https://xn--bcher-kva.example',
    'http://[::1]:8080',
    'https://example.org:8443',
    'https://example.org',
    'http://example.com',
    'https://example.net',
    'http://localhost',
    'https://localhost:3000',
    'http://[::1]',
    'https://api.example.net',
  ),
  labelsArb.map((l) => `https://${l}.example.com`),
  labelsArb.map((l) => `http://${l}.example.com`),
  fc
    .tuple(labelsArb, fc.integer({ min: 1, max: 65535 }))
    .map(([l, p]) => `https://${l}.example.com:${p}`),
  labelsArb.map((l) => `https://${l}.example.org:8443`),
  labelsArb.map((l) => `https://${l}.example.org`),
  fc.integer({ min: 1, max: 65535 }).map((p) => `http://localhost:${p}`),
  fc.integer({ min: 1, max: 65535 }).map((p) => `https://localhost:${p}`),
  fc.stringMatching(/^[a-z]{1,12}$/).map((l) => `https://${l}.regex.test`),
  fc.stringMatching(/^[a-z]{1,12}$/).map((l) => `http://${l}.regex.test`),
  labelsArb.map((l) => `https://${l}`),
);

const binaryStringArb = fc
  .uint8Array({ maxLength: 48 })
  .map((bytes) => String.fromCharCode(...bytes));

const veryLongOriginArb = fc.oneof(
  fc.integer({ min: 300, max: 4000 }).map((n) => `https://${'a'.repeat(n)}.example.com`),
  fc.integer({ min: 100, max: 2000 }).map((n) => `https://${'a.'.repeat(n)}example.com`),
  fc.integer({ min: 1, max: 60 }).map((n) => `https://${'abcde.'.repeat(n)}example.com`),
  fc.integer({ min: 300, max: 4000 }).map((n) => `http://localhost:${'9'.repeat(n)}`),
);

/** Mutations of a valid origin that a naive matcher lets through. */
const mutatedOriginArb: fc.Arbitrary<string> = fc
  .tuple(
    cleanOriginArb,
    fc.constantFrom(
      (o: string) => `${o}.evil.com`,
      (o: string) => `${o}x`,
      (o: string) => `${o}/`,
      (o: string) => `${o}.`,
      (o: string) => `${o}:443`,
      (o: string) => `${o}:80`,
      (o: string) => `${o}:0`,
      (o: string) => `${o}:08080`,
      (o: string) => `${o}/path`,
      (o: string) => `${o}?x`,
      (o: string) => `${o}#x`,
      (o: string) => `x${o}`,
      (o: string) => ` ${o}`,
      (o: string) => `${o} `,
      (o: string) => `${o}\r\nSet-Cookie: a=b`,
      (o: string) => `${o}\n`,
      (o: string) => `${o}\u0000`,
      (o: string) => `${o}, https://evil.com`,
      (o: string) => `${o},${o}`,
      (o: string) => o.replace('://', '://evil'),
      (o: string) => o.replace('://', '://evil.'),
      (o: string) => o.replace('://', '://evil-'),
      (o: string) => o.replace('://', '://user@'),
      (o: string) => o.replace('.', '..'),
      (o: string) => o.replace('://', ':/'),
      (o: string) => o.replace(/^[a-z]+/, (s) => (s === 'https' ? 'http' : 'https')),
      (o: string) => o.toUpperCase(),
      (o: string) => o.charAt(0).toUpperCase() + o.slice(1),
      (o: string) => o.replace(/e/, 'E'),
      (o: string) => o.replace('example', 'exämple'),
      (o: string) => o.replace('example', 'examp\u200ble'),
      (o: string) => o.slice(0, -1),
      (o: string) => o.replace('https://', 'https://*.'),
    ),
  )
  .map(([o, mutate]) => mutate(o));

const originValueArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: cleanOriginArb, weight: 6 },
  { arbitrary: mutatedOriginArb, weight: 6 },
  { arbitrary: fc.constantFrom('null', 'NULL', 'Null', '', '*', 'null ', 'file://'), weight: 2 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 },
  { arbitrary: binaryStringArb, weight: 1 },
  { arbitrary: veryLongOriginArb, weight: 1 },
);

/** The request's `origin` header as Node gives it: absent, one value, or (rarely) several lines. */
const originHeaderArb: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 2 },
  { arbitrary: originValueArb, weight: 12 },
  { arbitrary: fc.array(originValueArb, { minLength: 1, maxLength: 2 }), weight: 1 },
);

const requestMethodArb = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      'GET',
      'HEAD',
      'POST',
      'PUT',
      'PATCH',
      'patch',
      'DELETE',
      'PURGE',
      'OPTIONS',
      'M-SEARCH',
      'CONNECT',
      'trace',
      'Track',
      '*',
      '',
      'GET, PUT',
      'PUT\r\nX-Evil: 1',
      ' PUT',
    ),
    weight: 8,
  },
  { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
  { arbitrary: binaryStringArb, weight: 1 },
);

const HEADER_NAME_POOL = [
  'content-type',
  'authorization',
  'x-request-id',
  'x-custom',
  'accept',
  'x-a',
  'X-Request-Id',
  'Content-Type',
  'Authorization',
  '*',
];

const requestHeadersArb = fc.oneof(
  {
    arbitrary: fc
      .tuple(
        fc.array(fc.constantFrom(...HEADER_NAME_POOL), { maxLength: 5 }),
        fc.constantFrom(',', ', ', ' , ', ',\t', ',,'),
      )
      .map(([names, sep]) => names.join(sep)),
    weight: 8,
  },
  {
    arbitrary: fc
      .integer({ min: 60, max: 600 })
      .map((n) => Array.from({ length: n }, (_, i) => `x-h${i}`).join(',')),
    weight: 1,
  },
  {
    arbitrary: fc.constantFrom('x foo', 'x-a\r\nSet-Cookie: a=b', 'x-a;', '"x-a"', ' '),
    weight: 1,
  },
  { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
  { arbitrary: binaryStringArb, weight: 1 },
);

interface GeneratedRequest {
  method: string;
  origin: string | string[] | undefined;
  acrm: string | undefined;
  acrh: string | undefined;
  servedMethods: readonly string[] | undefined;
}

const requestArb: fc.Arbitrary<GeneratedRequest> = fc.record({
  method: fc.oneof(
    { arbitrary: fc.constant('OPTIONS'), weight: 3 },
    { arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'options'), weight: 2 },
  ),
  origin: originHeaderArb,
  acrm: fc.option(requestMethodArb, { nil: undefined, freq: 4 }),
  acrh: fc.option(requestHeadersArb, { nil: undefined, freq: 3 }),
  servedMethods: fc.constantFrom(undefined, ['ALL']),
});

// ----- helpers ------------------------------------------------------------------------------------

function compile(policy: GeneratedPolicy): CorsPolicy {
  return CorsPolicy.compile(policy.options, 'generated');
}

async function run(policy: CorsPolicy, r: GeneratedRequest): Promise<CorsDecision> {
  const headers: Record<string, string | string[] | undefined> = {};
  if (r.origin !== undefined) headers['origin'] = r.origin;
  if (r.acrm !== undefined) headers['access-control-request-method'] = r.acrm;
  if (r.acrh !== undefined) headers['access-control-request-headers'] = r.acrh;
  return policy.decide({ method: r.method, headers }, r.servedMethods);
}

/** The one Origin value the request carries, if it carries exactly one line. */
function singleOrigin(origin: string | string[] | undefined): string | undefined {
  if (Array.isArray(origin)) return origin.length === 1 ? origin[0] : undefined;
  return origin;
}

function isPreflight(r: GeneratedRequest): boolean {
  return r.method === 'OPTIONS' && r.origin !== undefined && r.acrm !== undefined;
}

function corsHeaderNames(d: CorsDecision): string[] {
  return Object.keys(d.headers).filter((k) => k.toLowerCase().startsWith('access-control-'));
}

function listItems(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((v) => v.length > 0);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function assertProperty(
  predicate: (policy: GeneratedPolicy, request: GeneratedRequest, d: CorsDecision) => void,
  numRuns = NUM_RUNS,
): Promise<void> {
  return fc.assert(
    fc.asyncProperty(policyArb, requestArb, async (p, r) => {
      const d = await run(compile(p), r);
      predicate(p, r, d);
    }),
    { numRuns },
  );
}

// ----- properties ---------------------------------------------------------------------------------

describe('properties of decide()', () => {
  it('every generated policy compiles without error', () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        const problems = new ProblemList();
        CorsPolicy.compileInto(p.options, 'generated', problems);
        expect(problems.errors).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never throws nor rejects, and classifies the request', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, requestArb, async (p, r) => {
        const policy = compile(p);
        let d: CorsDecision | undefined;
        let failure: unknown;
        try {
          d = await run(policy, r);
        } catch (e) {
          failure = e;
        }
        expect(failure).toBeUndefined();
        const decision = d as CorsDecision;
        const expectedKind = isPreflight(r)
          ? 'preflight'
          : r.origin === undefined
            ? 'none'
            : 'actual';
        expect(decision.kind).toBe(expectedKind);
        expect(typeof decision.allowed).toBe('boolean');
        if (decision.kind === 'preflight') expect(typeof decision.status).toBe('number');
        else expect(decision.status).toBeUndefined();
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never sends ACAO * together with ACAC', async () => {
    await assertProperty((p, _r, d) => {
      if (d.headers[ACAO] === '*') expect(d.headers[ACAC]).toBeUndefined();
      if (p.options.credentials === true) expect(d.headers[ACAO]).not.toBe('*');
    });
  });

  it('ACAO is * only for a non-credentialed any-origin policy, else the allowed request origin', async () => {
    await assertProperty((p, r, d) => {
      const acao = d.headers[ACAO];
      if (acao === undefined) return;
      if (acao === '*') {
        expect(p.spec.kind).toBe('any');
        expect(p.options.credentials).toBe(false);
        return;
      }
      const origin = singleOrigin(r.origin);
      expect(acao).toBe(origin);
      expect(modelAllows(p.spec, origin)).toBe(true);
    });
  });

  it('a valid origin gets ACAO exactly when the pool semantics allow it (actual requests)', async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        cleanOriginArb,
        fc.constantFrom('GET', 'POST', 'OPTIONS'),
        async (p, origin, method) => {
          const d = await compile(p).decide({ method, headers: { origin } });
          expect(d.kind).toBe('actual');
          const allowed = modelAllows(p.spec, origin);
          expect(d.allowed).toBe(allowed);
          if (!allowed) expect(d.headers[ACAO]).toBeUndefined();
          else expect(d.headers[ACAO]).toBe(p.spec.kind === 'any' ? '*' : origin);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('at most one value per single-valued header: no comma in ACAO, ACAC is exactly "true"', async () => {
    await assertProperty((p, _r, d) => {
      const acao = d.headers[ACAO];
      if (acao !== undefined) {
        expect(acao).not.toMatch(/[,\s]/);
        expect(acao.length).toBeGreaterThan(0);
      }
      const acac = d.headers[ACAC];
      if (acac !== undefined) expect(acac).toBe('true');
      // ACAC accompanies every ACAO of a credentialed policy, and nothing else.
      expect(acac !== undefined).toBe(p.options.credentials === true && acao !== undefined);
      const acma = d.headers[ACMA];
      if (acma !== undefined) {
        expect(acma).toMatch(/^[0-9]+$/);
        expect(acma).toBe(String(p.options.maxAge));
      }
    });
  });

  it('no CR, LF or other control character in any header value or Vary', async () => {
    await assertProperty((_p, _r, d) => {
      for (const value of [...Object.values(d.headers), d.vary ?? '']) {
        expect(value).not.toMatch(/[\r\n]/);
        expect(value).toMatch(/^[\x20-\x7e]*$/);
      }
    });
  });

  it('Vary ⊇ Origin whenever the policy is origin-dependent; no Vary: Origin on a static * answer', async () => {
    await assertProperty((p, _r, d) => {
      const vary = listItems(d.vary).map((v) => v.toLowerCase());
      if (p.spec.kind !== 'any') expect(vary).toContain('origin');
      else if (d.kind !== 'preflight') expect(vary).not.toContain('origin');
    });
  });

  it('a denial carries no Access-Control-* header; a denied preflight is 403, an allowed one the success status', async () => {
    await assertProperty((p, _r, d) => {
      if (!d.allowed) expect(corsHeaderNames(d)).toEqual([]);
      if (d.kind === 'preflight') {
        expect(d.status).toBe(d.allowed ? (p.options.optionsSuccessStatus ?? 204) : 403);
      }
    });
  });

  it('an allowed preflight names the requested method so that the browser accepts it (§1.6, §1.8)', async () => {
    await assertProperty((p, r, d) => {
      if (d.kind !== 'preflight' || !d.allowed) return;
      const acrm = r.acrm as string;
      expect(acrm).toMatch(TOKEN);
      expect(['CONNECT', 'TRACE', 'TRACK']).not.toContain(acrm.toUpperCase());
      const methods = p.options.methods;
      if (Array.isArray(methods)) expect(methods).toContain(acrm);
      const acam = listItems(d.headers[ACAM]);
      const credentialed = p.options.credentials === true;
      if (credentialed && acrm !== '*') expect(acam).not.toContain('*');
      const covered =
        acam.includes(acrm) ||
        ['GET', 'HEAD', 'POST'].includes(acrm) ||
        (acam.includes('*') && !credentialed);
      expect({ acrm, acam, covered }).toEqual({ acrm, acam, covered: true });
    });
  });

  it('an allowed preflight covers every requested header (authorization never by *)', async () => {
    await assertProperty((p, r, d) => {
      if (d.kind !== 'preflight' || !d.allowed) return;
      const requested = listItems(r.acrh).map((v) => v.toLowerCase());
      const acah = listItems(d.headers[ACAH]).map((v) => v.toLowerCase());
      const credentialed = p.options.credentials === true;
      const configured = p.options.allowedHeaders;
      for (const name of requested) {
        expect(name).toMatch(TOKEN);
        if (Array.isArray(configured)) {
          expect(configured.map((h) => h.toLowerCase())).toContain(name);
        }
        const covered =
          acah.includes(name) || (acah.includes('*') && !credentialed && name !== 'authorization');
        expect({ name, acah, covered }).toEqual({ name, acah, covered: true });
      }
      if (credentialed && !requested.includes('*')) expect(acah).not.toContain('*');
    });
  });
});

describe('examples found by the properties (kept as fixed cases)', () => {
  it('a policy without `methods` on an @All() route: an allowed preflight lists the requested method', async () => {
    // Either refuse the method (403) or name it byte-exact in ACAM: a 204 whose ACAM does not hold
    // it makes the browser fail the request after all (Fetch §4.8 step 7.5).
    for (const options of [
      { origin: '*' } as CorsPolicyOptions,
      { origin: ['https://example.com'], credentials: true } as CorsPolicyOptions,
    ]) {
      const policy = CorsPolicy.compile(options, 'no-methods');
      for (const acrm of ['M-SEARCH', 'PURGE', 'patch']) {
        for (const served of [undefined, ['ALL']]) {
          const d = await policy.decide(
            {
              method: 'OPTIONS',
              headers: { origin: 'https://example.com', 'access-control-request-method': acrm },
            },
            served,
          );
          const acam = listItems(d.headers[ACAM]);
          expect({
            acrm,
            served,
            allowed: d.allowed,
            consistent: !d.allowed || acam.includes(acrm),
          }).toEqual({ acrm, served, allowed: d.allowed, consistent: true });
        }
      }
    }
  });
});

describe('bounded work (cors-rules §2 item 9)', () => {
  it('an over-long or malformed Origin is refused before the origin function runs', async () => {
    let calls = 0;
    const policy = CorsPolicy.compile({
      origin: () => {
        calls++;
        return true;
      },
    });
    for (const origin of [
      `https://${'a'.repeat(5000)}.example.com`,
      'https://example.com/',
      'HTTPS://EXAMPLE.COM',
      'https://example.com\r\nX: y',
    ]) {
      const d = await policy.decide({ method: 'GET', headers: { origin } });
      expect(d.allowed).toBe(false);
      expect(d.headers[ACAO]).toBeUndefined();
    }
    expect(calls).toBe(0);
    // A valid origin does reach the function (the counter above can count).
    const ok = await policy.decide({ method: 'GET', headers: { origin: 'https://example.com' } });
    expect(ok.headers[ACAO]).toBe('https://example.com');
    expect(calls).toBe(1);
  });

  it('a huge ACRH (1 MiB) is refused, also when any header is allowed', async () => {
    const acrh = 'x-a,'.repeat(262144);
    for (const options of [{ origin: '*' }, { origin: '*', allowedHeaders: ['x-a'] }]) {
      const d = await CorsPolicy.compile(options as CorsPolicyOptions).decide({
        method: 'OPTIONS',
        headers: {
          origin: 'https://example.com',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': acrh,
        },
      });
      expect(d.kind).toBe('preflight');
      expect(d.status).toBe(403);
      expect(corsHeaderNames(d)).toEqual([]);
    }
  });
});
