/**
 * The options of one `proxies` entry, checked at boot: the path prefix, the fixed target, the
 * header lists and the limits. Every problem is listed (never only the first), each with the
 * entry's place (`proxies["/vendor"]`). Nothing here touches the network.
 */
import {
  configProblem,
  proxyPlace,
  type CorsConfigProblem,
  type CorsProblemCode,
} from '../engine/errors.js';
import { describeValue, isToken } from '../engine/tokens.js';
import type { CorsProxyOptions } from '../interfaces/cors-options.interface.js';
import { FORBIDDEN_FORWARD_HEADERS, FORBIDDEN_SET_HEADERS } from './proxy-headers.js';

/** The defaults of the numeric options. */
export const PROXY_DEFAULTS = Object.freeze({
  connectTimeout: 5000,
  timeout: 30000,
  maxRequestBytes: 1048576,
});

/** The largest `connectTimeout` and `timeout` (ten minutes). */
export const MAX_PROXY_TIMEOUT = 600000;

/** Every key of `CorsProxyOptions` (the compiler checks the list against the type). */
const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'target',
  'policy',
  'forwardHeaders',
  'setHeaders',
  'forwardSetCookie',
  'connectTimeout',
  'timeout',
  'maxRequestBytes',
] satisfies Array<keyof CorsProxyOptions>);

/** Where requests go, as fixed at boot. */
export interface ProxyEndpoint {
  /** `http:` or `https:`. */
  readonly protocol: 'http:' | 'https:';
  /** The host to connect to (an IPv6 address without brackets). */
  readonly hostname: string;
  /** The port to connect to (the scheme's default when the URL names none). */
  readonly port: number;
  /** The `Host` header sent: host, and port when not the default (`[::1]:8080`). */
  readonly host: string;
  /** `https://api.vendor.example` */
  readonly origin: string;
  /** The target's path as written (after URL normalisation): what the prefix itself maps to. */
  readonly targetPath: string;
  /** The same without a trailing `/` (`''` for `/`): what sub-paths are appended to. */
  readonly basePath: string;
}

/** One entry, validated and normalised. */
export interface ProxySettings {
  /** Leading `/`, no trailing `/`. */
  readonly prefix: string;
  readonly endpoint: ProxyEndpoint;
  /** Lowercase names forwarded from the client besides the defaults, without duplicates. */
  readonly forwardHeaders: readonly string[];
  /** Lowercase names and values added by the server. */
  readonly setHeaders: ReadonlyArray<readonly [string, string]>;
  readonly forwardSetCookie: boolean;
  readonly connectTimeout: number;
  readonly timeout: number;
  readonly maxRequestBytes: number;
}

