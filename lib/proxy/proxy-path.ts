/**
 * The path and query sent to the target, built from the part of the client's path after the
 * prefix. Nothing is resolved against a URL: the result is the base path, then the client's
 * segments, each checked and re-encoded, so it cannot leave the base path (see
 * {@link upstreamPath}).
 */

/** The path to send, or why the request is refused (400). */
export type PathVerdict = { readonly path: string } | { readonly refused: string };

/**
 * How many times a segment is percent-decoded while checked: `%252e` is `.` to a target that
 * decodes twice. A segment that still holds escapes after this many decodings is refused.
 */
export const MAX_DECODINGS = 4;

// pchar (RFC 3986) kept as is: unreserved, sub-delims, ':' and '@'. '%' is kept as the start of
// an escape (the raw segment's escapes are checked first). Everything else is re-encoded.
const PCHAR = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@") {
  PCHAR[c.charCodeAt(0)] = 1;
}
PCHAR[0x25] = 1;
// What a query may hold as is: pchar, '/', '?' and '%' (its escapes are the target's business).
const QUERY_CHAR = PCHAR.slice();
for (const c of '/?') QUERY_CHAR[c.charCodeAt(0)] = 1;

const HEX = '0123456789ABCDEF';
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The target path for `rest`, the client's path after the prefix (`''` or starting with `/`,
 * percent-encoded as sent, no query).
 *
 * `''` maps to the target's path as written (`targetPath`); otherwise the result is
 * `basePath + '/' + s1 + '/' + … + '/' + sn`, where every segment is refused (400) when, raw or
 * after any of up to {@link MAX_DECODINGS} successive percent-decodings (as a target that decodes
 * more than once would see it):
 * - it is empty (`//`), except the last one (a trailing slash is kept);
 * - it holds `\`, a NUL or another control character, or (decoded) a `/`;
 * - it has a malformed escape (`%zz`, `%2`) as sent (after decoding, a lone `%` is data);
 * - its bytes are not UTF-8 (overlong forms such as `%c0%ae` were dots to old servers);
 * - after Unicode NFKC (fullwidth `．` is `.`, `／` is `/`) it holds `/` or `\`, or is made only
 *   of dots, ignoring spaces around them and a `;parameter` (`.`, `..`, `...`, `..;x`, `.. `);
 * - it still holds an escape after the last decoding.
 *
 * `%25` is kept as sent: `100%25` reaches the target as `100%25`; `%252e` is refused because two
 * decodings give `.`. Each kept segment is re-encoded: pchar and its checked escapes as sent, any
 * other byte as `%XX`. So every forwarded segment is non-empty (the last may be empty), holds
 * only pchar and escapes, and is no dot segment at any decoding depth: resolving the path, raw or
 * decoded up to that depth, cannot climb above `basePath`.
 */
export function upstreamPath(targetPath: string, basePath: string, rest: string): PathVerdict {
  if (rest === '') return { path: targetPath };
  if (!rest.startsWith('/')) return { refused: 'the path is not under the prefix' };
  const segments = rest.slice(1).split('/');
  let path = basePath;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '') {
      if (i < segments.length - 1) return { refused: 'the path has an empty segment ("//")' };
      path += '/';
      continue;
    }
    const bytes = toBytes(segment);
    const refused = checkSegment(bytes);
    if (refused !== undefined) return { refused };
    path += '/' + encodeBytes(bytes, PCHAR);
  }
  return { path };
}

/**
 * `?` and the query of `url` (the request target, origin- or absolute-form: only what follows the
 * first `?` is used), or `''` without one. Bytes that cannot appear in a query as sent (space,
 * `#`, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, controls, non-ASCII) are percent-encoded;
 * the rest, escapes included, is passed as is.
 */
export function upstreamQuery(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? '' : '?' + encodeBytes(toBytes(url.slice(at + 1)), QUERY_CHAR);
}

/** The bytes of a request-target string: Node gives them as latin1 characters. */
function toBytes(text: string): Uint8Array {
  // eslint-disable-next-line no-control-regex
  return Buffer.from(text, /[^\x00-\xff]/.test(text) ? 'utf8' : 'latin1');
}

function encodeBytes(bytes: Uint8Array, keep: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    out += keep[b] === 1 ? String.fromCharCode(b) : '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

function checkSegment(raw: Uint8Array): string | undefined {
  let bytes = raw;
  for (let depth = 0; ; depth++) {
    const refused = checkLevel(bytes, depth);
    if (refused !== undefined) return refused;
    const decoded = percentDecode(bytes, depth === 0);
    if (decoded === 'malformed') return 'the path has a malformed percent escape';
    if (decoded === undefined) return undefined;
    if (depth + 1 > MAX_DECODINGS) return 'the path is percent-encoded too many times';
    bytes = decoded;
  }
}

const NOT_A_DOT_SEGMENT = /[^.]/;

function checkLevel(bytes: Uint8Array, depth: number): string | undefined {
  for (const b of bytes) {
    if (b < 0x20 || b === 0x7f) return 'the path holds a control character';
    if (b === 0x5c) return depth === 0 ? 'the path holds "\\"' : 'the path holds "%5C"';
    if (b === 0x2f) return 'the path holds an encoded "/"';
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return 'the path is not UTF-8';
  }
  const folded = text.normalize('NFKC');
  if (folded.includes('/') || folded.includes('\\')) {
    return 'the path holds a character equivalent to "/" or "\\"';
  }
  const core = folded.split(';', 1)[0].trim();
  if (core !== '' && !NOT_A_DOT_SEGMENT.test(core)) return 'the path has a dot segment';
  return undefined;
}

/**
 * One percent-decoding of `bytes`: the decoded bytes, `undefined` when there is no escape, or
 * `'malformed'` for a `%` not followed by two hex digits when `strict` (a segment as sent).
 */
function percentDecode(bytes: Uint8Array, strict: boolean): Uint8Array | undefined | 'malformed' {
  let escapes = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x25) continue;
    if (hexValue(bytes[i + 1]) >= 0 && hexValue(bytes[i + 2]) >= 0) {
      escapes++;
      i += 2;
    } else if (strict) {
      return 'malformed';
    }
  }
  if (escapes === 0) return undefined;
  const out = new Uint8Array(bytes.length - 2 * escapes);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const high = bytes[i] === 0x25 ? hexValue(bytes[i + 1]) : -1;
    const low = high >= 0 ? hexValue(bytes[i + 2]) : -1;
    if (low >= 0) {
      out[o++] = high * 16 + low;
      i += 2;
    } else {
      out[o++] = bytes[i];
    }
  }
  return out;
}

function hexValue(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}
