/**
 * A hook just before a response's headers go out: `res.writeHead`, called by the framework
 * (Fastify passes every reply header to it) or by Node itself for an implicit head. Headers given
 * to `writeHead` win over those set before; the hook must see them, so the CORS ones among them
 * (`Vary`, `Access-Control-*`) are applied first, and only those: the others are passed on as
 * they are (setting each one again would cost every request a validation per header).
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

type WriteHead = ServerResponse['writeHead'];

export function beforeHeaders(res: ServerResponse, hook: () => void): void {
  const writeHead = res.writeHead as (...args: unknown[]) => ServerResponse;
  let fired = false;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (!fired) {
      fired = true;
      const at = typeof args[1] === 'string' ? 2 : 1;
      if (args.length > at && args[at] != null) args[at] = takeCorsHeaders(this, args[at]);
      hook();
    }
    return writeHead.apply(this, args);
  } as WriteHead;
}

/** Sets the CORS headers given to `writeHead`; returns the headers left to pass on. */
function takeCorsHeaders(res: ServerResponse, headers: unknown): unknown {
  if (Array.isArray(headers)) {
    // The raw list form bypasses `setHeader`: every header is applied, so the hook sees them all.
    const pairs = Array.isArray(headers[0]) ? headers : chunk(headers as string[]);
    for (const [name, value] of pairs as Array<[string, string]>) res.appendHeader(name, value);
    return undefined;
  }
  let rest: OutgoingHttpHeaders | undefined;
  const given = headers as OutgoingHttpHeaders;
  for (const name in given) {
    if (!isCorsHeader(name)) continue;
    rest ??= { ...given };
    const value = given[name];
    if (value !== undefined) res.setHeader(name, value);
    delete rest[name];
  }
  return rest ?? headers;
}

/** `Vary` or `Access-Control-*`, however spelled (cheap first-letter test first). */
function isCorsHeader(name: string): boolean {
  const first = name.charCodeAt(0) | 0x20;
  if (first === 0x76) return name.length === 4 && name.toLowerCase() === 'vary';
  return (
    first === 0x61 && name.length > 15 && name.slice(0, 15).toLowerCase() === 'access-control-'
  );
}

function chunk(flat: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
  return pairs;
}
