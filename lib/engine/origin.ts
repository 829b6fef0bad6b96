/**
 * Origins: strict parsing of configured origins at boot, and a bounded, allocation-light check of
 * the request's `Origin` per request (Fetch §3.2 serialized origin, cors-rules §1.5, §1.12, §2).
 */
import { domainToASCII } from 'node:url';
import type { CorsProblemCode, CorsProblemPlace, ProblemList } from './errors.js';

/** 64 (scheme) + 3 + 253 (host) + 1 + 5 (port): nothing longer is a serialized origin. */
export const MAX_ORIGIN_LENGTH = 326;

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };

/** Suffixes under which anyone can register a name: a credentialed wildcard over them is refused. */
const PUBLIC_SUFFIXES = new Set([
  'co.uk',
  'org.uk',
  'ac.uk',
  'gov.uk',
  'com.au',
  'net.au',
  'org.au',
  'co.jp',
  'ne.jp',
  'co.nz',
  'com.br',
  'com.cn',
  'com.mx',
  'co.in',
  'co.za',
  'com.tr',
  'github.io',
  'gitlab.io',
  'herokuapp.com',
  'vercel.app',
  'netlify.app',
  'pages.dev',
  'workers.dev',
  'web.app',
  'firebaseapp.com',
  'appspot.com',
  'azurewebsites.net',
  'cloudfront.net',
  'amazonaws.com',
  'blogspot.com',
  'onrender.com',
  'fly.dev',
  'glitch.me',
  'ngrok.io',
  'ngrok-free.app',
  'trycloudflare.com',
]);

/** A configured origin, parsed and canonicalised. */
export type ParsedOriginEntry =
  | { kind: 'any' }
  | { kind: 'null' }
  /** file: pages send `Origin: null`: a configured `file://…` never matches. */
  | { kind: 'file' }
  /** `cleartext`: `http:` on a host that is not loopback (cookies would travel in clear). */
  | { kind: 'exact'; origin: string; cleartext: boolean }
  /** `scheme://*.suffix[:port|:*]` or `scheme://host:*`, stored as the lookup key. */
  | { kind: 'pattern'; key: string; display: string; publicSuffix: boolean; cleartext: boolean };

/** Result of the per-request origin scan: indexes into the string, no substrings. */
interface OriginParts {
  schemeEnd: number; // index of ':' in '://'
  hostStart: number;
  hostEnd: number; // index of ':' before the port, or length
}

const parts: OriginParts = { schemeEnd: 0, hostStart: 0, hostEnd: 0 };

