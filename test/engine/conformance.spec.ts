/**
 * The conformance table of cors-rules.md §3 (rows A1–A18 and B1–B27), checked against the engine's
 * `decide()`. Rows that are about Nest/HTTP behaviour only (handler errors, routing, 304, guards,
 * redirects) check what the engine decides for them.
 */
import { describe, expect, it } from '@jest/globals';
import {
  CorsPolicy,
  type CorsDecision,
  type CorsRequestLike,
} from '../../lib/engine/cors-policy.js';
import { ProblemList } from '../../lib/engine/errors.js';
import type { CorsPolicyOptions } from '../../lib/interfaces/cors-options.interface.js';

const ACAO = 'Access-Control-Allow-Origin';
const ACAC = 'Access-Control-Allow-Credentials';
const ACAM = 'Access-Control-Allow-Methods';
const ACAH = 'Access-Control-Allow-Headers';
const ACEH = 'Access-Control-Expose-Headers';
const ACMA = 'Access-Control-Max-Age';

const SERVER = 'https://api.example.net';
const P1_ORIGINS = ['https://example.com', 'https://*.example.com'];

const P1: CorsPolicyOptions = {
  origin: P1_ORIGINS,
  credentials: true,
  methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
  allowedHeaders: ['content-type', 'authorization', 'x-request-id'],
  exposedHeaders: ['x-request-id'],
  maxAge: 600,
};
const P1n: CorsPolicyOptions = { ...P1, credentials: false };
const P2: CorsPolicyOptions = {
  origin: '*',
  methods: '*',
  allowedHeaders: '*',
  exposedHeaders: '*',
  maxAge: 7200,
};
const P3: CorsPolicyOptions = {
  origin: P1_ORIGINS,
  credentials: true,
  methods: '*',
  allowedHeaders: '*',
};
const P5: CorsPolicyOptions = { origin: ['https://*.example.com'] };
const P6: CorsPolicyOptions = { ...P1, origin: [...P1_ORIGINS, 'https://bücher.example'] };

const policies = {
  P1: CorsPolicy.compile(P1, 'P1'),
  P1n: CorsPolicy.compile(P1n, 'P1n'),
  P2: CorsPolicy.compile(P2, 'P2'),
  P3: CorsPolicy.compile(P3, 'P3'),
  P5: CorsPolicy.compile(P5, 'P5'),
  P6: CorsPolicy.compile(P6, 'P6'),
};

/**
 * Decides `request` for the table's `@All()` route twice: without route information and with
 * `servedMethods = ['ALL']`. Each row holds for both decisions (route-awareness never narrows a row).
 */
async function both(policy: CorsPolicy, request: CorsRequestLike): Promise<CorsDecision[]> {
  return [await policy.decide(request), await policy.decide(request, ['ALL'])];
}

function req(method: string, headers: Record<string, string | undefined> = {}): CorsRequestLike {
  return { method, headers };
}

function preflight(
  origin: string | undefined,
  requestMethod: string,
  requestHeaders?: string,
): CorsRequestLike {
  const headers: Record<string, string | undefined> = {
    'access-control-request-method': requestMethod,
    accept: '*/*',
  };
  if (origin !== undefined) headers['origin'] = origin;
  if (requestHeaders !== undefined) headers['access-control-request-headers'] = requestHeaders;
  return req('OPTIONS', headers);
}

