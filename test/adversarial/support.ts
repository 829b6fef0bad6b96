/**
 * Shared machinery of the adversarial suite: an independent model of what a browser can send as
 * `Origin` (cors-rules §1.12), the attack generators, a raw HTTP/1.1 client over node:net (for
 * bytes supertest and node:http refuse to send), and a small Nest app factory (either HTTP
 * adapter).
 */
import {
  All,
  Controller,
  Delete,
  Get,
  Module,
  Patch,
  Put,
  type INestApplication,
  type LoggerService,
  type Type,
} from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { connect, type AddressInfo } from 'node:net';
import { domainToASCII } from 'node:url';
import {
  Cors,
  CorsModule,
  CorsPolicy,
  type CorsDecision,
  type CorsModuleOptions,
  type CorsPolicyOptions,
} from '../../lib/index.js';
import type { AdapterName } from '../e2e/helpers.js';

// ----- the independent model of a serialized origin ------------------------------------------------

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };
const ORIGIN_ABNF =
  /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*)(?::([1-9][0-9]{0,4}))?$/;

export interface OriginParts {
  scheme: string;
  host: string;
  port: string | undefined;
}

/**
 * Is `o` an `Origin` value a browser can send (cors-rules §1.12)? Lowercase ASCII, no default
 * port, no trailing dot, no path, at most 64 + 3 + 253 + 1 + 5 bytes; for the special schemes the
 * value must also survive the WHATWG URL parser unchanged (canonical IPv4/IPv6, valid punycode).
 */
export function parseSerializedOrigin(o: string): OriginParts | undefined {
  if (o.length > 326) return undefined;
  const m = ORIGIN_ABNF.exec(o);
  if (m === null) return undefined;
  const [, scheme, host, port] = m;
  if (scheme.length > 64 || host.length > 253) return undefined;
  if (port !== undefined && Number(port) > 65535) return undefined;
  if (scheme in DEFAULT_PORT) {
    try {
      if (new URL(o).origin !== o) return undefined;
    } catch {
      return undefined;
    }
  }
  return { scheme, host, port };
}

// ----- policies under attack -------------------------------------------------------------------------

export interface PolicyUnderTest {
  /** Also the URL path of its routes in the HTTP app. */
  name: string;
  options: CorsPolicyOptions;
  /** Independent model: which single `Origin` values the policy is meant to allow. */
  allows(origin: string): boolean;
  /** Origins the attacks are derived from (allowed ones, or near misses such as an apex). */
  bases: string[];
  /** The bases that the policy allows (sanity check: the suite is not vacuous). */
  legit: string[];
  /** Attack classes that do not apply (they describe what the policy allows by design). */
  skip?: AttackClass[];
  /** Only the valid-origin check protects this policy (reflect, unanchored RegExp). */
  malformedOnly?: boolean;
}

const valid = (o: string) => parseSerializedOrigin(o) !== undefined;