function isLowerAlpha(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Is `s` a serialized origin as a browser sends it (lowercase scheme and host, ASCII host, no
 * default-looking garbage, no path)? Fills the shared `parts` scratch on success. Linear, bounded.
 */
export function scanSerializedOrigin(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > MAX_ORIGIN_LENGTH) return false;
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), lowercase
  if (!isLowerAlpha(s.charCodeAt(0))) return false;
  let i = 1;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (isLowerAlpha(c) || isDigit(c) || c === 43 || c === 45 || c === 46) continue;
    break;
  }
  if (
    i > 64 ||
    s.charCodeAt(i) !== 58 ||
    s.charCodeAt(i + 1) !== 47 ||
    s.charCodeAt(i + 2) !== 47
  ) {
    return false;
  }
  parts.schemeEnd = i;
  i += 3;
  parts.hostStart = i;
  if (i >= n) return false;
  if (s.charCodeAt(i) === 91) {
    // [IPv6]: hex digits, ':' and '.', lowercase
    i++;
    const start = i;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (isDigit(c) || (c >= 97 && c <= 102) || c === 58 || c === 46) continue;
      break;
    }
    if (i === start || s.charCodeAt(i) !== 93) return false;
    i++;
    if (!isCanonicalIPv6(s.slice(start, i - 1))) return false;
  } else {
    // domain or IPv4: labels of [a-z0-9-_], separated by single dots, no leading/trailing dot
    let labelLength = 0;
    let lastLabelStart = i;
    let punycode = false;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (isLowerAlpha(c) || isDigit(c) || c === 45 || c === 95) {
        if (++labelLength > 63) return false;
        if (labelLength === 4 && c === 45 && s.startsWith('xn-', i - 3)) punycode = true;
        continue;
      }
      if (c === 46) {
        if (labelLength === 0) return false;
        labelLength = 0;
        lastLabelStart = i + 1;
        continue;
      }
      break;
    }
    if (labelLength === 0) return false;
    if (i - parts.hostStart > 253) return false;
    // A host whose last label is a number is an IPv4 address: only its dotted-quad form is sent.
    const last = s.charCodeAt(lastLabelStart);
    if (isDigit(last) && !isDottedQuad(s, parts.hostStart, i, lastLabelStart)) return false;
    // Punycode labels must decode (the browser sends only what it encoded).
    if (punycode) {
      const host = s.slice(parts.hostStart, i);
      if (domainToASCII(host) !== host) return false;
    }
  }
  parts.hostEnd = i;
  if (i === n) return true;
  // ":" port, 1-5 digits, no leading zero, <= 65535
  if (s.charCodeAt(i) !== 58) return false;
  const portStart = ++i;
  if (portStart === n || n - portStart > 5) return false;
  for (; i < n; i++) if (!isDigit(s.charCodeAt(i))) return false;
  if (s.charCodeAt(portStart) === 48) return false;
  const port = s.slice(portStart);
  if (Number(port) > 65535) return false;
  // Browsers never send a scheme's default port.
  const scheme = s.slice(0, parts.schemeEnd);
  return DEFAULT_PORTS[scheme] !== port;
}

/** Is `v6` (inside brackets) the compressed lowercase form browsers serialize? Rare: URL does it. */
function isCanonicalIPv6(v6: string): boolean {
  try {
    return new URL(`http://[${v6}]`).hostname === `[${v6}]`;
  } catch {
    return false;
  }
}

/**
 * Is s[start, end) an IPv4 dotted quad (four decimal octets, no leading zeros)? Called when the
 * last label starts with a digit; a name like `1password.com` (last label not numeric) is fine.
 */
function isDottedQuad(s: string, start: number, end: number, lastLabelStart: number): boolean {
  let lastNumeric = true;
  for (let k = lastLabelStart; k < end; k++) if (!isDigit(s.charCodeAt(k))) lastNumeric = false;
  if (!lastNumeric && !s.startsWith('0x', lastLabelStart)) return true; // e.g. `example.3com`
  let octets = 0;
  let value = 0;
  let digits = 0;
  for (let k = start; k <= end; k++) {
    const c = k === end ? 46 : s.charCodeAt(k);
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      octets++;
      value = 0;
      digits = 0;
      continue;
    }
    if (!isDigit(c) || (digits > 0 && value === 0)) return false; // non-decimal or leading zero
    value = value * 10 + (c - 48);
    digits++;
  }
  return octets === 4;
}

/** Keys under which the pattern set is searched for a valid request origin (see `patternKey`). */
export function matchesPattern(origin: string, patterns: ReadonlySet<string>): boolean {
  // Call only after scanSerializedOrigin(origin) returned true.
  const scheme = origin.slice(0, parts.schemeEnd + 3); // 'https://'
  const host = origin.slice(parts.hostStart, parts.hostEnd);
  const port = origin.slice(parts.hostEnd); // '' or ':8080'
  if (patterns.has(scheme + host + ':*')) return true;
  // `*.` is one or more labels: try every proper suffix that starts at a dot.
  for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
    const wildcard = scheme + '*' + host.slice(dot);
    if (patterns.has(wildcard + port) || patterns.has(wildcard + ':*')) return true;
  }
  return false;
}

