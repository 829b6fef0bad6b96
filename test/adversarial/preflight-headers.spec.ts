/**
 * Hostile `Access-Control-Request-Headers` and `Access-Control-Request-Method` on preflights from
 * an allowed origin: huge, many, empty, odd separators, invalid tokens, duplicated lines, forbidden
 * and mis-cased methods. Denials are a 403 with no `Access-Control-*` header (Node's own 400/431
 * are fine, a 5xx never is); odd but valid lists (case, OWS, duplicates) still work. Over HTTP
 * on each HTTP adapter.
 * cors-rules.md §1.2, §1.4, §1.6, §2 items 5, 9; conformance rows B9, B11, B12, B17–B20.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { CorsDecision, CorsPolicyOptions } from '../../lib/index.js';
import {
  acNames,
  bootApp,
  buildRequest,
  compile,
  mapLimit,
  probeController,
  rawExchange,
  show,
  trimOws,
  type ProbeMethod,
  type RawResult,
} from './support.js';
import { ADAPTERS } from '../e2e/helpers.js';

const ORIGIN = 'https://example.com';
const ALLOWED_HEADERS = ['content-type', 'x-request-id', 'authorization', 'x-api-key'];

interface HeaderPolicy {
  name: string;
  options: CorsPolicyOptions;
  /** What the route serves (ALL: an `@All()` route, so the route does not narrow ACRM). */
  served: ProbeMethod[];
  /** The configured method list, '*', or undefined (the route's methods). */
  methods: string[] | '*' | undefined;
  /** Lowercase allowed names, or null for any (echoed). */
  headers: string[] | null;
  acao: string;
}

