/**
 * A hook just before a response's headers go out: `res.writeHead`, called by the framework
 * (Fastify passes every reply header to it as an object) or by Node itself for an implicit head.
 * Headers given to `writeHead` win over those set before, so the hook gets a target that writes
 * into that object when there is one: a header put there costs no `setHeader` (no validation, no
 * copy), and nothing can replace it afterwards. Without an object, the target is the response.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HeaderTarget } from '../engine/vary.js';

type WriteHead = ServerResponse['writeHead'];

export function beforeHeaders(res: ServerResponse, hook: (target: HeaderTarget) => void): void {
  const writeHead = res.writeHead as (...args: unknown[]) => ServerResponse;
  let fired = false;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (!fired) {
      fired = true;
      const at = typeof args[1] === 'string' ? 2 : 1;
      const given = args.length > at ? args[at] : undefined;
      if (given !== null && typeof given === 'object' && !Array.isArray(given)) {
        hook(new ObjectTarget(given as OutgoingHttpHeaders, this));
      } else {
        // The raw list form bypasses `setHeader`: apply it first, so the hook sees it all.
        if (Array.isArray(given)) args[at] = appendAll(this, given);
        hook(this);
      }
    }
    return writeHead.apply(this, args);
  } as WriteHead;
}

/**
 * The headers object given to `writeHead`, seen through the response: a header it lacks is the
 * one set on the response (Node merges the two, the object winning).
 */
class ObjectTarget implements HeaderTarget {
  constructor(
    private readonly headers: OutgoingHttpHeaders,
    private readonly res: ServerResponse,
  ) {}

  getHeader(name: string): unknown {
    const key = keyOf(this.headers, name);
    return key === undefined ? this.res.getHeader(name) : this.headers[key];
  }

  setHeader(name: string, value: string): void {
    const key = keyOf(this.headers, name);
    if (key !== undefined && key !== name) delete this.headers[key];
    this.headers[name] = value;
  }

  removeHeader(name: string): void {
    const key = keyOf(this.headers, name);
    if (key !== undefined) delete this.headers[key];
    this.res.removeHeader(name);
  }
}

/** The key `name` has in `headers`, however spelled (Fastify's are lowercase: checked first). */
function keyOf(headers: OutgoingHttpHeaders, name: string): string | undefined {
  const lower = name.toLowerCase();
  if (headers[lower] !== undefined) return lower;
  if (headers[name] !== undefined) return name;
  for (const key in headers)
    if (key.length === name.length && key.toLowerCase() === lower) return key;
  return undefined;
}

function appendAll(res: ServerResponse, list: unknown[]): undefined {
  if (Array.isArray(list[0])) {
    for (const [name, value] of list as Array<[string, string]>) res.appendHeader(name, value);
  } else {
    for (let i = 0; i + 1 < list.length; i += 2) {
      res.appendHeader(list[i] as string, list[i + 1] as string);
    }
  }
  return undefined;
}
