/**
 * Fuzzing with fast-check: random bytes and strings at `decide()` (Origin, method, ACRM, ACRH,
 * ACRPN) under random valid policies, and random — often invalid — option objects at
 * `CorsPolicy.compile`. Invariants (cors-rules §1.5, §1.8, §2 items 4, 5, 8, 9): compile returns a
 * policy or throws `CorsConfigError`, nothing else; decide never throws nor rejects, writes no
 * CR/LF or other control byte, never ACAO `*` with ACAC, ACAO only `*` or the exact request origin,
 * no `Access-Control-*` header on a denial, and every call returns within a bounded time.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import {
  CorsConfigError,
  CorsPolicy,
  type CorsDecision,
  type CorsPolicyOptions,
} from '../../lib/index.js';

/** Generous, to stay clear of GC pauses on a loaded CI machine; typical calls take microseconds. */
const MAX_DECIDE_MS = 50;

const ACAO = 'Access-Control-Allow-Origin';
const ACAC = 'Access-Control-Allow-Credentials';

// ----- random valid policies ---------------------------------------------------------------------------

const ORIGIN_POOL: Array<string | RegExp> = [
  'https://example.com',
  'http://localhost:3000',
  'https://*.example.com',
  'http://localhost:*',
  'https://*.example.org:8443',
  'http://[::1]:8443',
  'https://xn--bcher-kva.example',
  'chrome-extension://abcdefghijklmnop',
  /^https:\/\/[a-z0-9-]+\.regex\.test$/,
  /^http:\/\/127\.0\.0\.1:\d{2,5}$/i,
  /example\.net/,
];

const TENANTS = new Set(['https://tenant.example', 'https://example.com']);

type OriginOption = CorsPolicyOptions['origin'];

const originArb: fc.Arbitrary<{ origin: OriginOption; credentialsOk: boolean }> = fc.oneof(
  fc.constant({ origin: '*' as OriginOption, credentialsOk: false }),
  fc.constant({ origin: true as OriginOption, credentialsOk: true }),
  fc.constant({ origin: false as OriginOption, credentialsOk: true }),
  fc
    .subarray(ORIGIN_POOL, { minLength: 1 })
    .map((list) => ({ origin: list as OriginOption, credentialsOk: true })),
  fc
    .subarray(ORIGIN_POOL, { minLength: 1 })
    .map((list) => ({ origin: [...list, 'null'] as OriginOption, credentialsOk: false })),
  fc.constantFrom(...ORIGIN_POOL).map((o) => ({ origin: o as OriginOption, credentialsOk: true })),
  // Origin functions: a boolean, a Promise, and the `cors` callback style.
  fc.constant({
    origin: ((o: string | undefined) => o !== undefined && TENANTS.has(o)) as OriginOption,
    credentialsOk: true,
  }),
  fc.constant({
    origin: (async (o: string | undefined) => o !== undefined && TENANTS.has(o)) as OriginOption,
    credentialsOk: true,
  }),
  fc.constant({
    origin: ((o: string | undefined, cb: (e: Error | null, v?: unknown) => void) => {
      setImmediate(() => cb(null, o !== undefined && TENANTS.has(o) ? o : false));
    }) as OriginOption,
    credentialsOk: true,
  }),
);

const listOrStar = (pool: string[]) =>
  fc.option(
    fc.oneof(
      fc.constant('*'),
      fc.subarray(pool),
      fc.subarray(pool, { minLength: 1 }).map((l) => l.join(', ')),
    ),
    { nil: undefined },
  );

const validPolicyArb: fc.Arbitrary<CorsPolicyOptions> = fc
  .record({
    origin: originArb,
    credentials: fc.boolean(),
    methods: listOrStar(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'PURGE', 'M-SEARCH']),
    allowedHeaders: listOrStar(['content-type', 'Authorization', 'x-request-id', 'X-Custom']),
    exposedHeaders: listOrStar(['x-request-id', 'ETag', 'x-total-count', 'content-length']),
    maxAge: fc.option(fc.integer({ min: 0, max: 86400 }), { nil: undefined }),
    optionsSuccessStatus: fc.option(fc.integer({ min: 200, max: 299 }), { nil: undefined }),
    enforce: fc.boolean(),
    preflightContinue: fc.boolean(),
    privateNetwork: fc.boolean(),
    preflightCacheControl: fc.option(fc.oneof(fc.nat({ max: 86400 }), fc.constant('no-store')), {
      nil: undefined,
    }),
  })
  .map((r) => {
    const options: CorsPolicyOptions = {
      origin: r.origin.origin,
      credentials: r.credentials && r.origin.credentialsOk,
    };
    for (const key of [
      'methods',
      'allowedHeaders',
      'exposedHeaders',
      'maxAge',
      'optionsSuccessStatus',
      'preflightCacheControl',
    ] as const) {
      if (r[key] !== undefined) (options as Record<string, unknown>)[key] = r[key];
    }
    if (r.enforce) options.enforce = true;
    if (r.preflightContinue) options.preflightContinue = true;
    if (r.privateNetwork) options.privateNetwork = true;
    return options;
  });

