/**
 * One proxied prefix: requests under it are forwarded to a target fixed at boot, with Node's own
 * HTTP client, and the answer streamed back. Never an open relay: the scheme, host and port come
 * from the boot-time target only (never from the client's path, `Host` or absolute-form request
 * target), and the path is built segment by segment under the target's base path. No Nest here:
 * the module routes requests to {@link ProxyTarget.forward} and writes the CORS headers.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  STATUS_CODES,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { CorsConfigProblem } from '../engine/errors.js';
import {
  clientResponseHeaders,
  DEFAULT_FORWARD_HEADERS,
  upstreamRequestHeaders,
} from './proxy-headers.js';
import { validateProxyOptions, type ProxySettings } from './proxy-options.js';
import { upstreamPath, upstreamQuery } from './proxy-path.js';

export { overlappingPrefixes, PROXY_DEFAULTS } from './proxy-options.js';

/**
 * Validates one `proxies` entry (`prefix` is its key, `options` its value). Every problem is
 * listed, at `proxies["<prefix>"]`; `proxy` is there, frozen, when there is none.
 */
export function compileProxy(
  prefix: string,
  options: unknown,
): { proxy?: ProxyTarget; problems: CorsConfigProblem[] } {
  const { settings, problems } = validateProxyOptions(prefix, options);
  if (!settings) return { problems };
  const proxy = new ProxyTarget(settings);
  Object.freeze(proxy);
  return { proxy, problems };
}

/** A proxy as `report()` shows it: plain JSON, no secret (`setHeaders` values are left out). */
export interface ProxyDescription {
  prefix: string;
  /** Origin and base path: `https://api.vendor.example/v1`. */
  target: string;
  origin: string;
  basePath: string;
  /** Request headers forwarded from the client: the defaults, then `forwardHeaders`. */
  forwardedHeaders: string[];
  /** Names of the headers the server sets (values hidden). */
  setHeaders: string[];
  forwardSetCookie: boolean;
  connectTimeout: number;
  timeout: number;
  maxRequestBytes: number;
}

/** Methods refused with 405: a `TRACE` echo would hand the client the server's `setHeaders`. */
const REFUSED_METHODS = new Set(['TRACE', 'TRACK', 'CONNECT']);

/** Methods retried once on a new connection when a reused keep-alive one was found closed. */
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A compiled `proxies` entry (see {@link compileProxy}). One keep-alive agent per target; call
 * {@link ProxyTarget.close} when the app shuts down.
 */
export class ProxyTarget {
  /** Leading `/`, no trailing `/` (`/vendor`). */
  readonly prefix: string;
  private readonly prefixLower: string;
  private readonly agent: HttpAgent;

  /** Use {@link compileProxy}: it validates the options. */
  constructor(private readonly settings: ProxySettings) {
    this.prefix = settings.prefix;
    this.prefixLower = settings.prefix.toLowerCase();
    const agentOptions = { keepAlive: true, scheduling: 'lifo' as const };
    this.agent =
      settings.endpoint.protocol === 'https:'
        ? new HttpsAgent(agentOptions)
        : new HttpAgent(agentOptions);
  }

  /** The target and settings, as plain JSON, without `setHeaders` values. */
  describe(): ProxyDescription {
    const s = this.settings;
    return {
      prefix: s.prefix,
      target: s.endpoint.origin + s.endpoint.basePath,
      origin: s.endpoint.origin,
      basePath: s.endpoint.basePath,
      forwardedHeaders: [...DEFAULT_FORWARD_HEADERS, ...s.forwardHeaders],
      setHeaders: s.setHeaders.map(([name]) => name),
      forwardSetCookie: s.forwardSetCookie,
      connectTimeout: s.connectTimeout,
      timeout: s.timeout,
      maxRequestBytes: s.maxRequestBytes,
    };
  }

  /**
   * Router patterns that send the prefix and every path under it here: Express (path-to-regexp
   * 8) `['/vendor', '/vendor/*rest']`, find-my-way `['/vendor', '/vendor/*']` (its `*` also
   * matches the empty rest, `/vendor/`). The prefix holds no router syntax (checked at boot).
   */
  patterns(syntax: 'express' | 'fastify'): string[] {
    return syntax === 'express'
      ? [this.prefix, `${this.prefix}/*rest`]
      : [this.prefix, `${this.prefix}/*`];
  }

  /**
   * Is `path` (as routed, no query) the prefix or under it (`/vendor`, `/vendor/`, `/vendor/x`,
   * not `/vendorx`)? ASCII-case-insensitive, as Express routes by default: a router that is
   * case-sensitive (Fastify's) never hands over another case anyway.
   */
  covers(path: string): boolean {
    const n = this.prefix.length;
    return (
      path.length >= n &&
      path.slice(0, n).toLowerCase() === this.prefixLower &&
      (path.length === n || path.charCodeAt(n) === 0x2f)
    );
  }