/** Why a configured origin string is refused: thrown by the parsing steps, reported once. */
class Refused {
  constructor(
    readonly code: CorsProblemCode,
    readonly message: string,
  ) {}
}

/**
 * Parses one configured origin string strictly. Reports each problem with `where`; returns
 * undefined when the entry is unusable.
 */
export function parseConfiguredOrigin(
  raw: string,
  where: CorsProblemPlace,
  problems: ProblemList,
): ParsedOriginEntry | undefined {
  const parsed = parseOriginEntry(raw);
  if (parsed.kind !== 'refused') return parsed;
  problems.error(where, parsed.code, parsed.message, raw);
  return undefined;
}

/** A configured origin string parsed, or why it is refused (the same for every policy). */
export type OriginEntryParse =
  | ParsedOriginEntry
  | { readonly kind: 'refused'; readonly code: CorsProblemCode; readonly message: string };

/**
 * `parseConfiguredOrigin` without side effects, so that a result can be kept and reused: live
 * origin lists reparse only the entries they did not hold before.
 */
export function parseOriginEntry(raw: string): OriginEntryParse {
  if (raw === '*') return { kind: 'any' };
  if (raw === 'null') return { kind: 'null' };
  try {
    return parseOriginString(raw);
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    return { kind: 'refused', code: error.code, message: error.message };
  }
}

function parseOriginString(raw: string): ParsedOriginEntry {
  const quoted = JSON.stringify(raw);
  if (raw.length === 0) throw new Refused('empty-origin', 'an empty string is not an origin');
  if (/[\s,]/.test(raw)) {
    throw new Refused(
      'origin-has-several-values',
      `origin ${quoted} holds several values or whitespace: give one origin per array item`,
    );
  }
  const { scheme, rest } = splitScheme(raw, quoted);
  if (scheme === 'file') return { kind: 'file' };
  const { host, port } = splitHostPort(rest, scheme, quoted);
  const portKey = port === undefined ? '' : `:${port}`;
  const wildcard = host.startsWith('*.');
  const name = wildcard ? host.slice(2) : host;
  if (name.includes('*')) {
    throw new Refused(
      'origin-invalid-wildcard',
      `origin ${quoted}: "*" is only allowed as the whole leftmost label ("https://*.example.com") or as the port (":*")`,
    );
  }
  const canonicalHost = canonicalHostOf(scheme, name);
  if (canonicalHost === undefined) {
    throw new Refused('origin-invalid-host', `origin ${quoted} has an invalid host "${name}"`);
  }
  if (wildcard) return subdomainPattern(scheme, canonicalHost, portKey, quoted);
  const cleartext = scheme === 'http' && !isLoopbackHost(canonicalHost);
  if (port === '*') {
    const display = `${scheme}://${canonicalHost}:*`;
    return { kind: 'pattern', key: display, display, publicSuffix: false, cleartext };
  }
  return { kind: 'exact', origin: `${scheme}://${canonicalHost}${portKey}`, cleartext };
}