export const POLICIES: PolicyUnderTest[] = [
  {
    name: 'exact',
    options: { origin: ['https://example.com', 'https://partner.example.org'], credentials: true },
    allows: (o) => o === 'https://example.com' || o === 'https://partner.example.org',
    bases: ['https://example.com', 'https://partner.example.org'],
    legit: ['https://example.com', 'https://partner.example.org'],
  },
  {
    name: 'subdomain',
    options: { origin: ['https://*.example.com'], credentials: true },
    allows: (o) => {
      const p = parseSerializedOrigin(o);
      return (
        p !== undefined &&
        p.scheme === 'https' &&
        p.port === undefined &&
        p.host.endsWith('.example.com') &&
        p.host.length > '.example.com'.length
      );
    },
    // The apex is not matched by `*.` (cors-rules §2 item 2): attacks are derived from it too.
    bases: ['https://example.com', 'https://app.example.com'],
    legit: ['https://app.example.com', 'https://a.b.example.com'],
    skip: ['subdomain'],
  },
  {
    name: 'port',
    options: { origin: ['http://localhost:*'], credentials: true },
    allows: (o) => {
      const p = parseSerializedOrigin(o);
      return p !== undefined && p.scheme === 'http' && p.host === 'localhost';
    },
    bases: ['http://localhost:3000'],
    legit: ['http://localhost:3000', 'http://localhost:65535', 'http://localhost'],
  },
  {
    name: 'regex',
    options: { origin: [/^https:\/\/(?:app|admin)\.example\.com$/], credentials: true },
    allows: (o) => valid(o) && /^https:\/\/(?:app|admin)\.example\.com$/.test(o),
    bases: ['https://app.example.com', 'https://admin.example.com'],
    legit: ['https://app.example.com', 'https://admin.example.com'],
  },
  {
    // `g` makes RegExp#test stateful; `i` and `m` would let upper case and "\n" through if the
    // value reached the RegExp unchecked.
    name: 'regex-flags',
    options: { origin: [/^https:\/\/app\.example\.com$/gim], credentials: true },
    allows: (o) => valid(o) && o === 'https://app.example.com',
    bases: ['https://app.example.com'],
    legit: ['https://app.example.com'],
  },
  {
    // A boot warning (cors-rules §2 item 2): valid origins that merely contain example.com are
    // allowed by the user's own pattern. Malformed values must still never reach it.
    name: 'regex-unanchored',
    options: { origin: [/example\.com/], credentials: true },
    allows: (o) => valid(o) && o.includes('example.com'),
    bases: ['https://example.com'],
    legit: ['https://example.com', 'https://example.com.evil.com'],
    malformedOnly: true,
  },
  {
    // Reflect: any valid serialized origin except `null` (cors-rules §2 item 3).
    name: 'reflect',
    options: { origin: true, credentials: true },
    allows: valid,
    bases: ['https://example.com', 'http://localhost:3000'],
    legit: ['https://example.com', 'https://evil.com', 'http://localhost:3000'],
    malformedOnly: true,
  },
];

/** Over HTTP only: `exact` with `enforce: true` (a denied actual request is a 403, never a 5xx). */
export const ENFORCE_POLICY: PolicyUnderTest = {
  ...POLICIES[0],
  name: 'exact-enforce',
  options: { ...POLICIES[0].options, enforce: true },
};

// ----- attack generators --------------------------------------------------------------------------

export const ATTACK_CLASSES = [
  'extend',
  'prefix',
  'substring',
  'contain',
  'unescaped-dot',
  'subdomain',
  'third-party',
  'homoglyph',
  'separator',
  'scheme',
  'case',
  'port',
  'trailing',
  'userinfo',
  'path',
  'null',
  'empty',
  'multiple',
  'control',
  'crlf',
  'whitespace',
  'long',
  'malformed-host',
  'ip-literal',
] as const;
export type AttackClass = (typeof ATTACK_CLASSES)[number];

/** One hostile `Origin`: a single value, or several header lines (an array). */
export type OriginInput = string | string[];

interface Base {
  o: string;
  s: string;
  h: string;
  /** ':3000' or ''. */
  p: string;
  port: string;
}

function splitBase(o: string): Base {
  const m = /^([a-z]+):\/\/([^:]+)(?::(\d+))?$/.exec(o);
  if (m === null) throw new Error(`bad base ${o}`);
  return { o, s: m[1], h: m[2], p: m[3] === undefined ? '' : `:${m[3]}`, port: m[3] ?? '' };
}

const SEPARATORS = [
  '_',
  '-',
  '%60',
  '`',
  '!',
  '$',
  '&',
  "'",
  '(',
  ')',
  '*',
  '+',
  ',',
  ';',
  '=',
  '~',
  '{',
  '}',
  '"',
  '^',
  '|',
  '%',
  '\\',
  '<',
  '>',
  '[',
  ']',
  '%2e',
  '%00',
  '%0d%0a',
];

/** Unicode look-alikes of ASCII letters (Cyrillic, Greek, Latin extended, number forms). */
const CONFUSABLES: Record<string, string[]> = {
  a: ['\u0430', '\u03b1', '\u0251'],
  e: ['\u0435', '\u212e'],
  o: ['\u043e', '\u03bf', '\u0585'],
  c: ['\u0441', '\u217d'],
  p: ['\u0440'],
  x: ['\u0445'],
  i: ['\u0456', '\u0131'],
  l: ['\u217c', '\u04cf'],
  m: ['\u217f'],
  t: ['\u0442'],
};

