/**
 * Which headers cross the proxy, each way. Requests: an allow-list, the body framing derived from
 * the request itself, the server's fixed headers and `X-Forwarded-*` set by the proxy. Answers:
 * everything but the target's CORS headers, its cookies (unless allowed), hop-by-hop headers and
 * the few headers that would act on the whole origin of the app.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { isToken } from '../engine/tokens.js';

/** Request headers forwarded without being listed. */
export const DEFAULT_FORWARD_HEADERS: readonly string[] = Object.freeze([
  'accept',
  'accept-language',
  'content-type',
  'content-language',
]);

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy `proxy-connection`): never forwarded
 * either way, nor any header a `Connection` header names.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const HOP = 'a hop-by-hop header, never forwarded';

/** Names `forwardHeaders` cannot list, and why (`x-forwarded-*` too: set by the proxy). */
export const FORBIDDEN_FORWARD_HEADERS: ReadonlyMap<string, string> = new Map([
  ...[...HOP_BY_HOP].map((name) => [name, HOP] as [string, string]),
  ['host', "the target's own host is sent"],
  ['forwarded', 'a client could forge it; the proxy sets X-Forwarded-For/-Proto/-Host'],
  ['content-length', 'the body framing is set by the proxy'],
  ['expect', 'this server answers it'],
]);

/** Names `setHeaders` cannot set, and why (`x-forwarded-*` too). */
export const FORBIDDEN_SET_HEADERS: ReadonlyMap<string, string> = FORBIDDEN_FORWARD_HEADERS;

/**
 * Answer headers that would act on the app's whole origin, not on this answer, so a third party
 * could set them for the app: HSTS, `Clear-Site-Data` (wipes the app's cookies and storage),
 * `Alt-Svc`. Dropped, as `Set-Cookie`.
 */
export const ORIGIN_WIDE_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'alt-svc',
  'clear-site-data',
  'strict-transport-security',
]);

/** The lowercase names a `Connection` header lists (`close` and `keep-alive` included). */
export function connectionTokens(value: string | string[] | undefined): Set<string> {
  const names = new Set<string>();
  if (value === undefined) return names;
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const item of line.split(',')) {
      const name = item.trim().toLowerCase();
      if (isToken(name)) names.add(name);
    }
  }
  return names;
}

/** A `Host` value worth reporting in `X-Forwarded-Host`: a host name or address, and a port. */
const HOST_VALUE = /^(?:[A-Za-z0-9._~!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** What the proxy itself knows of the request, for the `X-Forwarded-*` headers. */
export interface ForwardedFacts {
  /** The client's socket address (`req.socket.remoteAddress`). */
  readonly clientAddress: string | undefined;
  /** `http` or `https`, the protocol the client used. */
  readonly protocol: 'http' | 'https';
  /** The client's `Host` header. */
  readonly host: string | undefined;
}

/**
 * The headers sent to the target, built from scratch:
 * - the defaults and `forwardHeaders`, as the client sent them, unless its `Connection` header
 *   names them (hop-by-hop by the client's own declaration);
 * - the body framing, derived from the request rather than copied: `Transfer-Encoding: chunked`
 *   when the client sent a transfer coding (Node has decoded it), else its `Content-Length`;
 *   a `Connection` header naming them changes nothing;
 * - `setHeaders`, replacing the client's headers of the same names;
 * - `Host` (the target's), `X-Forwarded-For` (the client's socket address, never a chain the
 *   client claims), `X-Forwarded-Proto` and `X-Forwarded-Host` (the client's `Host`, when it is
 *   a well-formed host); the client's own `X-Forwarded-*` and `Forwarded` never cross.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  forwardHeaders: readonly string[],
  setHeaders: ReadonlyArray<readonly [string, string]>,
  /** The target's `Host` (host, and port when not the default). */
  targetHost: string,
  facts: ForwardedFacts,
): OutgoingHttpHeaders {
  const dropped = connectionTokens(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  const copy = (name: string) => {
    const value = incoming[name];
    if (value !== undefined && !dropped.has(name)) out[name] = value;
  };
  for (const name of DEFAULT_FORWARD_HEADERS) copy(name);
  for (const name of forwardHeaders) copy(name);
  if (incoming['transfer-encoding'] !== undefined) out['transfer-encoding'] = 'chunked';
  else if (incoming['content-length'] !== undefined) {
    out['content-length'] = incoming['content-length'];
  }
  for (const [name, value] of setHeaders) out[name] = value;
  out.host = targetHost;
  if (facts.clientAddress) out['x-forwarded-for'] = facts.clientAddress;
  out['x-forwarded-proto'] = facts.protocol;
  if (facts.host !== undefined && HOST_VALUE.test(facts.host)) {
    out['x-forwarded-host'] = facts.host;
  }
  return out;
}

/**
 * The target's answer headers the client gets, as an object for `res.writeHead` (lowercase
 * names; a repeated header as an array, so each `Set-Cookie` stays one line). Dropped: every
 * `access-control-*` (the policy's are written instead), `set-cookie`/`set-cookie2` unless
 * `forwardSetCookie`, hop-by-hop headers and those the target's `Connection` names, the
 * origin-wide ones ({@link ORIGIN_WIDE_RESPONSE_HEADERS}), and a repeated `content-length`.
 */
export function clientResponseHeaders(
  upstream: IncomingMessage,
  forwardSetCookie: boolean,
): Record<string, string | string[]> {
  const dropped = connectionTokens(upstream.headers.connection);
  const out: Record<string, string | string[]> = Object.create(null);
  const raw = upstream.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (
      HOP_BY_HOP.has(name) ||
      dropped.has(name) ||
      name.startsWith('access-control-') ||
      ORIGIN_WIDE_RESPONSE_HEADERS.has(name) ||
      (!forwardSetCookie && (name === 'set-cookie' || name === 'set-cookie2'))
    ) {
      continue;
    }
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else if (name === 'content-length') continue;
    else if (Array.isArray(previous)) previous.push(value);
    else out[name] = [previous, value];
  }
  return out;
}