// ----- random bytes ------------------------------------------------------------------------------------

/** Raw bytes as Node hands them over (header values are decoded as Latin-1). */
const latin1 = (max: number, min = 0) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b).toString('latin1'));
const binary = (max: number) => fc.string({ unit: 'binary', maxLength: max });

const VALID_ORIGINS = [
  'https://example.com',
  'https://app.example.com',
  'http://localhost:3000',
  'https://a.example.org:8443',
  'http://[::1]:8443',
  'https://x.regex.test',
  'http://127.0.0.1:8080',
  'https://tenant.example',
  'https://xn--bcher-kva.example',
  'null',
];

/** A valid origin with random bytes spliced in, or cut: the parser's edge cases. */
const splicedOriginArb = fc
  .tuple(fc.constantFrom(...VALID_ORIGINS), fc.nat(), fc.nat(), latin1(4))
  .map(([o, at, cut, insert]) => {
    const i = at % (o.length + 1);
    return o.slice(0, i) + insert + o.slice(i + (cut % 3));
  });

const originValueArb = fc.oneof(
  { arbitrary: latin1(48), weight: 3 },
  { arbitrary: binary(48), weight: 2 },
  { arbitrary: splicedOriginArb, weight: 4 },
  { arbitrary: fc.constantFrom(...VALID_ORIGINS), weight: 2 },
  { arbitrary: latin1(8192, 300), weight: 1 },
);

const originHeaderArb: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 1 },
  { arbitrary: originValueArb, weight: 8 },
  { arbitrary: fc.array(originValueArb, { minLength: 0, maxLength: 3 }), weight: 1 },
);

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PURGE', 'CONNECT'];
const methodArb = fc.oneof(
  { arbitrary: fc.constantFrom('OPTIONS', 'GET', 'POST', 'PUT'), weight: 6 },
  { arbitrary: latin1(10), weight: 1 },
);
const acrmArb = fc.oneof(
  { arbitrary: fc.constantFrom(...METHODS, 'patch', 'trace', '*'), weight: 4 },
  { arbitrary: latin1(16), weight: 2 },
  { arbitrary: binary(16), weight: 1 },
  { arbitrary: latin1(8192, 100), weight: 1 },
);
const headerNameArb = fc.oneof(
  fc.constantFrom('content-type', 'authorization', 'x-request-id', 'X-Custom', 'accept', '*'),
  fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/),
  latin1(6),
);
const acrhArb = fc.oneof(
  {
    arbitrary: fc
      .tuple(
        fc.array(headerNameArb, { maxLength: 80 }),
        fc.constantFrom(',', ', ', ' ,', ',\t', ',,', ';', ' '),
      )
      .map(([names, sep]) => names.join(sep)),
    weight: 4,
  },
  { arbitrary: latin1(64), weight: 2 },
  { arbitrary: binary(64), weight: 1 },
  { arbitrary: latin1(16384, 1024), weight: 1 },
  { arbitrary: fc.array(latin1(24), { minLength: 1, maxLength: 3 }), weight: 1 },
);

interface FuzzRequest {
  method: string;
  origin: string | string[] | undefined;
  acrm: string | string[] | undefined;
  acrh: string | string[] | undefined;
  pna: string | undefined;
  served: string[] | undefined;
}

const requestArb: fc.Arbitrary<FuzzRequest> = fc.record({
  method: methodArb,
  origin: originHeaderArb,
  acrm: fc.option(fc.oneof(acrmArb, fc.array(acrmArb, { maxLength: 2 })), {
    nil: undefined,
    freq: 4,
  }),
  acrh: fc.option(acrhArb, { nil: undefined, freq: 3 }),
  pna: fc.option(fc.oneof(fc.constant('true'), latin1(6)), { nil: undefined }),
  served: fc.option(fc.subarray([...METHODS, 'ALL']), { nil: undefined }),
});

// ----- invariants --------------------------------------------------------------------------------------

const durations: number[] = [];