/** Characters a prefix segment may hold: RFC 3986 unreserved (no router syntax, no escapes). */
const PREFIX_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * The normalised prefix (`/vendor/` → `/vendor`), or why it is not a plain path. A plain path
 * starts with `/`, is not `/` alone, has no empty segment, no segment made only of dots (`.`,
 * `..`), and only letters, digits, `-`, `.`, `_` and `~` in its segments: no router syntax
 * (`:id`, `*`, `{…}`, `(…)`), no `?`, `#`, `%` or `\`.
 */
export function normalizePrefix(prefix: unknown): { prefix: string } | { reason: string } {
  if (typeof prefix !== 'string') return { reason: 'a prefix must be a string' };
  if (!prefix.startsWith('/')) return { reason: 'a prefix must start with "/"' };
  const trimmed = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (trimmed === '/') {
    return { reason: 'a prefix cannot be "/" alone: it would proxy every path of the app' };
  }
  for (const segment of trimmed.slice(1).split('/')) {
    if (segment === '') return { reason: 'a prefix cannot have an empty segment ("//")' };
    if (/^\.+$/.test(segment)) {
      return { reason: `a prefix cannot have a dot segment ("${segment}")` };
    }
    if (!PREFIX_SEGMENT.test(segment)) {
      return {
        reason:
          'a prefix is a plain path: letters, digits, "-", ".", "_", "~" and "/" only ' +
          '(no route parameters, wildcards, "?", "#", "%" or "\\")',
      };
    }
  }
  return { prefix: trimmed };
}

/**
 * Checks one `proxies` entry. `settings` is there when there is no problem; `problems` lists
 * every one found (codes `invalid-proxy-prefix`, `invalid-proxy-target`, `invalid-proxy-option`).
 * The `policy` key is accepted and not looked at.
 */
export function validateProxyOptions(
  prefix: string,
  options: unknown,
): { settings?: ProxySettings; problems: CorsConfigProblem[] } {
  const place = proxyPlace(prefix);
  const problems: CorsConfigProblem[] = [];
  const problem: Report = (code, message, ...value) =>
    problems.push(configProblem(place, code, message, ...value));

  const normal = normalizePrefix(prefix);
  if ('reason' in normal) problem('invalid-proxy-prefix', `${normal.reason}.`, prefix);

  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    problem(
      'invalid-proxy-option',
      `a proxy entry must be an object like { target: 'https://api.example' }, got ${describeValue(options)}.`,
      options,
    );
    return { problems };
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_KEYS.has(key)) {
      problem(
        'invalid-proxy-option',
        `unknown proxy option "${key}" (known: ${[...KNOWN_KEYS].join(', ')}).`,
        key,
      );
    }
  }

  const endpoint = checkTarget(o.target, problem);
  const forwardHeaders = checkForwardHeaders(o.forwardHeaders, problem);
  const setHeaders = checkSetHeaders(o.setHeaders, problem);
  if (forwardHeaders && setHeaders) {
    for (const [name] of setHeaders) {
      if (forwardHeaders.includes(name)) {
        problem(
          'invalid-proxy-option',
          `"${name}" is in both forwardHeaders and setHeaders: the server's value always wins, ` +
            'remove it from forwardHeaders.',
          name,
        );
      }
    }
  }
  let forwardSetCookie = false;
  if (o.forwardSetCookie !== undefined) {
    if (typeof o.forwardSetCookie === 'boolean') forwardSetCookie = o.forwardSetCookie;
    else {
      problem(
        'invalid-proxy-option',
        `forwardSetCookie must be true or false, got ${describeValue(o.forwardSetCookie)}.`,
        o.forwardSetCookie,
      );
    }
  }
  const connectTimeout = checkInteger(
    'connectTimeout',
    o.connectTimeout,
    1,
    MAX_PROXY_TIMEOUT,
    problem,
  );
  const timeout = checkInteger('timeout', o.timeout, 1, MAX_PROXY_TIMEOUT, problem);
  const maxRequestBytes = checkInteger(
    'maxRequestBytes',
    o.maxRequestBytes,
    0,
    Number.MAX_SAFE_INTEGER,
    problem,
  );

  if (problems.length > 0 || 'reason' in normal || !endpoint || !forwardHeaders || !setHeaders) {
    return { problems };
  }
  return {
    problems,
    settings: Object.freeze({
      prefix: normal.prefix,
      endpoint,
      forwardHeaders: Object.freeze(forwardHeaders),
      setHeaders: Object.freeze(setHeaders.map((pair) => Object.freeze(pair))),
      forwardSetCookie,
      connectTimeout: connectTimeout ?? PROXY_DEFAULTS.connectTimeout,
      timeout: timeout ?? PROXY_DEFAULTS.timeout,
      maxRequestBytes: maxRequestBytes ?? PROXY_DEFAULTS.maxRequestBytes,
    }),
  };
}

type Report = (code: CorsProblemCode, message: string, ...value: [unknown?]) => void;

/**
 * The target, checked on the text as written (the URL parser would silently drop an empty `?`,
 * `#` or `@`, turn `\` into `/` and strip whitespace) and then parsed.
 */
function checkTarget(target: unknown, problem: Report): ProxyEndpoint | undefined {
  const bad = (why: string) =>
    problem('invalid-proxy-target', `target ${why}, got ${describeValue(target)}.`, target);
  if (target === undefined) {
    bad('is required (an absolute http(s) URL)');
    return undefined;
  }
  if (typeof target !== 'string') {
    bad('must be a string (an absolute http(s) URL)');
    return undefined;
  }
  if (!/^https?:\/\//i.test(target)) {
    bad('must be an absolute URL starting with http:// or https://');
    return undefined;
  }
  let ok = true;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(target)) {
    bad('cannot hold whitespace or control characters');
    ok = false;
  }
  if (target.includes('\\')) {
    bad('cannot hold "\\"');
    ok = false;
  }
  const authority = target.slice(target.indexOf('//') + 2).split(/[/?#]/, 1)[0];
  if (authority.includes('@')) {
    bad('cannot have userinfo ("user:password@"): put credentials in setHeaders');
    ok = false;
  }
  if (target.includes('?')) {
    bad('cannot have a query ("?"): the client\'s query is appended');
    ok = false;
  }
  if (target.includes('#')) {
    bad('cannot have a fragment ("#")');
    ok = false;
  }
  if (!ok) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    bad('is not a valid URL');
    return undefined;
  }
  if (url.hostname === '') {
    bad('has no host');
    return undefined;
  }
  const protocol = url.protocol as 'http:' | 'https:';
  const port = url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port);
  const hostname =
    url.hostname.startsWith('[') && url.hostname.endsWith(']')
      ? url.hostname.slice(1, -1)
      : url.hostname;
  const targetPath = url.pathname === '' ? '/' : url.pathname;
  return Object.freeze({
    protocol,
    hostname,
    port,
    host: url.host,
    origin: url.origin,
    targetPath,
    basePath: targetPath.endsWith('/') ? targetPath.slice(0, -1) : targetPath,
  });
}

