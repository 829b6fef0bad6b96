/**
 * HTTP tokens, method and header-name rules of the Fetch Standard. Pure functions over strings;
 * nothing here allocates on the success path.
 */

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

export function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** RFC 9110 `token`: one or more tchar. */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    if (!isTchar(value.charCodeAt(i))) return false;
  }
  return true;
}

/** Methods a browser never sends (Fetch §2.2.1, byte-case-insensitive). */
export function isForbiddenMethod(method: string): boolean {
  if (method.length !== 5 && method.length !== 7) return false;
  const upper = method.toUpperCase();
  return upper === 'CONNECT' || upper === 'TRACE' || upper === 'TRACK';
}

const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/** The browser upper-cases these six method names and no others (Fetch "normalize a method"). */
export function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/** Response headers a page can always read, and the two it never can. */
export const SAFELISTED_RESPONSE_HEADERS = new Set([
  'cache-control',
  'content-language',
  'content-length',
  'content-type',
  'expires',
  'last-modified',
  'pragma',
]);

/**
 * Splits `'a, b'` or `['a', 'b']` (what `cors` accepts) into trimmed items, empty ones included
 * (`'a,,b'` gives `['a', '', 'b']`: the caller reports them); undefined when an array item is not
 * a string.
 */
export function splitList(value: string | readonly unknown[]): string[] | undefined {
  if (typeof value !== 'string' && !value.every((v) => typeof v === 'string')) return undefined;
  const items =
    typeof value === 'string' ? value.split(',') : (value as string[]).flatMap((v) => v.split(','));
  return items.map((v) => v.trim());
}

/** A configuration value in a message, whatever it is (never throws). */
export function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