function fullwidth(s: string): string {
  return s.replace(/[a-z0-9]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
}

const CONTROL = [
  '\0',
  '\x01',
  '\x08',
  '\x0b',
  '\x0c',
  '\x1b',
  '\x7f',
  '\x85',
  '\u00a0',
  '\u200b',
  '\u200d',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\t',
];

/** A host of DNS-looking labels, exactly `length` characters, ending with `suffix`. */
function paddedHost(length: number, suffix: string): string {
  let filler = '';
  while (filler.length < length - suffix.length) filler += `${'a'.repeat(62)}b.`;
  filler = filler.slice(0, length - suffix.length);
  if (filler.endsWith('.')) filler = `${filler.slice(0, -1)}c`; // no empty label before suffix
  return filler + suffix;
}

function variants(base: string): Record<AttackClass, OriginInput[]> {
  const { o, s, h, p, port } = splitBase(base);
  const labels = h.split('.');
  const other = s === 'https' ? 'http' : 'https';
  const defaultPort = DEFAULT_PORT[s];
  const out: Record<AttackClass, OriginInput[]> = {
    extend: [
      `${s}://${h}.evil.com${p}`,
      `${s}://${h}.evil${p}`,
      `${s}://${h}evil.com${p}`,
      `${s}://${h}-evil.com${p}`,
      `${s}://${h}.com${p}`,
      `${s}://${h}.co.uk${p}`,
      `${s}://${h}.example.org${p}`,
      `${o}.evil.com`,
      `${o}evil`,
      `${o}0`,
    ],
    prefix: [
      `${s}://evil${h}${p}`,
      `${s}://not${h}${p}`,
      `${s}://evil-${h}${p}`,
      `${s}://evil_${h}${p}`,
      `${s}://d3v${h}${p}`,
      `${s}://0${h}${p}`,
      `${s}://${labels[0]}${h}${p}`,
    ],
    substring: [
      `${s}://${h.slice(1)}${p}`,
      `${s}://${h.slice(2)}${p}`,
      `${s}://${h.slice(0, -1)}${p}`,
      `${s}://${labels[0]}${p}`,
      `${s}://${labels.slice(1).join('.') || 'host'}${p}`,
      o.slice(0, -1),
      `${s}://${h.replace(/\.[^.]+$/, '.co')}${p}`,
    ],
    contain: [
      `${s}://evil.${h}.evil.com${p}`,
      `${s}://evil${h}evil${p}`,
      `${s}://evil-${h}-evil.com${p}`,
      `${s}://${h}.${h}.evil.com${p}`,
      `https://evil.com/${o}`,
      `https://evil.com?${o}`,
      `https://evil.com#${o}`,
      `https://evil.com/?origin=${o}`,
    ],
    'unescaped-dot': [
      ...labels.slice(1).map((_, i) => {
        const parts = [...labels];
        parts.splice(i, 2, `${labels[i]}x${labels[i + 1]}`);
        return `${s}://${parts.join('.')}${p}`;
      }),
      `${s}://${h.replace(/\./g, 'a')}${p}`,
      `${s}://${h.replace(/\./g, '-')}${p}`,
      `${s}://${h.replace(/\./g, '_')}${p}`,
    ],
    subdomain: [
      `${s}://evil.${h}${p}`,
      `${s}://www.${h}${p}`,
      `${s}://a.b.${h}${p}`,
      `${s}://${h}.${h}${p}`,
      `${s}://xn--80ak6aa92e.${h}${p}`,
    ],
    'third-party': [],
    homoglyph: [],
    separator: [],
    scheme: [
      `${other}://${h}${p}`,
      `ws://${h}${p}`,
      `wss://${h}${p}`,
      `ftp://${h}${p}`,
      `file://${h}`,
      'file://',
      'file:///etc/passwd',
      'javascript:alert(1)',
      `javascript://${h}`,
      `javascript://${h}/%0aalert(1)`,
      'data:text/html,<script>alert(1)</script>',
      'data:,',
      `blob:${o}/0b3c5b4e-7c3c-4c39-9b4f-1d5e0d1d1c1a`,
      `chrome-extension://${h}`,
      `view-source:${o}`,
      'about:blank',
      `${s}:${h}${p}`,
      `${s}:/${h}${p}`,
      `${s}:///${h}${p}`,
      `//${h}${p}`,
      `${h}${p}`,
      `${s}//${h}${p}`,
      `${s};//${h}${p}`,
      `${s}s://${h}${p}`,
      `hxxps://${h}${p}`,
    ],
    case: [
      o.toUpperCase(),
      `${s.toUpperCase()}://${h}${p}`,
      `${s}://${h.toUpperCase()}${p}`,
      `${s.charAt(0).toUpperCase()}${s.slice(1)}://${h}${p}`,
      `${s}://${h.charAt(0).toUpperCase()}${h.slice(1)}${p}`,
      `${s}://${h.replace(/[a-z]$/, (c) => c.toUpperCase())}${p}`,
      `${s}://${[...h].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('')}${p}`,
    ],
    port: [
      `${s}://${h}:${defaultPort}`,
      `${s}://${h}:0`,
      `${s}://${h}:0${defaultPort}`,
      `${s}://${h}:00${port || defaultPort}`,
      `${s}://${h}:65536`,
      `${s}://${h}:99999`,
      `${s}://${h}:123456`,
      `${s}://${h}:`,
      `${s}://${h}:abc`,
      `${s}://${h}:-1`,
      `${s}://${h}:+${port || defaultPort}`,
      `${s}://${h}:${defaultPort}:${defaultPort}`,
      `${s}://${h}: ${port || defaultPort}`,
      `${s}://${h}:1e3`,
      `${s}://${h}:0x50`,
      `${s}://${h}:${fullwidth(port || defaultPort)}`,
      `${s}://${h}:8443`,
      `${s}://${h}:444`,
      `${s}://${h}:1`,
      `${s}://${h}:65535`,
      `${o}${p ? '' : ':'}0`,
    ],
    trailing: [
      `${s}://${h}.${p}`,
      `${s}://${h}..${p}`,
      `${o}.`,
      `${o}/`,
      `${o}//`,
      `${o}/.`,
      `${o}\\`,
      `${o}/\\`,
    ],
    userinfo: [
      `${s}://${h}@evil.com`,
      `${s}://${h}${p}@evil.com`,
      `${s}://evil.com@${h}${p}`,
      `${s}://user:pass@${h}${p}`,
      `${s}://evil.com#@${h}${p}`,
      `${s}://evil.com\\@${h}${p}`,
      `${s}://evil.com%40${h}${p}`,
      `${s}://${h}%40evil.com`,
      `${s}://:@${h}${p}`,
      `${s}://@${h}${p}`,
      `${s}://${h}:@evil.com`,
    ],
    path: [
      `${o}/`,
      `${o}/path`,
      `${o}?x=1`,
      `${o}#frag`,
      `${o}/..`,
      `${o};param`,
      `${o}%2f`,
      `${o}/%2e%2e/`,
      `${o}?`,
      `${o}#`,
      `${o}/.evil.com`,
    ],
    null: [],
    empty: [],
    multiple: [
      `${o}, https://evil.com`,
      `https://evil.com, ${o}`,
      `${o},https://evil.com`,
      `${o}, ${o}`,
      `${o},${o}`,
      `${o} ${o}`,
      `null, ${o}`,
      `${o}, null`,
      [o, 'https://evil.com'],
      ['https://evil.com', o],
      [o, o],
      [o, 'null'],
      ['', o],
      [o, ''],
      [o, o, o],
    ],
    control: CONTROL.flatMap((c) => [
      `${o}${c}`,
      `${c}${o}`,
      `${s}://${h.slice(0, 3)}${c}${h.slice(3)}${p}`,
    ]),
    crlf: [
      `${o}\r`,
      `${o}\n`,
      `${o}\r\n`,
      `${o}\r\nX-Injected: 1`,
      `${o}\r\nSet-Cookie: a=b`,
      `${o}\r\n\r\nGET / HTTP/1.1`,
      `https://evil.com\r\nX-Origin: ${o}`,
      `https://evil.com\r\n${o}`,
      `${o}\n${o}`,
      `\r\n${o}`,
      `${o}%0d%0aX-Injected:%201`,
      `${o}\u010d\u010a`,
    ],
    whitespace: [
      ` ${o}`,
      `${o} `,
      `\t${o}`,
      `${o}\t`,
      `  ${o}  `,
      `${s}:// ${h}${p}`,
      `${s}://${h} ${p}`,
      `${s} ://${h}${p}`,
      `${s}://${h} .evil.com`,
      `${o} evil`,
      `${o}\t.evil.com`,
    ],
    long: [
      // A valid-looking origin at the 326 / 327 boundary, ending like the allowed one.
      `${s}://${paddedHost(326 - s.length - 3 - p.length, `.${h}`)}${p}`,
      `${s}://${paddedHost(327 - s.length - 3 - p.length, `.${h}`)}${p}`,
      // The longest possible serialized origin (64-char scheme, 253-char host, 5-digit port).
      `${'a'.repeat(64)}://${paddedHost(253, '.com')}:65535`,
      `${'a'.repeat(65)}://${paddedHost(253, '.com')}:65535`,
      `${s}://${'a'.repeat(64)}.${h}${p}`,
      `${s}://${paddedHost(254, `.${h}`)}${p}`,
      `${s}://${'a.'.repeat(160)}${h}${p}`,
      `${o}${'a'.repeat(5 * 1024)}`,
      `${s}://${'a.'.repeat(2560)}${h}${p}`,
      `${o}/${'a'.repeat(5 * 1024)}`,
      `${'a'.repeat(64 * 1024)}${o}`,
      `${s}://${'a'.repeat(64 * 1024)}.${h}${p}`,
      `${o}:${'9'.repeat(5 * 1024)}`,
    ],
    'malformed-host': [
      `${s}://*.${h}${p}`,
      `${s}://*${p}`,
      '*',
      `${s}://.${h}${p}`,
      `${s}://${h.replace('.', '..')}${p}`,
      `${s}://-${p}`,
      `${s}://${p}`,
      `${s}://[${h}]${p}`,
      `${s}://${h}.-${p}`,
      'https://xn--.com',
      'https://xn--a.com',
    ],
    // Non-canonical IP literals: the URL parser serializes every IPv4 form as dotted decimal and
    // IPv6 in RFC 5952 form, so a browser never sends these (cors-rules §1.12).
    'ip-literal': [
      'http://[:]',
      'http://[::1::]',
      'http://[0:0:0:0:0:0:0:1]',
      'http://[::ffff:127.0.0.1]',
      'http://[1.2.3.4]',
      'http://[::1',
      'http://::1',
      'http://127.1',
      'http://2130706433',
      'http://0x7f.0.0.1',
      'http://0177.0.0.1',
      'http://999.999.999.999',
      'http://1.2.3.4.5',
      'http://[::1]:0',
      'http://[::1]:080',
    ],
  };
  const seps = SEPARATORS.flatMap((c) => [
    `${s}://${h}${c}.evil.com${p}`,
    `${s}://${h}${c}${p}`,
    `${s}://evil.com${c}${h}${p}`,
    `${o}${c}`,
  ]);
  out.separator.push(...seps);
  const glyphs: string[] = [];
  for (const [ascii, lookalikes] of Object.entries(CONFUSABLES)) {
    const at = h.indexOf(ascii);
    if (at === -1) continue;
    for (const g of lookalikes) {
      const host = h.slice(0, at) + g + h.slice(at + 1);
      glyphs.push(`${s}://${host}${p}`);
      const ascii2 = domainToASCII(host);
      if (ascii2) glyphs.push(`${s}://${ascii2}${p}`); // its punycode form: a valid, other origin
    }
  }
  glyphs.push(
    `${s}://${fullwidth(h)}${p}`,
    `${s}://${h.replace(/\./g, '\uff0e')}${p}`,
    `${s}://${h.replace(/\./g, '\u3002')}${p}`,
    `${s}://${h.replace(/\./g, '\uff61')}${p}`,
    `${s}://${h.slice(0, 2)}\u00ad${h.slice(2)}${p}`,
    `${s}://${h.slice(0, 2)}\u200c${h.slice(2)}${p}`,
    `${s}://${h.slice(0, 2)}\u0307${h.slice(2)}${p}`,
    `${s}://\u{1d41e}${h.slice(1)}${p}`,
    `${s}://${h}\u3002evil.com${p}`,
    `${fullwidth(s)}://${h}${p}`,
    `${s}\uff1a//${h}${p}`,
  );
  out.homoglyph.push(...glyphs);
  return out;
}

const NULLS = [
  'null',
  'NULL',
  'Null',
  ' null',
  'null ',
  '"null"',
  "'null'",
  'nul',
  'nulll',
  'null\0',
  'null, null',
  'null,null',
  'undefined',
  'about:srcdoc',
  'none',
  'false',
  '0',
];
const EMPTIES = ['', ' ', '\t', ' \t ', '""', "''", '//', '://'];
const THIRD_PARTY = [
  'https://example.github.io',
  'https://evil.github.io',
  'https://example.com.s3.amazonaws.com',
  'https://example-com.herokuapp.com',
  'https://example.vercel.app',
  'https://example.pages.dev',
  'https://example.netlify.app',
  'https://example.com.ngrok-free.app',
  'https://jsfiddle.net',
  'https://codepen.io',
];

export interface Attack {
  cls: AttackClass;
  value: OriginInput;
}

/** `value` with the leading/trailing OWS a server's HTTP parser strips (RFC 9110 §5.5). */
export function trimOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * Every hostile input of `cls` for `policy` that the policy must deny: generated from its bases,
 * de-duplicated, and filtered through the independent model (a value the policy is meant to
 * allow is not an attack on it).
 */
export function attacksFor(policy: PolicyUnderTest, cls: AttackClass): OriginInput[] {
  if (policy.skip?.includes(cls)) return [];
  let values: OriginInput[];
  if (cls === 'null') values = NULLS;
  else if (cls === 'empty') values = EMPTIES;
  else if (cls === 'third-party') values = THIRD_PARTY;
  else values = policy.bases.flatMap((b) => variants(b)[cls]);
  const seen = new Set<string>();
  const out: OriginInput[] = [];
  for (const v of values) {
    const key = JSON.stringify(v);
    if (seen.has(key)) continue;
    seen.add(key);
    if (typeof v === 'string' && policy.allows(v)) continue;
    if (policy.malformedOnly && typeof v === 'string' && valid(v)) continue;
    out.push(v);
  }
  return out;
}

/**
 * Can `value` be sent over HTTP as a hostile input? Not when the bytes on the wire amount to an
 * allowed Origin: leading/trailing OWS is stripped by the server's parser, and a CRLF ends the
 * header line (what follows becomes another header), so those inputs are engine-only.
 */
export function httpMeaningful(policy: PolicyUnderTest, value: OriginInput): boolean {
  if (Array.isArray(value)) return true;
  const firstLine = value.split('\r\n')[0];
  return !policy.allows(trimOws(firstLine));
}

// ----- helpers over decisions and responses -----------------------------------------------------------

export function acNames(headers: Record<string, unknown>): string[] {
  return Object.keys(headers).filter((k) => k.toLowerCase().startsWith('access-control-'));
}

/** A readable, bounded rendering of an input for failure messages. */
export function show(value: OriginInput): string {
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 100)}…(${text.length} chars)` : text;
}

export function compile(options: CorsPolicyOptions): CorsPolicy {
  return CorsPolicy.compile(options, 'adversarial');
}

export type RequestShape = 'GET' | 'PUT' | 'OPTIONS' | 'preflight';

/** decide() for one Origin input in one request shape. */
export function decideFor(
  policy: CorsPolicy,
  origin: OriginInput,
  shape: RequestShape,
): Promise<CorsDecision> {
  const headers: Record<string, string | string[]> = { origin };
  if (shape === 'preflight') {
    headers['access-control-request-method'] = 'PUT';
    headers['access-control-request-headers'] = 'content-type';
  }
  const method = shape === 'preflight' ? 'OPTIONS' : shape;
  return policy.decide({ method, headers }, ['GET', 'HEAD', 'PUT']);
}

// ----- raw HTTP/1.1 over node:net ------------------------------------------------------------------------

export interface RawResult {
  status: number;
  /** Lowercase names; every line of a repeated header. */
  headers: Record<string, string[]>;
}

function encodeValue(value: string): Buffer {
  // What a client would put on the wire: bytes as they are, UTF-8 beyond Latin-1.
  const beyondLatin1 = [...value].some((c) => c.codePointAt(0)! > 0xff);
  return Buffer.from(value, beyondLatin1 ? 'utf8' : 'latin1');
}

/** Builds a request; each [name, value] pair is one header line, sent byte for byte. */
export function buildRequest(
  method: string,
  path: string,
  port: number,
  lines: ReadonlyArray<readonly [string, string]>,
): Buffer {
  const parts: Buffer[] = [
    Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`),
  ];
  for (const [name, value] of lines) {
    parts.push(Buffer.from(`${name}: `), encodeValue(value), Buffer.from('\r\n'));
  }
  if (method === 'PUT' || method === 'POST') parts.push(Buffer.from('Content-Length: 0\r\n'));
  parts.push(Buffer.from('Connection: close\r\n\r\n'));
  return Buffer.concat(parts);
}