  /**
   * Forwards `req` to the target and streams the answer into `res`.
   *
   * `path` is the request's path as the router saw it, still percent-encoded, without query
   * (Express: `parseurl(req).pathname`); it must be {@link covers covered}. The query is what
   * follows the first `?` of `req.url`; nothing else of `req.url` is used (an absolute-form
   * request target cannot choose the host). `protocol` is the client-facing protocol for
   * `X-Forwarded-Proto` (anything but `'https'` counts as `'http'`).
   *
   * Never throws. Every failure is an answer, a small JSON body
   * `{"statusCode":502,"error":"Bad Gateway","message":"…"}` (the shape of Nest's errors,
   * `Cache-Control: no-store`) written with `res.writeHead`, so a hook on `writeHead` adds the
   * CORS headers to it: 400 path refused (see `upstreamPath`), 404 path not covered, 405
   * `TRACE`/`TRACK`, 413 body over `maxRequestBytes`, 502 target unreachable (refused, unknown
   * host, reset) or its answer unusable, 504 `connectTimeout` or `timeout` passed, 500 when
   * the request body was already read by something else (a body parser mounted before the
   * proxy). When the answer has already started, a failure destroys the response instead. A
   * request whose body was not read to the end is answered with `Connection: close`.
   *
   * Redirects are not followed: a 3xx and its `Location` reach the client unchanged, not
   * rewritten (the browser decides; the server never fetches it; a relative `Location` is
   * relative to the app's URL). The client going away (`res` closed before it finished) aborts
   * the target's request. An answer the target sends before reading the whole body is passed
   * on; the rest of the body is dropped and the target's request destroyed. A reused keep-alive
   * connection found closed before any answer is retried once on a new one, for `GET`, `HEAD`
   * and `OPTIONS` without a body.
   */
  forward(req: IncomingMessage, res: ServerResponse, path: string, protocol: string): void {
    try {
      new Exchange(this.settings, this.agent, req, res).start(
        path.slice(this.prefix.length),
        this.covers(path),
        protocol === 'https' ? 'https' : 'http',
      );
    } catch {
      // Exchange handles its own failures; this is the last line (a bug must not crash the app).
      try {
        if (!res.headersSent) sendError(req, res, 500, 'The proxy failed.');
        else res.destroy();
      } catch {
        res.destroy();
      }
    }
  }

  /** Closes the target's idle keep-alive connections (call it when the app shuts down). */
  close(): void {
    this.agent.destroy();
  }
}

/** One forwarded request: its timers, the target's request and answer, and how it ended. */
class Exchange {
  private upstream: ClientRequest | undefined;
  private answer: IncomingMessage | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private totalTimer: NodeJS.Timeout | undefined;
  private done = false;
  private bodyBytes = 0;
  private hasBody = false;
  private retried = false;