/** `scheme://rest`, lower-cased scheme; no path, query, fragment or user info in `rest`. */
function splitScheme(raw: string, quoted: string): { scheme: string; rest: string } {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(raw);
  if (!match) {
    if (raw.startsWith('*.')) {
      throw new Refused(
        'origin-bare-wildcard',
        `origin ${quoted} is a bare wildcard: write the scheme, e.g. "https://${raw}"`,
      );
    }
    throw new Refused(
      'origin-without-scheme',
      `origin ${quoted} has no scheme: an origin is scheme://host[:port], e.g. "https://${raw.replace(/^\/+/, '')}"`,
    );
  }
  const scheme = match[1].toLowerCase();
  const rest = match[2];
  if (scheme === 'file') return { scheme, rest };
  const pathAt = rest.search(/[/?#]/);
  if (pathAt !== -1) {
    const slash = rest.slice(pathAt) === '/';
    const what = slash ? 'a trailing slash' : `a path ("${rest.slice(pathAt)}")`;
    throw new Refused(
      slash ? 'origin-has-trailing-slash' : 'origin-has-path',
      `origin ${quoted} has ${what}: browsers send the origin only, "${scheme}://${rest.slice(0, pathAt)}"`,
    );
  }
  if (rest.includes('@')) {
    throw new Refused(
      'origin-has-userinfo',
      `origin ${quoted} has user info: an origin is scheme://host[:port]`,
    );
  }
  return { scheme, rest };
}

/** "[v6]:port" or "host:port": the port canonical ('8080', '*'), never the scheme's default. */
function splitHostPort(
  rest: string,
  scheme: string,
  quoted: string,
): { host: string; port: string | undefined } {
  const portSep = rest.startsWith('[')
    ? rest.indexOf(':', rest.indexOf(']'))
    : rest.lastIndexOf(':');
  if (portSep === -1) return { host: rest, port: undefined };
  const host = rest.slice(0, portSep);
  const port = rest.slice(portSep + 1);
  if (port === '*') return { host, port };
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
    throw new Refused('origin-invalid-port', `origin ${quoted} has an invalid port "${port}"`);
  }
  if (DEFAULT_PORTS[scheme] === String(Number(port))) {
    throw new Refused(
      'origin-default-port',
      `origin ${quoted} has the default port: browsers never send it, write "${scheme}://${host}"`,
    );
  }
  return { host, port: String(Number(port)) };
}

/** `https://*.example.com[:port]`: one or more labels under a name, never over an IP address. */
function subdomainPattern(
  scheme: string,
  canonicalHost: string,
  portKey: string,
  quoted: string,
): ParsedOriginEntry {
  if (canonicalHost.startsWith('[') || /^[0-9.]+$/.test(canonicalHost)) {
    throw new Refused(
      'origin-ip-wildcard',
      `origin ${quoted}: a subdomain wildcard over an IP address matches nothing`,
    );
  }
  const publicSuffix = !canonicalHost.includes('.') || PUBLIC_SUFFIXES.has(canonicalHost);
  const display = `${scheme}://*.${canonicalHost}${portKey}`;
  return {
    kind: 'pattern',
    key: display,
    display,
    publicSuffix,
    // Every name under `localhost` is loopback (browsers resolve `*.localhost` locally).
    cleartext: scheme === 'http' && canonicalHost !== 'localhost',
  };
}

/** `localhost`, `*.localhost`, 127.0.0.0/8 and `[::1]`: traffic that never leaves the machine. */
function isLoopbackHost(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host)
  );
}

/** Lowercase, punycode (IDN) and compressed IPv6, as the browser serializes the host. */
function canonicalHostOf(scheme: string, host: string): string | undefined {
  if (host.length === 0) return undefined;
  if (scheme === 'http' || scheme === 'https' || scheme === 'ws' || scheme === 'wss') {
    try {
      const hostname = new URL(`${scheme}://${host}`).hostname;
      return scanSerializedOrigin(`${scheme}://${hostname}`) ? hostname : undefined;
    } catch {
      return undefined;
    }
  }
  // Other schemes (chrome-extension://id, app://…): ASCII after IDNA, lowercase.
  const ascii = domainToASCII(host.toLowerCase()) || host.toLowerCase();
  return scanSerializedOrigin(`${scheme}://${ascii}`) ? ascii : undefined;
}

/** Is `origin` the request's own origin (same-origin requests carry Origin on non-GET)? */
export function isSameOrigin(origin: string, protocol: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  const hostLower = host.toLowerCase();
  const port = hostLower.lastIndexOf(':');
  let serialized = `${protocol}://${hostLower}`;
  // Host may carry the default port, which an Origin never does.
  if (port > hostLower.lastIndexOf(']') && DEFAULT_PORTS[protocol] === hostLower.slice(port + 1)) {
    serialized = `${protocol}://${hostLower.slice(0, port)}`;
  }
  return origin === serialized;
}