function parseResponse(text: string): RawResult {
  const head = text.split('\r\n\r\n')[0];
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  return { status, headers };
}

/** Sends `request` on a fresh connection and reads the response until the server closes it. */
export function rawExchange(port: number, request: Buffer): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      const text = Buffer.concat(chunks).toString('latin1');
      if (text.startsWith('HTTP/')) resolve(parseResponse(text));
      else reject(error ?? new Error('the server closed the connection without a response'));
    };
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => finish(e)); // e.g. EPIPE after a 431: the response is what counts
    socket.on('close', () => finish());
    socket.write(request);
  });
}

/** Runs `fn` over `items`, at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ----- the Nest app -------------------------------------------------------------------------------------

export type ProbeMethod = 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'ALL';

/**
 * A controller at `/<name>` serving `methods` (each returns 'ok') under the named `policy` (null:
 * no `@Cors`, the module defaults apply).
 */
export function probeController(
  name: string,
  methods: ProbeMethod[] = ['GET', 'PUT'],
  policy: string | null = name,
): Type {
  class Probe {
    get() {
      return 'ok';
    }
    put() {
      return 'ok';
    }
    patch() {
      return 'ok';
    }
    remove() {
      return 'ok';
    }
    all() {
      return 'ok';
    }
  }
  Object.defineProperty(Probe, 'name', { value: `Probe_${name.replace(/\W/g, '_')}` });
  const proto = Probe.prototype as unknown as Record<string, unknown>;
  const decorators: Record<ProbeMethod, [string, MethodDecorator]> = {
    GET: ['get', Get()],
    PUT: ['put', Put()],
    PATCH: ['patch', Patch()],
    DELETE: ['remove', Delete()],
    ALL: ['all', All()],
  };
  for (const method of methods) {
    const [key, decorator] = decorators[method];
    decorator(proto, key, Object.getOwnPropertyDescriptor(proto, key) as PropertyDescriptor);
  }
  if (policy !== null) Cors(policy)(Probe);
  Controller(name)(Probe);
  return Probe;
}

/**
 * Boots a Nest app on `adapter` with `CorsModule.forRoot(options)` and `controllers`, listening
 * on 127.0.0.1 (its logs go to `logger`).
 */
export async function bootApp(
  adapter: AdapterName,
  options: CorsModuleOptions,
  controllers: Type[],
  logger: LoggerService | false = false,
): Promise<{ app: INestApplication; port: number }> {
  @Module({ imports: [CorsModule.forRoot(options)], controllers })
  class AdversarialModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AdversarialModule] }).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger })
      : moduleRef.createNestApplication({ logger });
  await app.init();
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, port };
}