async function timedDecide(policy: CorsPolicy, r: FuzzRequest): Promise<CorsDecision> {
  const headers: Record<string, string | string[]> = {};
  if (r.origin !== undefined) headers['origin'] = r.origin;
  if (r.acrm !== undefined) headers['access-control-request-method'] = r.acrm;
  if (r.acrh !== undefined) headers['access-control-request-headers'] = r.acrh;
  if (r.pna !== undefined) headers['access-control-request-private-network'] = r.pna;
  const request = { method: r.method, headers };
  let start = performance.now();
  const d = await policy.decide(request, r.served);
  let elapsed = performance.now() - start;
  durations.push(elapsed);
  // A slow call is measured again: a GC pause or a busy event loop does not repeat, work that
  // grows with the input does. The bound holds for the fastest of three runs.
  for (let retry = 0; retry < 2 && elapsed >= MAX_DECIDE_MS; retry++) {
    start = performance.now();
    await policy.decide(request, r.served);
    elapsed = Math.min(elapsed, performance.now() - start);
  }
  expect({ slow: elapsed >= MAX_DECIDE_MS ? elapsed : false }).toEqual({ slow: false });
  return d;
}

/** The request's one Origin value, if it carries exactly one. */
function singleOrigin(origin: string | string[] | undefined): string | undefined {
  if (Array.isArray(origin)) return origin.length === 1 ? origin[0] : undefined;
  return origin;
}

function checkInvariants(
  options: CorsPolicyOptions | undefined,
  r: FuzzRequest,
  d: CorsDecision,
): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries({ ...d.headers, Vary: d.vary ?? '' })) {
    if (typeof value !== 'string') problems.push(`${name} is not a string`);
    else if (/[\r\n]/.test(value)) problems.push(`${name} holds CR/LF`);
    else if (!/^[\x20-\x7e]*$/.test(value)) problems.push(`${name} holds a non-printable byte`);
  }
  const acao = d.headers[ACAO];
  if (acao === '*' && d.headers[ACAC] !== undefined) problems.push('ACAO * with ACAC');
  if (acao === '*' && options?.credentials === true)
    problems.push('ACAO * on a credentialed policy');
  if (acao !== undefined && acao !== '*' && acao !== singleOrigin(r.origin)) {
    problems.push(`ACAO ${JSON.stringify(acao)} is not the request origin`);
  }
  const ac = Object.keys(d.headers).filter((k) => k.toLowerCase().startsWith('access-control-'));
  if (!d.allowed && ac.length > 0) problems.push(`denied with ${ac.join(', ')}`);
  if (d.kind === 'preflight' && !d.allowed && d.status !== 403) problems.push(`status ${d.status}`);
  expect(problems).toEqual([]);
}

// ----- the properties ------------------------------------------------------------------------------------