const POLICIES: HeaderPolicy[] = [
  {
    name: 'strict',
    options: {
      origin: [ORIGIN],
      credentials: true,
      methods: ['GET', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ALLOWED_HEADERS,
      maxAge: 600,
    },
    served: ['GET', 'PUT', 'PATCH', 'DELETE'],
    methods: ['GET', 'PUT', 'PATCH', 'DELETE'],
    headers: ALLOWED_HEADERS,
    acao: ORIGIN,
  },
  {
    name: 'echo',
    options: { origin: [ORIGIN], credentials: true },
    served: ['GET', 'PUT', 'PATCH', 'DELETE'],
    methods: undefined,
    headers: null,
    acao: ORIGIN,
  },
  {
    name: 'star',
    options: { origin: '*', methods: '*', allowedHeaders: '*' },
    served: ['GET', 'PUT', 'PATCH', 'DELETE'],
    methods: '*',
    headers: null,
    acao: '*',
  },
  {
    name: 'star-all',
    options: { origin: '*', methods: '*', allowedHeaders: '*' },
    served: ['ALL'],
    methods: '*',
    headers: null,
    acao: '*',
  },
];

/** The methods the engine is told the route serves (Express answers HEAD with GET). */
function servedForEngine(p: HeaderPolicy): string[] {
  return p.served.includes('ALL') ? ['ALL'] : [...p.served, 'HEAD'];
}

// ----- the independent model ----------------------------------------------------------------------

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN = ['CONNECT', 'TRACE', 'TRACK'];
/** Bounds of cors-rules §2 item 9 (request-headers.ts): 4096 bytes, 64 names, 256 list items. */
const MAX_ACRH_BYTES = 4096;
const MAX_ACRH_NAMES = 64;
const MAX_ACRH_ITEMS = 256;

type Value = string | string[];

/** ACRH as the server sees it: several lines are one comma-separated list. */
function acrhText(v: Value): string {
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The lowercase names an ACRH value asks for, or 'deny'. Set semantics (case, OWS, order and
 * duplicates do not change the verdict), but every element counts against the bound, duplicates
 * included: the verdict must not depend on how the list is spelt.
 */
function acrhNames(v: Value): string[] | 'deny' {
  const text = acrhText(v);
  if (text.length > MAX_ACRH_BYTES) return 'deny';
  const items = text.split(',');
  if (items.length > MAX_ACRH_ITEMS) return 'deny';
  const names = items.map(trimOws).filter((n) => n.length > 0);
  if (names.length > MAX_ACRH_NAMES) return 'deny';
  if (!names.every((n) => TOKEN.test(n))) return 'deny';
  return names.map((n) => n.toLowerCase());
}

function acrmText(v: Value): string {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Would a correct module allow this preflight (allowed origin)? */
function modelAllows(p: HeaderPolicy, acrm: Value, acrh: Value | undefined): boolean {
  const m = acrmText(acrm);
  if (!TOKEN.test(m) || FORBIDDEN.includes(m.toUpperCase())) return false;
  if (Array.isArray(p.methods) && !p.methods.includes(m)) return false;
  if (!p.served.includes('ALL') && !p.served.includes(m as ProbeMethod)) return false;
  if (acrh === undefined) return true;
  const names = acrhNames(acrh);
  if (names === 'deny') return false;
  return p.headers === null || names.every((n) => (p.headers as string[]).includes(n));
}

// ----- inputs ---------------------------------------------------------------------------------------

const distinct = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}`);
const allowedRepeated = (n: number) =>
  Array.from({ length: n }, (_, i) => ALLOWED_HEADERS[i % ALLOWED_HEADERS.length]);
const KiB = 1024;

/** Hostile ACRH values (ACRM PUT), by class. */
const ACRH_ATTACKS: Record<string, Value[]> = {
  'acrh-huge': [
    `x-${'a'.repeat(MAX_ACRH_BYTES - 1)}`,
    `x-${'a'.repeat(8 * KiB)}`,
    `content-type,${'x'.repeat(8 * KiB)}`,
    `content-type${' '.repeat(8 * KiB)},x-request-id`,
    allowedRepeated(700).join(','),
    allowedRepeated(700).join(', '),
    'x-a,'.repeat(25 * KiB),
    `content-type,${'a'.repeat(100 * KiB)}`,
  ],
  'acrh-many': [
    distinct(65).join(','),
    distinct(500).join(','),
    distinct(65).join(', '),
    distinct(500).join(' , '),
    allowedRepeated(65).join(','),
    allowedRepeated(65).join(', '),
    allowedRepeated(200).join(', '),
    Array(65).fill('content-type').join(','),
    Array(65).fill('Content-Type').join(','),
    Array(100).fill('content-type').join(', '),
    ','.repeat(300),
    `content-type${','.repeat(300)}`,
    ` ,`.repeat(300),
  ],
  'acrh-separator': [
    'content-type;x-request-id',
    'content-type x-request-id',
    'content-type\tx-request-id',
    'content-type/x-request-id',
    'content-type:x-request-id',
    'content-type=x-request-id',
    'content-type\\x-request-id',
    'content-type|x-request-id',
    'content-type.x-request-id',
    'content-type&x-request-id',
    'content-type\u00a0x-request-id',
    'content-type\uff0cx-request-id',
    'content-type\u3001x-request-id',
    'content-type\u201ax-request-id',
    'content-type\x0bx-request-id',
    'content-type\x0cx-request-id',
    'content-type;q=1',
  ],
  'acrh-invalid-token': [
    'x foo',
    'x@y',
    '"x"',
    'x(y)',
    'x[y]',
    'x{y}',
    'x?y',
    '<x>',
    'x/y',
    'x=y',
    ':authority',
    '\u00fc',
    'x-\u00e4',
    'x-\u00e9',
    '\u00ff',
    '\u0130',
    // KELVIN SIGN: lower-cases to an ASCII "k", but is not a token byte.
    'x-api-\u212aey',
    '\u212a',
    'x\x7f',
    'x\0',
    '\x01',
    'content-type, x foo',
    'x-request-id,"content-type"',
    'content-type,\u00a0',
    'content-type\r\nX-Injected: 1',
    'x-evil\r\nX-Injected: 1',
    'content-type\r\n',
  ],
  'acrh-duplicate-lines': [
    ['content-type', 'x-evil'],
    ['content-type', 'x foo'],
    ['content-type', '"x"'],
    ['x-request-id', 'content-type;x'],
    [distinct(40).join(','), distinct(65).slice(40).join(',')],
    [allowedRepeated(40).join(','), allowedRepeated(25).join(',')],
  ],
};

/** Hostile ACRM values (no ACRH), by class. */
const ACRM_ATTACKS: Record<string, Value[]> = {
  'acrm-empty': ['', '\t', ' '],
  'acrm-case': ['put', 'Put', 'pUT', 'patch', 'Patch', 'delete', 'Delete', 'get'],
  'acrm-multiple': [
    'PUT, PUT',
    'PUT,PUT',
    'GET, PUT',
    'PUT PUT',
    'PUT;DELETE',
    ['PUT', 'PUT'],
    ['PUT', 'DELETE'],
    ['PUT', ''],
    ['', 'PUT'],
  ],
  'acrm-forbidden': ['CONNECT', 'connect', 'Connect', 'TRACE', 'trace', 'Trace', 'TRACK', 'track'],
  'acrm-invalid-token': [
    'PU T',
    'PUT;',
    '"PUT"',
    '(PUT)',
    'PUT/1.1',
    'P\u00dcT',
    'P\u212aT',
    'PUT\0',
    'PUT\x7f',
    '[PUT]',
    'PUT@',
    'P:UT',
    'PUT,',
    ',PUT',
    'PUT\r\nX-Injected: 1',
    'X\r\nX-Injected: 1',
  ],
  'acrm-long': [`PUT${'X'.repeat(100)}`, 'X'.repeat(8 * KiB), 'X'.repeat(100 * KiB)],
};

/** Odd but valid lists that must still be allowed (B9, B11, B12 and the bounds themselves). */
const ODD_BUT_VALID: Value[] = [
  'Content-Type, X-Request-Id',
  'CONTENT-TYPE',
  '  content-type ,x-request-id  ',
  'content-type,,x-request-id',
  ',content-type,',
  'content-type,content-type,CONTENT-TYPE',
  'content-type,\tx-request-id',
  'x-request-id, content-type, x-request-id',
  'x-api-key,Authorization',
  '',
  ',',
  ', ,',
  ' , , ',
  ['content-type', 'X-Request-Id'],
  ['', 'content-type'],
  ['content-type', 'content-type'],
  allowedRepeated(64).join(','),
  allowedRepeated(64).join(', '),
  distinct(64).join(','),
  distinct(64).join(', '),
  `content-type${' '.repeat(MAX_ACRH_BYTES - 'content-type,x-request-id'.length)},x-request-id`,
];

interface Case {
  cls: string;
  acrm: Value;
  acrh: Value | undefined;
}

function denialCases(p: HeaderPolicy): Case[] {
  const out: Case[] = [];
  for (const [cls, values] of Object.entries(ACRH_ATTACKS)) {
    for (const acrh of values) out.push({ cls, acrm: 'PUT', acrh });
  }
  for (const [cls, values] of Object.entries(ACRM_ATTACKS)) {
    for (const acrm of values) out.push({ cls, acrm, acrh: undefined });
  }
  // A value the policy is meant to allow (a valid token under "any header", a method under
  // methods '*' on an @All() route) is not an attack on it.
  return out.filter((c) => !modelAllows(p, c.acrm, c.acrh));
}

/** Does the case hold CR or LF bytes (which restructure the request on the wire)? */
function hasCrLf(c: Case): boolean {
  return [c.acrm, c.acrh].flat().some((v) => v !== undefined && /[\r\n]/.test(v));
}

/** On the wire a CRLF ends the line: an input whose first line is allowed is no attack there. */
function httpMeaningful(p: HeaderPolicy, c: Case): boolean {
  if (!hasCrLf(c)) return true;
  const firstLine = (v: Value | undefined) =>
    v === undefined || Array.isArray(v) ? v : trimOws(v.split('\r\n')[0]);
  return !modelAllows(p, firstLine(c.acrm) as Value, firstLine(c.acrh));
}

const CLASSES = [...Object.keys(ACRH_ATTACKS), ...Object.keys(ACRM_ATTACKS)];

function decide(p: HeaderPolicy, acrm: Value, acrh: Value | undefined): Promise<CorsDecision> {
  const headers: Record<string, string | string[]> = {
    origin: ORIGIN,
    'access-control-request-method': acrm,
  };
  if (acrh !== undefined) headers['access-control-request-headers'] = acrh;
  return compiled.get(p.name)!.decide({ method: 'OPTIONS', headers }, servedForEngine(p));
}

const compiled = new Map(POLICIES.map((p) => [p.name, compile(p.options)]));

function listItems(value: string | string[] | undefined): string[] {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return text
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** An allowed preflight's headers cover the request (cors-rules §1.6, §1.8). */
function coverageProblems(
  p: HeaderPolicy,
  acrm: string,
  acrh: Value,
  get: (name: string) => string | string[] | undefined,
): string[] {
  const problems: string[] = [];
  const acao = get('Access-Control-Allow-Origin');
  if (String(acao) !== p.acao) problems.push(`ACAO ${String(acao)}`);
  const acam = listItems(get('Access-Control-Allow-Methods'));
  if (!acam.includes(acrm) && !(acam.includes('*') && p.acao === '*')) {
    problems.push(`ACAM ${acam.join(',')} lacks ${acrm}`);
  }
  const acah = listItems(get('Access-Control-Allow-Headers')).map((h) => h.toLowerCase());
  for (const name of acrhNames(acrh) as string[]) {
    if (!acah.includes(name)) problems.push(`ACAH ${acah.join(',')} lacks ${name}`);
  }
  return problems;
}

// ----- engine ------------------------------------------------------------------------------------------

describe('hostile ACRH / ACRM, engine: decide() answers 403 with no Access-Control-* header', () => {
  for (const p of POLICIES) {
    describe(`policy "${p.name}"`, () => {
      const cases = denialCases(p);
      for (const cls of CLASSES) {
        const mine = cases.filter((c) => c.cls === cls);
        if (mine.length === 0) continue;
        it(`${cls}: ${mine.length} inputs`, async () => {
          const failures: unknown[] = [];
          for (const c of mine) {
            const d = await decide(p, c.acrm, c.acrh);
            if (d.allowed || d.status !== 403 || acNames(d.headers).length > 0) {
              failures.push({
                acrm: show(c.acrm),
                acrh: c.acrh === undefined ? undefined : show(c.acrh),
                status: d.status,
                headers: d.headers,
              });
            }
          }
          expect(failures).toEqual([]);
        });
      }

      it('odd but valid lists (case, OWS, duplicates, empty items, at the bounds) are allowed', async () => {
        const failures: unknown[] = [];
        for (const acrh of ODD_BUT_VALID) {
          if (!modelAllows(p, 'PUT', acrh)) continue;
          const d = await decide(p, 'PUT', acrh);
          const problems = d.allowed
            ? coverageProblems(p, 'PUT', acrh, (n) => d.headers[n])
            : [`denied: ${d.reason}`];
          if (d.status !== 204) problems.push(`status ${d.status}`);
          if (problems.length > 0) failures.push({ acrh: show(acrh), problems });
        }
        expect(failures).toEqual([]);
      });
    });
  }
});

// ----- HTTP --------------------------------------------------------------------------------------------

/**
 * Node answers 400 (bad bytes) or 431 (headers > 16 KiB) before any middleware runs (on Fastify,
 * through its own clientError handler, with the same statuses).
 */
const REJECTED_BY_NODE = new Set([400, 431]);

function lines(acrm: Value, acrh: Value | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [['Origin', ORIGIN]];
  for (const m of Array.isArray(acrm) ? acrm : [acrm]) {
    out.push(['Access-Control-Request-Method', m]);
  }
  if (acrh !== undefined) {
    for (const h of Array.isArray(acrh) ? acrh : [acrh]) {
      out.push(['Access-Control-Request-Headers', h]);
    }
  }
  return out;
}

describe.each(ADAPTERS)(
  '%s: hostile ACRH / ACRM over HTTP: 403, no Access-Control-*, never a 5xx',
  (adapter) => {
    let app: INestApplication;
    let port: number;

    beforeAll(async () => {
      ({ app, port } = await bootApp(
        adapter,
        {
          routes: 'decorated',
          debug: true,
          policies: Object.fromEntries(POLICIES.map((p) => [p.name, p.options])),
        },
        POLICIES.map((p) => probeController(p.name, p.served)),
      ));
    });

    afterAll(async () => {
      await app?.close();
    });

    function send(p: HeaderPolicy, acrm: Value, acrh: Value | undefined): Promise<RawResult> {
      return rawExchange(port, buildRequest('OPTIONS', `/${p.name}`, port, lines(acrm, acrh)));
    }

    for (const p of POLICIES) {
      describe(`policy "${p.name}"`, () => {
        const cases = denialCases(p).filter((c) => httpMeaningful(p, c));
        for (const cls of CLASSES) {
          const mine = cases.filter((c) => c.cls === cls);
          if (mine.length === 0) continue;
          it(`${cls}: ${mine.length} inputs`, async () => {
            const results = await mapLimit(mine, 16, async (c) => ({
              c,
              res: await send(p, c.acrm, c.acrh),
            }));
            const failures: unknown[] = [];
            for (const { c, res } of results) {
              const leaked = acNames(res.headers);
              // CR/LF bytes end the header block early or add lines: only "no CORS header, no
              // 5xx" is asserted for them.
              const restructured = hasCrLf(c);
              const statusOk =
                res.status < 500 &&
                (REJECTED_BY_NODE.has(res.status) || restructured || res.status === 403);
              if (!statusOk || leaked.length > 0) {
                failures.push({
                  acrm: show(c.acrm),
                  acrh: c.acrh === undefined ? undefined : show(c.acrh),
                  status: res.status,
                  leaked,
                });
              }
            }
            expect(failures).toEqual([]);
          });
        }

        it('odd but valid lists are allowed over HTTP (204, headers cover the request)', async () => {
          const failures: unknown[] = [];
          for (const acrh of ODD_BUT_VALID) {
            if (!modelAllows(p, 'PUT', acrh)) continue;
            const res = await send(p, 'PUT', acrh);
            const problems =
              res.status === 204
                ? coverageProblems(p, 'PUT', acrh, (n) => res.headers[n.toLowerCase()])
                : [`status ${res.status}`];
            if (problems.length > 0) failures.push({ acrh: show(acrh), problems });
          }
          expect(failures).toEqual([]);
        });
      });
    }
  },
);