/** Items of a comma-separated header value, trimmed. */
function items(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function varyFields(d: CorsDecision): string[] {
  return items(d.vary).map((v) => v.toLowerCase());
}

function expectVaryOrigin(d: CorsDecision): void {
  expect(varyFields(d)).toContain('origin');
}

function expectPreflightVary(d: CorsDecision): void {
  expect(varyFields(d)).toEqual(
    expect.arrayContaining([
      'origin',
      'access-control-request-method',
      'access-control-request-headers',
    ]),
  );
}

/** No `Access-Control-*` header at all (whatever its case). */
function expectNoCorsHeaders(d: CorsDecision): void {
  const cors = Object.keys(d.headers).filter((k) => k.toLowerCase().startsWith('access-control-'));
  expect(cors).toEqual([]);
}

function expectDeniedPreflight(d: CorsDecision): void {
  expect(d.kind).toBe('preflight');
  expect(d.allowed).toBe(false);
  expect(d.status).toBe(403);
  expectNoCorsHeaders(d);
}

function expectAllowedPreflight(d: CorsDecision, status = 204): void {
  expect(d.kind).toBe('preflight');
  expect(d.allowed).toBe(true);
  expect(d.status).toBe(status);
}

/** The list in ACAH covers `name` case-insensitively. */
function allowHeadersCover(d: CorsDecision, name: string): boolean {
  return items(d.headers[ACAH])
    .map((v) => v.toLowerCase())
    .includes(name.toLowerCase());
}

const B1_HEADERS = 'content-type,x-request-id';

describe('conformance §3.1: actual (non-preflight) requests', () => {
  it('A1: GET from an exact allowed origin (P1)', async () => {
    for (const d of await both(policies.P1, req('GET', { origin: 'https://example.com' }))) {
      expect(d.kind).toBe('actual');
      expect(d.allowed).toBe(true);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(items(d.headers[ACEH])).toContain('x-request-id');
      expect(d.headers[ACAM]).toBeUndefined();
      expect(d.headers[ACAH]).toBeUndefined();
      expect(d.headers[ACMA]).toBeUndefined();
      expectVaryOrigin(d);
    }
  });

  it('A2: GET from a subdomain matched by https://*.example.com (byte echo)', async () => {
    for (const d of await both(policies.P1, req('GET', { origin: 'https://app.example.com' }))) {
      expect(d.allowed).toBe(true);
      expect(d.headers[ACAO]).toBe('https://app.example.com');
      expect(d.headers[ACAC]).toBe('true');
      expectVaryOrigin(d);
    }
  });

  it('A3: GET from a deeper subdomain (*. is one or more labels)', async () => {
    for (const d of await both(policies.P1, req('GET', { origin: 'https://a.b.example.com' }))) {
      expect(d.allowed).toBe(true);
      expect(d.headers[ACAO]).toBe('https://a.b.example.com');
      expect(d.headers[ACAC]).toBe('true');
      expectVaryOrigin(d);
    }
  });

  it('A4: GET from a refused origin gets no CORS header but Vary: Origin', async () => {
    for (const d of await both(policies.P1, req('GET', { origin: 'https://evil.com' }))) {
      expect(d.kind).toBe('actual');
      expect(d.allowed).toBe(false);
      expect(d.status).toBeUndefined(); // not enforce: the handler still runs
      expect(d.headers[ACAO]).toBeUndefined();
      expect(d.headers[ACAC]).toBeUndefined();
      expect(d.headers[ACEH]).toBeUndefined();
      expectNoCorsHeaders(d);
      expectVaryOrigin(d);
    }
  });

  it('A5: GET without Origin is not CORS, still Vary: Origin', async () => {
    for (const d of await both(policies.P1, req('GET'))) {
      expect(d.kind).toBe('none');
      expect(d.headers[ACAO]).toBeUndefined();
      expect(d.headers[ACAC]).toBeUndefined();
      expectNoCorsHeaders(d);
      expectVaryOrigin(d);
    }
  });

  it('A6: simple POST (text/plain) from an allowed origin', async () => {
    for (const d of await both(
      policies.P1,
      req('POST', { origin: 'https://example.com', 'content-type': 'text/plain;charset=UTF-8' }),
    )) {
      expect(d.kind).toBe('actual');
      expect(d.allowed).toBe(true);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(items(d.headers[ACEH])).toContain('x-request-id');
      expectVaryOrigin(d);
    }
  });

  it('A7: HEAD gets the same headers as A1', async () => {
    const a1 = await both(policies.P1, req('GET', { origin: 'https://example.com' }));
    const head = await both(policies.P1, req('HEAD', { origin: 'https://example.com' }));
    for (const [i, d] of head.entries()) {
      expect(d.kind).toBe('actual');
      expect(d.headers).toEqual(a1[i].headers);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expectVaryOrigin(d);
    }
  });

  it('A8: a same-origin POST (Origin = server, not allowlisted) is not refused, gets no ACAO', async () => {
    for (const d of await both(policies.P1, req('POST', { origin: SERVER }))) {
      expect(d.kind).toBe('actual');
      expect(d.status).toBeUndefined(); // not 403: enforce is off, the handler runs
      expect(d.headers[ACAO]).toBeUndefined();
      expectVaryOrigin(d);
    }
  });

  it('A9: the decision does not depend on the handler outcome; headers survive on an error response', async () => {
    for (const d of await both(policies.P1, req('GET', { origin: 'https://example.com' }))) {
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(items(d.headers[ACEH])).toContain('x-request-id');
      expectVaryOrigin(d);
    }
    // Writing onto an error response that already carries Vary: the engine appends, keeps ACAO.
    const res = new Map<string, string>([['Vary', 'Accept-Encoding']]);
    const target = {
      setHeader: (n: string, v: string) => res.set(n, v),
      getHeader: (n: string) => res.get(n),
      removeHeader: (n: string) => res.delete(n),
    };
    const verdict = await policies.P1.checkOrigin('https://example.com');
    policies.P1.writeActual(target, verdict);
    expect(res.get(ACAO)).toBe('https://example.com');
    expect(res.get(ACAC)).toBe('true');
    expect(items(res.get('Vary'))).toEqual(['Accept-Encoding', 'Origin']);
  });

  it('A10: OPTIONS with Origin but no ACRM is an actual request, not a preflight', async () => {
    for (const d of await both(policies.P1, req('OPTIONS', { origin: 'https://example.com' }))) {
      expect(d.kind).toBe('actual');
      expect(d.status).toBeUndefined(); // the router answers, not the CORS layer
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(d.headers[ACMA]).toBeUndefined();
      expect(d.headers[ACAM]).toBeUndefined();
      expect(d.headers[ACAH]).toBeUndefined();
      expectVaryOrigin(d);
    }
  });

  it('A11: OPTIONS with ACRM but no Origin is not a CORS request', async () => {
    for (const d of await both(
      policies.P1,
      req('OPTIONS', { 'access-control-request-method': 'PUT' }),
    )) {
      expect(d.kind).toBe('none');
      expect(d.status).toBeUndefined();
      expectNoCorsHeaders(d);
      expectVaryOrigin(d);
    }
  });

  it('A12: OPTIONS with neither Origin nor ACRM is not a CORS request', async () => {
    for (const d of await both(policies.P1, req('OPTIONS'))) {
      expect(d.kind).toBe('none');
      expect(d.status).toBeUndefined();
      expectNoCorsHeaders(d);
      expectVaryOrigin(d);
    }
  });

  it('A13: a conditional GET (304 later) is decided like A1', async () => {
    for (const d of await both(
      policies.P1,
      req('GET', { origin: 'https://example.com', 'if-none-match': '"abc"' }),
    )) {
      expect(d.kind).toBe('actual');
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expectVaryOrigin(d);
    }
  });

  it('A14: P2 answers any origin, with a cookie, with a static *', async () => {
    for (const d of await both(
      policies.P2,
      req('GET', { origin: 'https://evil.com', cookie: 'session=1' }),
    )) {
      expect(d.headers[ACAO]).toBe('*');
      expect(d.headers[ACAC]).toBeUndefined();
      expect(Object.values(d.headers)).not.toContain('https://evil.com');
      expect(JSON.stringify(d.headers)).not.toContain('evil.com');
    }
  });

  it('A15: P2 sends its static policy without Origin too, without Vary: Origin', async () => {
    for (const d of await both(policies.P2, req('GET'))) {
      expect(d.headers[ACAO]).toBe('*');
      expect(d.headers[ACEH]).toBe('*');
      expect(d.headers[ACAC]).toBeUndefined();
      expect(varyFields(d)).not.toContain('origin');
    }
  });

  it('A16: P2 answers Origin: null with *, never with null', async () => {
    for (const d of await both(policies.P2, req('GET', { origin: 'null' }))) {
      expect(d.headers[ACAO]).toBe('*');
      expect(d.headers[ACAO]).not.toBe('null');
    }
  });

  it('A17: P1n (no credentials) echoes the origin without ACAC', async () => {
    for (const d of await both(policies.P1n, req('GET', { origin: 'https://example.com' }))) {
      expect(d.allowed).toBe(true);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(items(d.headers[ACEH])).toContain('x-request-id');
      expect(d.headers[ACAC]).toBeUndefined();
      expectVaryOrigin(d);
    }
  });

  it('A18: P6 allows the IDN origin in its punycode serialization', async () => {
    for (const d of await both(
      policies.P6,
      req('GET', { origin: 'https://xn--bcher-kva.example' }),
    )) {
      expect(d.allowed).toBe(true);
      expect(d.headers[ACAO]).toBe('https://xn--bcher-kva.example');
      expectVaryOrigin(d);
    }
  });
});

describe('conformance §3.2: preflight requests', () => {
  it('B1: allowed preflight with allowed method and headers (P1)', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'PUT', B1_HEADERS))) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(items(d.headers[ACAM])).toContain('PUT');
      expect(allowHeadersCover(d, 'content-type')).toBe(true);
      expect(allowHeadersCover(d, 'x-request-id')).toBe(true);
      expect(d.headers[ACMA]).toBe('600');
      expectPreflightVary(d);
    }
  });

  it('B2: preflight from a refused origin: 403, no CORS header', async () => {
    for (const d of await both(policies.P1, preflight('https://evil.com', 'PUT', B1_HEADERS))) {
      expectDeniedPreflight(d);
      expectPreflightVary(d);
    }
  });

  it('B3: preflight for a method not configured (PURGE): 403', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'PURGE'))) {
      expectDeniedPreflight(d);
      expect(items(d.headers[ACAM])).not.toContain('PURGE');
      expectPreflightVary(d);
    }
  });

  it('B4: methods are case-sensitive: ACRM patch is not PATCH', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'patch'))) {
      expectDeniedPreflight(d);
      expect(items(d.headers[ACAM])).not.toContain('patch');
      expectPreflightVary(d);
    }
  });

  it('B5: ACRM PATCH is allowed, ACAM holds PATCH byte-exact', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'PATCH'))) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(items(d.headers[ACAM])).toContain('PATCH');
      expectPreflightVary(d);
    }
  });

  it('B6: preflight for GET without ACRH (use-CORS-preflight flag) is allowed', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'GET'))) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expectPreflightVary(d);
    }
  });

  it('B7: POST with ACRH content-type is allowed', async () => {
    for (const d of await both(
      policies.P1,
      preflight('https://example.com', 'POST', 'content-type'),
    )) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(allowHeadersCover(d, 'content-type')).toBe(true);
      expectPreflightVary(d);
    }
  });

  it('B8: a header that is not allowed (x-evil): 403', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'PUT', 'x-evil'))) {
      expectDeniedPreflight(d);
      expectPreflightVary(d);
    }
  });

  it('B9: mixed-case ACRH with OWS is matched case-insensitively', async () => {
    for (const d of await both(
      policies.P1,
      preflight('https://example.com', 'PUT', 'Content-Type, X-Request-Id'),
    )) {
      expectAllowedPreflight(d);
      expect(allowHeadersCover(d, 'content-type')).toBe(true);
      expect(allowHeadersCover(d, 'x-request-id')).toBe(true);
      expectPreflightVary(d);
    }
  });

  it('B10: ACRH authorization needs an explicit authorization in ACAH', async () => {
    for (const d of await both(
      policies.P1,
      preflight('https://example.com', 'GET', 'authorization'),
    )) {
      expectAllowedPreflight(d);
      expect(allowHeadersCover(d, 'authorization')).toBe(true);
      expectPreflightVary(d);
    }
  });

  it('B11: an empty ACRH counts as no headers', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'PUT', ''))) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(items(d.headers[ACAM])).toContain('PUT');
      expectPreflightVary(d);
    }
  });

  it('B12: unsorted, duplicated ACRH has set semantics', async () => {
    for (const d of await both(
      policies.P1,
      preflight('https://example.com', 'PUT', 'x-request-id,content-type,content-type'),
    )) {
      expectAllowedPreflight(d);
      expect(allowHeadersCover(d, 'x-request-id')).toBe(true);
      expect(allowHeadersCover(d, 'content-type')).toBe(true);
      expectPreflightVary(d);
    }
  });

  it('B13: accept (made unsafe by a long value) is refused under a strict allowlist', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'GET', 'accept'))) {
      expectDeniedPreflight(d);
      expectPreflightVary(d);
    }
  });

  it('B14: a preflight without credentials is answered by the CORS layer (never a 401)', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'PUT'))) {
      expectAllowedPreflight(d);
      expect(d.status).not.toBe(401);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(items(d.headers[ACAM])).toContain('PUT');
      expectPreflightVary(d);
    }
  });

  it('B15: a preflight is answered with 2xx, never a redirect', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'PUT'))) {
      expectAllowedPreflight(d);
      expect(d.status).toBeGreaterThanOrEqual(200);
      expect(d.status).toBeLessThan(300);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(items(d.headers[ACAM])).toContain('PUT');
      expect(Object.keys(d.headers).map((k) => k.toLowerCase())).not.toContain('location');
      expectPreflightVary(d);
    }
  });

  it('B16: a preflight from Origin: null is refused (P1)', async () => {
    for (const d of await both(policies.P1, preflight('null', 'PUT'))) {
      expectDeniedPreflight(d);
      expect(d.headers[ACAO]).toBeUndefined();
      expectPreflightVary(d);
    }
  });

  it('B17: forbidden methods CONNECT / TRACE / TRACK are refused (P1 and P3)', async () => {
    for (const policy of [policies.P1, policies.P3]) {
      for (const method of ['CONNECT', 'TRACE', 'TRACK']) {
        for (const d of await both(policy, preflight('https://example.com', method))) {
          expectDeniedPreflight(d);
          expectPreflightVary(d);
        }
      }
    }
  });

  it('B18: an ACRH of 500 names (~8 KiB) is refused, bounded', async () => {
    const names = Array.from(
      { length: 500 },
      (_, i) => `x-custom-hdr-${String(i).padStart(3, '0')}`,
    );
    const value = names.join(',');
    expect(value.length).toBeGreaterThan(8000);
    // P3 allows every name (no allowlist): the cap must apply there too.
    for (const policy of [policies.P1, policies.P3]) {
      for (const d of await both(policy, preflight('https://example.com', 'PUT', value))) {
        expectDeniedPreflight(d);
      }
    }
  });

  it('B19: an ACRH item that is not a token (x foo) is refused', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', 'PUT', 'x foo'))) {
      expectDeniedPreflight(d);
    }
  });

  it('B20: an empty ACRM is refused', async () => {
    for (const d of await both(policies.P1, preflight('https://example.com', ''))) {
      expectDeniedPreflight(d);
    }
  });

  it('B21: P2 allows any method and header without credentials', async () => {
    for (const d of await both(policies.P2, preflight('https://example.com', 'PUT', 'x-a'))) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAO]).toBe('*');
      const acam = items(d.headers[ACAM]);
      expect(acam.includes('*') || acam.includes('PUT')).toBe(true);
      const acah = items(d.headers[ACAH]).map((v) => v.toLowerCase());
      expect(acah.includes('*') || acah.includes('x-a')).toBe(true);
      expect(d.headers[ACMA]).toBe('7200');
      expect(d.headers[ACAC]).toBeUndefined();
    }
  });

  it('B22: P2: * never covers authorization, ACAH names it explicitly', async () => {
    for (const d of await both(
      policies.P2,
      preflight('https://example.com', 'POST', 'authorization'),
    )) {
      expectAllowedPreflight(d);
      expect(allowHeadersCover(d, 'authorization')).toBe(true);
    }
  });

  it('B23: P3 (credentials, methods/headers *) echoes ACRM and ACRH, never *', async () => {
    for (const d of await both(policies.P3, preflight('https://example.com', 'PUT', 'x-a,x-b'))) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(d.headers[ACAC]).toBe('true');
      expect(d.headers[ACAM]).toBe('PUT');
      expect(d.headers[ACAH]).toBe('x-a,x-b');
      expect(d.headers[ACAM]).not.toBe('*');
      expect(d.headers[ACAH]).not.toBe('*');
      expectPreflightVary(d);
    }
  });

  it('B24: P3 echoes an unusual method (PURGE), never *', async () => {
    for (const d of await both(policies.P3, preflight('https://example.com', 'PURGE'))) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAM]).toBe('PURGE');
      expect(d.headers[ACAM]).not.toBe('*');
      expectPreflightVary(d);
    }
  });

  it('B25: P1n preflight: ACAO, ACAM, ACAH, no ACAC', async () => {
    for (const d of await both(
      policies.P1n,
      preflight('https://example.com', 'PUT', 'content-type'),
    )) {
      expectAllowedPreflight(d);
      expect(d.headers[ACAO]).toBe('https://example.com');
      expect(items(d.headers[ACAM])).toContain('PUT');
      expect(allowHeadersCover(d, 'content-type')).toBe(true);
      expect(d.headers[ACAC]).toBeUndefined();
      expectPreflightVary(d);
    }
  });

  it('B26: P5 (https://*.example.com only) does not match the apex', async () => {
    for (const d of await both(
      policies.P5,
      preflight('https://example.com', 'PUT', 'x-request-id'),
    )) {
      expectDeniedPreflight(d);
      expectPreflightVary(d);
    }
  });

  it('B27: maxAge 86400 is emitted as configured, with a boot warning', async () => {
    const options: CorsPolicyOptions = { ...P1, maxAge: 86400 };
    const problems = new ProblemList();
    CorsPolicy.compileInto(options, 'P1-86400', problems);
    expect(problems.errors).toEqual([]);
    expect(problems.warnings).toHaveLength(1);
    expect(problems.warnings[0].where).toBe('P1-86400');
    expect(problems.warnings[0].message).toMatch(/maxAge/);
    const policy = CorsPolicy.compile(options, 'P1-86400');
    for (const d of await both(policy, preflight('https://example.com', 'PUT', B1_HEADERS))) {
      expectAllowedPreflight(d);
      expect(d.headers[ACMA]).toBe('86400');
      expectPreflightVary(d);
    }
  });
});
