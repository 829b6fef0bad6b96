/**
 * Bounded parsing of `Access-Control-Request-Headers` (Fetch §4.8: `1#field-name`). Browsers send
 * lowercase, sorted, comma-joined names; proxies may add OWS, upper case or several lines (Node
 * joins them with ", "). Set semantics: order and duplicates do not matter.
 */
import { isTchar } from './tokens.js';

/** Longer values are refused before any other work (browsers send a few short names). */
export const MAX_REQUEST_HEADERS_LENGTH = 4096;
/** More names than this are refused. */
export const MAX_REQUEST_HEADER_NAMES = 64;

/** Why a header list was refused. */
export class HeaderListDenial {
  constructor(readonly reason: string) {}
}

const TOO_LONG = new HeaderListDenial(
  `Access-Control-Request-Headers is longer than ${MAX_REQUEST_HEADERS_LENGTH} bytes`,
);
const TOO_MANY = new HeaderListDenial(
  `Access-Control-Request-Headers names more than ${MAX_REQUEST_HEADER_NAMES} headers`,
);

/**
 * Validates `value` and checks every name against `allowed` (lowercase names; null = any name).
 * Returns the normalized list to echo (lowercase, comma-joined, '' for none) or a denial.
 */
export function checkRequestHeaders(
  value: string | undefined,
  allowed: ReadonlySet<string> | null,
): string | HeaderListDenial {
  if (value === undefined || value.length === 0) return '';
  if (value.length > MAX_REQUEST_HEADERS_LENGTH) return TOO_LONG;
  return isCanonical(value) ? checkCanonical(value, allowed) : checkLoose(value, allowed);
}

/** What browsers send: lowercase tchar names joined by ',' with no space and no empty item. */
function isCanonical(value: string): boolean {
  let previous = 44; // as if preceded by ','
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 44) {
      if (previous === 44) return false;
    } else if (!isTchar(c) || (c >= 65 && c <= 90)) {
      return false;
    }
    previous = c;
  }
  return previous !== 44;
}

function checkCanonical(
  value: string,
  allowed: ReadonlySet<string> | null,
): string | HeaderListDenial {
  let count = 0;
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(',', start);
    if (end === -1) end = value.length;
    if (++count > MAX_REQUEST_HEADER_NAMES) return TOO_MANY;
    if (allowed !== null) {
      const name = value.slice(start, end);
      if (!allowed.has(name))
        return new HeaderListDenial(`request header "${name}" is not allowed`);
    }
    start = end + 1;
  }
  return value;
}

const OWS = /^[ \t]+|[ \t]+$/g;

function checkLoose(value: string, allowed: ReadonlySet<string> | null): string | HeaderListDenial {
  const items = value.split(',');
  if (items.length > MAX_REQUEST_HEADER_NAMES * 4) return TOO_MANY;
  const names: string[] = [];
  let count = 0;
  for (const item of items) {
    const raw = item.replace(OWS, '');
    if (raw.length === 0) continue; // empty items are tolerated (bounded above)
    // Bytes are checked before lower-casing: toLowerCase() maps some non-ASCII to ASCII.
    for (let k = 0; k < raw.length; k++) {
      if (!isTchar(raw.charCodeAt(k))) {
        return new HeaderListDenial('Access-Control-Request-Headers holds an invalid header name');
      }
    }
    // The same cap as for a canonical list, duplicates counted.
    if (++count > MAX_REQUEST_HEADER_NAMES) return TOO_MANY;
    const name = raw.toLowerCase();
    if (allowed !== null && !allowed.has(name)) {
      return new HeaderListDenial(`request header "${name}" is not allowed`);
    }
    if (!names.includes(name)) names.push(name);
  }
  return names.join(',');
}