describe('fuzz: decide() under random valid policies and random bytes', () => {
  it('every generated policy compiles (the generator makes valid policies only)', () => {
    fc.assert(
      fc.property(validPolicyArb, (options) => {
        expect(CorsPolicy.compile(options, 'fuzz')).toBeInstanceOf(CorsPolicy);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws nor rejects, keeps every header invariant, and answers in bounded time', async () => {
    await fc.assert(
      fc.asyncProperty(
        validPolicyArb,
        fc.array(requestArb, { minLength: 1, maxLength: 4 }),
        async (options, requests) => {
          const policy = CorsPolicy.compile(options, 'fuzz');
          for (const r of requests) {
            let d: CorsDecision | undefined;
            let thrown: unknown;
            try {
              d = await timedDecide(policy, r);
            } catch (e) {
              thrown = e;
            }
            if (thrown !== undefined) throw thrown;
            checkInvariants(options, r, d as CorsDecision);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('worst cases of the bounded work stay fast: 326-byte origins, 4 KiB / 64-name ACRH', async () => {
    const policy = CorsPolicy.compile({
      origin: ['https://*.example.com', /^https:\/\/([a-z]+\.)+regex\.test$/, 'http://localhost:*'],
      credentials: true,
    });
    const dotted = `https://${'a.'.repeat(150)}example.org`.slice(0, 326);
    const acrh = Array.from({ length: 64 }, (_, i) => `X-H${i}-${'a'.repeat(56)}`).join(', ');
    const requests: FuzzRequest[] = [
      {
        method: 'GET',
        origin: dotted,
        acrm: undefined,
        acrh: undefined,
        pna: undefined,
        served: undefined,
      },
      {
        method: 'GET',
        origin: `https://${'a.'.repeat(120)}regex.tes`,
        acrm: undefined,
        acrh: undefined,
        pna: undefined,
        served: undefined,
      },
      {
        method: 'OPTIONS',
        origin: 'https://a.example.com',
        acrm: 'PUT',
        acrh: acrh.slice(0, 4096),
        pna: 'true',
        served: ['ALL'],
      },
      {
        method: 'OPTIONS',
        origin: 'https://a.example.com',
        acrm: 'PUT',
        acrh: ',,'.repeat(2048),
        pna: undefined,
        served: undefined,
      },
    ];
    for (let i = 0; i < 50; i++) {
      for (const r of requests)
        checkInvariants({ credentials: true }, r, await timedDecide(policy, r));
    }
  });
});

// ----- random option objects at the compiler --------------------------------------------------------------

const anyValue = fc.anything({
  maxDepth: 2,
  maxKeys: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

const originStringArb = fc
  .tuple(
    fc.constantFrom(
      'https://',
      'http://',
      'HTTPS://',
      'ws://',
      'app://',
      'file://',
      '',
      '*.',
      '//',
    ),
    fc.oneof(
      fc.constantFrom(
        'example.com',
        '*.example.com',
        '*.com',
        '*.github.io',
        'localhost',
        '[::1]',
        'bücher.example',
      ),
      binary(24),
    ),
    fc.constantFrom(
      '',
      ':*',
      ':443',
      ':80',
      ':8080',
      ':99999',
      ':0',
      '/',
      '/path',
      '?q',
      ' , https://x.com',
    ),
  )
  .map(([a, b, c]) => a + b + c);

const plausibleOriginArb = fc.oneof(
  originStringArb,
  fc.array(fc.oneof(originStringArb, fc.constant(/x/), fc.constant('null'), anyValue), {
    maxLength: 4,
  }),
  fc.constantFrom('*', 'null', true, false, /^https:\/\/a\.b$/gy),
);
const plausibleListArb = fc.oneof(
  fc.array(
    fc.oneof(
      fc.constantFrom('GET', 'put', 'TRACE', '*', 'x foo', 'Set-Cookie', ''),
      binary(8),
      anyValue,
    ),
    { maxLength: 4 },
  ),
  binary(24),
);

const possiblyInvalidOptionsArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: anyValue, weight: 1 },
  {
    arbitrary: fc.record(
      {
        origin: fc.oneof(plausibleOriginArb, anyValue),
        methods: fc.oneof(plausibleListArb, anyValue),
        allowedHeaders: fc.oneof(plausibleListArb, anyValue),
        exposedHeaders: fc.oneof(plausibleListArb, anyValue),
        credentials: fc.oneof(fc.boolean(), anyValue),
        maxAge: fc.oneof(fc.integer({ min: -10, max: 100000 }), fc.double(), anyValue),
        optionsSuccessStatus: fc.oneof(fc.integer({ min: 100, max: 600 }), anyValue),
        preflightCacheControl: fc.oneof(fc.integer({ min: -5, max: 10 }), binary(12), anyValue),
        enforce: anyValue,
        preflightContinue: anyValue,
        privateNetwork: anyValue,
        policies: anyValue,
        unknownKey: anyValue,
      },
      { requiredKeys: [] },
    ),
    weight: 6,
  },
);

function compileOutcome(options: unknown): CorsPolicy | CorsConfigError | { other: string } {
  try {
    return CorsPolicy.compile(options as CorsPolicyOptions, 'fuzz');
  } catch (e) {
    if (e instanceof CorsConfigError) return e;
    return { other: `${(e as Error)?.constructor?.name}: ${(e as Error)?.message}` };
  }
}

describe('fuzz: CorsPolicy.compile under random, possibly invalid options', () => {
  it('returns a policy or throws CorsConfigError, never another exception; a policy decides safely', async () => {
    await fc.assert(
      fc.asyncProperty(possiblyInvalidOptionsArb, requestArb, async (options, r) => {
        const outcome = compileOutcome(options);
        if (!(outcome instanceof CorsPolicy) && !(outcome instanceof CorsConfigError)) {
          throw new Error(`compile threw ${outcome.other}`);
        }
        if (outcome instanceof CorsConfigError) {
          expect(outcome.problems.length).toBeGreaterThan(0);
          for (const p of outcome.problems) expect(typeof p.message).toBe('string');
        }
        if (outcome instanceof CorsPolicy) {
          checkInvariants(
            options as CorsPolicyOptions | undefined,
            r,
            await timedDecide(outcome, r),
          );
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('a value that cannot be turned into a string (null prototype, Symbol) is a CorsConfigError', () => {
    // Found by the property above: `String(Object.create(null))` and `String([Symbol()])` throw
    // a TypeError. Config objects from some loaders (querystring.parse, Object.create(null) maps)
    // have no prototype; boot validation must report them like any other bad value.
    const cases: Array<[string, unknown]> = [
      ['methods', [Object.create(null)]],
      ['allowedHeaders', [Object.create(null)]],
      ['exposedHeaders', [Object.create(null)]],
      ['maxAge', Object.create(null)],
      ['maxAge', [Symbol('s')]],
      ['optionsSuccessStatus', Object.create(null)],
      ['optionsSuccessStatus', [Symbol('s')]],
    ];
    const failures: unknown[] = [];
    for (const [key, value] of cases) {
      const outcome = compileOutcome({ origin: 'https://example.com', [key]: value });
      if (!(outcome instanceof CorsConfigError))
        failures.push({ key, value: Array.isArray(value) ? 'array' : typeof value, outcome });
    }
    expect(failures).toEqual([]);
  });
});