  constructor(
    private readonly settings: ProxySettings,
    private readonly agent: HttpAgent,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {}

  start(rest: string, covered: boolean, protocol: 'http' | 'https'): void {
    const { req, res, settings } = this;
    const method = req.method ?? 'GET';
    if (res.destroyed || res.writableEnded || req.socket?.destroyed) {
      // The client is gone already (or something answered): nothing to forward.
      this.done = true;
      return;
    }
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    this.hasBody = chunked || (length !== undefined && Number(length) > 0);
    if (!covered) return this.fail(404, 'This path is not under the proxy prefix.');
    if (REFUSED_METHODS.has(method.toUpperCase())) {
      return this.fail(405, `The proxy does not forward ${method} requests.`);
    }
    const verdict = upstreamPath(settings.endpoint.targetPath, settings.endpoint.basePath, rest);
    if ('refused' in verdict) return this.fail(400, `Refused: ${verdict.refused}.`);
    if (!chunked && length !== undefined && Number(length) > settings.maxRequestBytes) {
      return this.fail(413, `The request body is larger than ${settings.maxRequestBytes} bytes.`);
    }
    const headers = upstreamRequestHeaders(
      req.headers,
      settings.forwardHeaders,
      settings.setHeaders,
      settings.endpoint.host,
      { clientAddress: req.socket?.remoteAddress, protocol, host: req.headers.host },
    );
    const target = verdict.path + upstreamQuery(req.url ?? '');
    if (this.hasBody && req.readableEnded) {
      return this.fail(500, 'The request body was read before the proxy (a body parser?).');
    }

    res.once('close', () => {
      if (!res.writableFinished) this.abort();
    });
    req.once('error', () => this.abort());
    this.totalTimer = setTimeout(
      () => this.fail(504, 'The upstream server did not answer in time.'),
      settings.timeout,
    );
    if (!this.send(method, target, headers)) return;
    if (this.hasBody) this.streamBody();
    else this.upstream?.end();
  }

  /**
   * Opens the target's request (again, for a retry) with a fresh connect timer; false when Node
   * refused to (the exchange has failed with 502).
   */
  private send(method: string, path: string, headers: OutgoingHttpHeaders): boolean {
    const { endpoint, connectTimeout } = this.settings;
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(
      () => this.fail(504, 'The upstream server did not accept the connection in time.'),
      connectTimeout,
    );
    const options = {
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: endpoint.port,
      method,
      path,
      headers,
      agent: this.agent,
      setHost: false,
      ...(endpoint.protocol === 'https:' ? { servername: sniName(endpoint.hostname) } : {}),
    };
    let upstream: ClientRequest;
    try {
      upstream = endpoint.protocol === 'https:' ? httpsRequest(options) : httpRequest(options);
    } catch {
      // A header value Node's client refuses (its server accepted it).
      this.fail(502, 'The request could not be forwarded.');
      return false;
    }
    this.upstream = upstream;
    upstream.on('socket', (socket: Socket) => {
      // A pooled connection is connected already; a new one is when its TCP connection (and,
      // for https, its TLS handshake) is done.
      if (upstream.reusedSocket) return clearTimeout(this.connectTimer);
      if (endpoint.protocol === 'https:') {
        socket.once('secureConnect', () => clearTimeout(this.connectTimer));
      } else if (!socket.connecting) {
        clearTimeout(this.connectTimer);
      } else {
        socket.once('connect', () => clearTimeout(this.connectTimer));
      }
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // Once answering, a break of the answer shows in its pipeline (an error of the request
      // alone, such as a target that answered without reading the whole body, changes nothing).
      if (this.done || upstream !== this.upstream || this.answer) return;
      if (
        !this.retried &&
        upstream.reusedSocket &&
        !this.hasBody &&
        RETRYABLE_METHODS.has(method) &&
        (err.code === 'ECONNRESET' || err.code === 'EPIPE')
      ) {
        this.retried = true;
        if (this.send(method, path, headers)) this.upstream?.end();
        return;
      }
      this.fail(502, 'The upstream server could not be reached or broke the connection.');
    });
    upstream.on('response', (answer) => this.relay(answer));
    return true;
  }

  /** Streams the client's body to the target, counting bytes, with backpressure. */
  private streamBody(): void {
    const { req } = this;
    const max = this.settings.maxRequestBytes;
    const onData = (chunk: Buffer) => {
      if (this.done) return;
      this.bodyBytes += chunk.length;
      if (this.bodyBytes > max) {
        req.off('data', onData);
        return this.fail(413, `The request body is larger than ${max} bytes.`);
      }
      const upstream = this.upstream;
      if (upstream && !upstream.write(chunk)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!this.done) this.upstream?.end();
    });
  }

  /** The target answered: its status and filtered headers, then its body, streamed. */
  private relay(answer: IncomingMessage): void {
    const { res } = this;
    clearTimeout(this.connectTimer);
    if (this.done) {
      answer.destroy();
      return;
    }
    this.answer = answer;
    try {
      res.writeHead(
        answer.statusCode ?? 502,
        clientResponseHeaders(answer, this.settings.forwardSetCookie),
      );
    } catch {
      answer.destroy();
      return this.fail(502, 'The upstream server sent an answer that cannot be passed on.');
    }
    pipeline(answer, res, (err) => {
      if (this.done) return;
      if (err) return this.fail(502, 'The upstream answer broke off.');
      this.finish();
      // The target answered before taking the whole body: its request cannot be completed (the
      // rest of the client's body is read and dropped).
      if (!this.upstream?.writableFinished) this.upstream?.destroy();
    });
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.totalTimer);
  }

  /** The client went away: stop everything, nothing to answer. */
  private abort(): void {
    if (this.done) return;
    this.finish();
    this.upstream?.destroy();
    this.answer?.destroy();
  }

  /** Ends the exchange with an error answer, or by destroying an answer already started. */
  private fail(status: number, message: string): void {
    if (this.done) return;
    this.finish();
    this.upstream?.destroy();
    this.answer?.destroy();
    const { req, res } = this;
    if (res.headersSent || res.destroyed || res.writableEnded) {
      res.destroy();
      return;
    }
    // A body not read to the end: the connection cannot carry another request.
    sendError(req, res, status, message, this.hasBody && !req.readableEnded);
  }
}

/** The small JSON error answer, written with `writeHead` (where CORS hooks run). */
function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  unread = false,
) {
  const body = JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (unread) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
  // Discard what is left of the body: the connection closes after the answer.
  if (unread) req.resume();
}

/** TLS SNI takes a host name, never an IP address. */
function sniName(hostname: string): string | undefined {
  return /^[\d.]+$/.test(hostname) || hostname.includes(':') ? undefined : hostname;
}
