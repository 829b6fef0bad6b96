/**
 * What the server saw, kept in memory for the playground page and the browser tests: every request
 * that reached the API (preflights included), and every denial the CORS module logged. Both share
 * one sequence number, so a client can ask for "everything since #n".
 */
import { ConsoleLogger, Injectable, type ConsoleLoggerOptions } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface SeenRequest {
  seq: number;
  method: string;
  path: string;
  origin: string | null;
  /** OPTIONS with Origin and Access-Control-Request-Method. */
  preflight: boolean;
  /** Access-Control-Request-Method / -Headers of a preflight. */
  requestMethod: string | null;
  requestHeaders: string | null;
  /** A WebSocket handshake (`Upgrade: websocket`): its status is 101 when accepted. */
  websocket: boolean;
  /** Did the browser send a Cookie header? (The value is never recorded.) */
  cookie: boolean;
  /** Response status, once the response is finished (null until then). */
  status: number | null;
  /** Names of the response headers the server sent (lowercase). */
  responseHeaders: string[];
}

export interface CorsDenialEntry {
  seq: number;
  /** The line the module logged, as is. */
  message: string;
  /** `handshake`: a WebSocket handshake (method GET, route the gateway class). */
  kind: 'preflight' | 'request' | 'handshake';
  method: string;
  path: string;
  origin: string;
  route: string;
  reason: string;
}

/** Requests under these prefixes are the playground's own plumbing and are not recorded. */
const UNRECORDED = ['/cors/', '/favicon.ico'];
const KEEP = 500;

@Injectable()
export class Activity {
  private seq = 0;
  private readonly requests: SeenRequest[] = [];
  private readonly denials: CorsDenialEntry[] = [];

  /** Node-style middleware; mount it before the CORS middleware to see preflights too. */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0];
    const seq = ++this.seq;
    // A request id on every response (readable by a page only where a policy exposes it).
    res.setHeader('X-Request-Id', `req-${seq}`);
    if (UNRECORDED.some((prefix) => path.startsWith(prefix))) return next();
    const origin = req.headers.origin ?? null;
    const requestMethod = header(req, 'access-control-request-method');
    const entry: SeenRequest = {
      seq,
      method: req.method ?? 'GET',
      path,
      origin,
      preflight: req.method === 'OPTIONS' && origin !== null && requestMethod !== null,
      requestMethod,
      requestHeaders: header(req, 'access-control-request-headers'),
      websocket: false,
      cookie: req.headers.cookie !== undefined,
      status: null,
      responseHeaders: [],
    };
    push(this.requests, entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
      entry.responseHeaders = res.getHeaderNames().sort();
    });
    next();
  };

  /**
   * The server's `upgrade` listener (prepended, so it runs before the WebSocket library's):
   * records each WebSocket handshake. Its answer is written on the socket itself, as the raw
   * status line (`101 Switching Protocols` with `write`, a refusal with `end`): read from there.
   */
  readonly upgrade = (req: IncomingMessage, socket: Duplex): void => {
    const entry: SeenRequest = {
      seq: ++this.seq,
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?', 1)[0],
      origin: req.headers.origin ?? null,
      preflight: false,
      requestMethod: null,
      requestHeaders: null,
      websocket: true,
      cookie: req.headers.cookie !== undefined,
      status: null,
      responseHeaders: [],
    };
    push(this.requests, entry);
    const read = (chunk: unknown): void => {
      if (entry.status !== null || (typeof chunk !== 'string' && !Buffer.isBuffer(chunk))) return;
      const head = String(chunk);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (status === null) return;
      entry.status = Number(status[1]);
      entry.responseHeaders = head
        .split('\r\n\r\n', 1)[0]
        .split('\r\n')
        .slice(1)
        .filter((line) => line.includes(':'))
        .map((line) => line.slice(0, line.indexOf(':')).trim().toLowerCase())
        .sort();
    };
    const { write, end } = socket;
    socket.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
      read(chunk);
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Duplex['write'];
    socket.end = function (this: Duplex, chunk?: unknown, ...rest: unknown[]) {
      read(chunk);
      return (end as (...args: unknown[]) => Duplex).call(this, chunk, ...rest);
    } as Duplex['end'];
  };

  /** Records a line the CORS module logged; ignores every other line. */
  recordLog(message: unknown, context: unknown): void {
    if (context !== 'Cors' || typeof message !== 'string') return;
    const ws = /^CORS denied WebSocket handshake (.+?) from (".*?") → (\S+): (.*)$/s.exec(message);
    if (ws !== null) {
      push(this.denials, {
        seq: ++this.seq,
        message,
        kind: 'handshake',
        method: 'GET',
        path: ws[1],
        origin: JSON.parse(ws[2]) as string,
        route: ws[3],
        reason: ws[4],
      });
      return;
    }
    const m = /^CORS denied (preflight|request) (\S+) (\S+) from (".*?") → (\S+): (.*)$/s.exec(
      message,
    );
    if (m === null) return;
    push(this.denials, {
      seq: ++this.seq,
      message,
      kind: m[1] as 'preflight' | 'request',
      method: m[2],
      path: m[3],
      origin: JSON.parse(m[4]) as string,
      route: m[5],
      reason: m[6],
    });
  }

  /** The latest sequence number handed out. */
  get last(): number {
    return this.seq;
  }

  requestsSince(since = 0): SeenRequest[] {
    return this.requests.filter((r) => r.seq > since);
  }

  denialsSince(since = 0): CorsDenialEntry[] {
    return this.denials.filter((d) => d.seq > since);
  }
}

/**
 * A ConsoleLogger that also hands every line to `Activity`: this is how the sample captures the
 * reasons the CORS module logs (context 'Cors') for the playground page.
 */
export class CapturingLogger extends ConsoleLogger {
  constructor(
    private readonly activity: Activity,
    options: ConsoleLoggerOptions = {},
  ) {
    super(options);
  }

  override log(message: unknown, ...params: unknown[]): void {
    this.activity.recordLog(message, params.at(-1));
    super.log(message, ...params);
  }

  override debug(message: unknown, ...params: unknown[]): void {
    this.activity.recordLog(message, params.at(-1));
    super.debug(message, ...params);
  }
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}