function checkForwardHeaders(value: unknown, problem: Report): string[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problem(
      'invalid-proxy-option',
      `forwardHeaders must be an array of header names, got ${describeValue(value)}.`,
      value,
    );
    return undefined;
  }
  const names: string[] = [];
  let ok = true;
  for (const item of value) {
    const name = checkHeaderName('forwardHeaders', item, FORBIDDEN_FORWARD_HEADERS, problem);
    if (name === undefined) ok = false;
    else if (!names.includes(name)) names.push(name);
  }
  return ok ? names : undefined;
}

function checkSetHeaders(
  value: unknown,
  problem: Report,
): Array<readonly [string, string]> | undefined {
  if (value === undefined) return [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problem(
      'invalid-proxy-option',
      `setHeaders must be an object of header names and string values, got ${describeValue(value)}.`,
      value,
    );
    return undefined;
  }
  const pairs: Array<readonly [string, string]> = [];
  let ok = true;
  for (const [key, headerValue] of Object.entries(value as Record<string, unknown>)) {
    const name = checkHeaderName('setHeaders', key, FORBIDDEN_SET_HEADERS, problem);
    if (name === undefined) ok = false;
    else if (pairs.some(([n]) => n === name)) {
      problem(
        'invalid-proxy-option',
        `setHeaders names "${name}" twice (header names are case-insensitive).`,
        key,
      );
      ok = false;
    }
    if (typeof headerValue !== 'string') {
      problem(
        'invalid-proxy-option',
        `setHeaders["${key}"] must be a string, got ${describeValue(headerValue)}.`,
        headerValue,
      );
      ok = false;
    } else if (/[^\t\x20-\x7e\x80-\xff]/.test(headerValue)) {
      // What Node itself refuses in a header value: CR, LF, NUL and the other controls.
      // The value is not echoed: it is likely a secret.
      problem(
        'invalid-proxy-option',
        `setHeaders["${key}"] holds a control character (CR, LF, NUL…) or a character above U+00FF.`,
      );
      ok = false;
    } else if (name !== undefined) {
      pairs.push([name, headerValue] as const);
    }
  }
  return ok ? pairs : undefined;
}

/** A lowercase header name, or undefined after reporting why it cannot be used. */
function checkHeaderName(
  option: string,
  item: unknown,
  forbidden: ReadonlyMap<string, string>,
  problem: Report,
): string | undefined {
  if (typeof item !== 'string' || !isToken(item)) {
    problem(
      'invalid-proxy-option',
      `${option} holds ${describeValue(item)}, which is not an HTTP header name.`,
      item,
    );
    return undefined;
  }
  const name = item.toLowerCase();
  const why = forbidden.get(name) ?? (name.startsWith('x-forwarded-') ? 'set by the proxy' : '');
  if (why !== '') {
    problem('invalid-proxy-option', `${option} cannot name "${item}": ${why}.`, item);
    return undefined;
  }
  return name;
}

function checkInteger(
  option: string,
  value: unknown,
  min: number,
  max: number,
  problem: Report,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`;
    problem(
      'invalid-proxy-option',
      `${option} must be an integer ${range}, got ${describeValue(value)}.`,
      value,
    );
    return undefined;
  }
  return value;
}

/**
 * Prefixes that overlap: equal after normalisation (`/a` and `/a/`), or one under the other
 * (`/a` and `/a/b`). Compared ASCII-case-insensitively, as Express routes by default. One
 * `overlapping-proxy-prefixes` problem per pair, at the inner (or later) prefix, its value the
 * other prefix. Prefixes that are not valid are left to `compileProxy`.
 */
export function overlappingPrefixes(prefixes: readonly string[]): CorsConfigProblem[] {
  const valid: Array<{ raw: string; key: string }> = [];
  for (const raw of prefixes) {
    const normal = normalizePrefix(raw);
    if ('prefix' in normal) valid.push({ raw, key: normal.prefix.toLowerCase() });
  }
  const problems: CorsConfigProblem[] = [];
  for (let i = 0; i < valid.length; i++) {
    for (let j = i + 1; j < valid.length; j++) {
      const a = valid[i];
      const b = valid[j];
      if (a.key === b.key) {
        problems.push(
          configProblem(
            proxyPlace(b.raw),
            'overlapping-proxy-prefixes',
            `"${b.raw}" and "${a.raw}" are the same prefix.`,
            a.raw,
          ),
        );
      } else if (b.key.startsWith(a.key + '/') || a.key.startsWith(b.key + '/')) {
        const [outer, inner] = b.key.startsWith(a.key + '/') ? [a, b] : [b, a];
        problems.push(
          configProblem(
            proxyPlace(inner.raw),
            'overlapping-proxy-prefixes',
            `"${inner.raw}" lies under "${outer.raw}": every path of the first is also a path ` +
              'of the second; nest the targets by path instead.',
            outer.raw,
          ),
        );
      }
    }
  }
  return problems;
}
