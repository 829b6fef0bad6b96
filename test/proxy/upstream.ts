/**
 * Test support of the proxy suites: a real upstream `node:http` server on 127.0.0.1 with no CORS
 * at all (it echoes what it received as JSON, and can redirect, stall, fail, send its own CORS
 * and cookie headers, stream a large body), the server the proxy runs in (a plain `node:http`
 * server routing like Express: `parseurl(req).pathname`, 404 for paths the prefix does not
 * cover), and small HTTP clients (Node's, and a raw socket for request targets Node's client
 * would not write).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import {
  createServer,
  request,
  type Agent,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import parseurl from 'parseurl';
import { beforeHeaders } from '../../lib/http/before-headers.js';
import type { ProxyTarget } from '../../lib/proxy/proxy-target.js';

/** What the upstream received, as it echoes it. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bodyLength: number;
  bodySha256: string;
}

/** What the upstream does with a request (the default echoes it). */
export type Behaviour = (req: IncomingMessage, res: ServerResponse) => void;

/** One request as the upstream saw it: the objects, and whether it ended before its answer did. */
export interface Arrival {
  req: IncomingMessage;
  res: ServerResponse;
  /** Settles when the request's connection closed: `true` if the answer had not finished. */
  closed: Promise<boolean>;
}

export class Upstream extends EventEmitter {
  /** TCP connections accepted so far. */
  connections = 0;
  /** Requests seen so far, in order. */
  readonly arrivals: Arrival[] = [];
  /** What the next requests get; reset to `echo` by `reset()`. */
  behaviour: Behaviour = echo;

  private constructor(readonly server: Server) {
    super();
  }

  static async start(): Promise<Upstream> {
    const server = createServer();
    const upstream = new Upstream(server);
    server.on('connection', () => upstream.connections++);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const closed = new Promise<boolean>((resolve) =>
        res.once('close', () => resolve(!res.writableFinished)),
      );
      const arrival = { req, res, closed };
      upstream.arrivals.push(arrival);
      upstream.emit('arrival', arrival);
      upstream.behaviour(req, res);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return upstream;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `127.0.0.1:<port>` */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The next request to arrive. */
  async nextArrival(): Promise<Arrival> {
    const [arrival] = (await once(this, 'arrival')) as [Arrival];
    return arrival;
  }

  reset(): void {
    this.behaviour = echo;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Reads the whole body, hashing it, then answers what was received as JSON. */
export const echo: Behaviour = (req, res) => {
  readBody(req).then((received) => {
    const body = JSON.stringify(received);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }, ignoreAbort);
};

/** A request the proxy aborted cannot be echoed: `Arrival.closed` tells the test. */
function ignoreAbort(): void {}

/** Echoes, with these extra answer headers (a raw list: names may repeat). */
export function echoWith(headers: Array<[string, string]>, status = 200): Behaviour {
  return (req, res) => {
    readBody(req).then((received) => {
      const body = JSON.stringify(received);
      const raw: string[] = ['content-type', 'application/json'];
      for (const [name, value] of headers) raw.push(name, value);
      raw.push('content-length', String(Buffer.byteLength(body)));
      res.writeHead(status, raw);
      res.end(body);
    }, ignoreAbort);
  };
}

/** A redirect to `location`, never followed by the proxy. */
export function redirect(location: string, status = 302): Behaviour {
  return (req, res) => {
    req.resume();
    res.writeHead(status, { location, 'content-length': '0' });
    res.end();
  };
}

/** Never answers (the request is read, so only the answer is missing). */
export const stall: Behaviour = (req) => {
  req.resume();
};

/** Sends the status line and headers and a first chunk, then nothing more. */
export const stallAfterHeaders: Behaviour = (req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
  res.write('first bytes;');
};

/** Destroys the connection without answering. */
export const fail: Behaviour = (req) => {
  req.socket.destroy();
};

/** Answers `bytes` bytes of body, written in 64 KiB chunks with backpressure. */
export function streamBytes(bytes: number): Behaviour {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        const more = res.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (!more) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  };
}

export async function readBody(req: IncomingMessage): Promise<Received> {
  const hash = createHash('sha256');
  let bodyLength = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bodyLength += chunk.length;
  }
  return {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    bodyLength,
    bodySha256: hash.digest('hex'),
  };
}

// ----- the app side ----------------------------------------------------------------------------

/** What the owner's CORS hook writes on every answer of a proxied path (here, a marker). */
export const HOOK_ORIGIN = 'https://app.example';

/**
 * The server the proxy runs in: a router's view of the path (`parseurl(req).pathname`, as
 * Express), 404 for paths the prefix does not cover, and a `writeHead` hook like the module's
 * that writes `Access-Control-Allow-Origin` on every answer the proxy writes.
 */
export async function startProxyServer(proxy: ProxyTarget, protocol = 'http'): Promise<Server> {
  const server = createServer((req, res) => {
    const path = parseurl(req)?.pathname ?? '/';
    if (!proxy.covers(path)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no route');
      return;
    }
    beforeHeaders(res, (target) => target.setHeader('Access-Control-Allow-Origin', HOOK_ORIGIN));
    proxy.forward(req, res, path, protocol);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** An answer as the client got it. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The body parsed as JSON. */
  json<T = Received>(): T;
}

export interface Send {
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
}

/**
 * One request with Node's client (on a fresh connection unless `agent` is given); the path is
 * written as given.
 */
export function send(port: number, options: Send, agent?: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve(answerOf(res, Buffer.concat(chunks))));
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) {
      if (!options.chunked) req.setHeader('content-length', Buffer.byteLength(options.body));
      // A write before end(): end(body) alone would send a Content-Length.
      req.write(options.body);
      req.end();
    } else {
      req.end();
    }
  });
}

/** An answer whose head has arrived; its body is the test's to read. */
export interface OpenAnswer {
  res: IncomingMessage;
  /** Settles when the answer closes: whether it was complete (false: cut off). */
  closed: Promise<boolean>;
}

/**
 * A request whose answer is handed over as soon as its head arrives; the request body, if any,
 * is the test's to write (`req.end()` it). A cut answer is seen through `closed` (its 'error' is
 * listened to from the start).
 */
export function open(
  port: number,
  options: Omit<Send, 'body'>,
): { req: ClientRequest; response: Promise<OpenAnswer> } {
  const req = request({
    host: '127.0.0.1',
    port,
    method: options.method ?? 'GET',
    path: options.path,
    headers: options.headers,
    agent: false,
  });
  const response = new Promise<OpenAnswer>((resolve, reject) => {
    req.once('response', (res: IncomingMessage) => {
      res.on('error', () => {});
      const closed = new Promise<boolean>((done) => res.once('close', () => done(res.complete)));
      resolve({ res, closed });
    });
    req.once('error', reject);
  });
  return { req, response };
}

function answerOf(res: IncomingMessage, body: Buffer): Answer {
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    rawHeaders: res.rawHeaders,
    body,
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
  };
}

/**
 * Writes `head` (request line and headers, `\r\n`-separated, without the blank line) on a raw
 * socket with `Connection: close`, and returns the status and body of the answer (the proxy's
 * answers here have a Content-Length).
 */
export async function sendRaw(
  port: number,
  head: string,
): Promise<{ status: number; head: string; body: string }> {
  const socket: Socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  // Not end(): a Node server drops a request whose client half-closed before the answer.
  socket.write(`${head}\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, head: text.slice(0, end), body: text.slice(end + 4) };
}

/**
 * A TCP port where a connection never completes, offline and deterministic: a child process
 * listens with a backlog of 1 and is stopped (SIGSTOP), so it never accepts; two connections
 * fill its accept queue (the kernel completes their handshakes, awaited here), and Linux then
 * drops the SYNs of any further connection, which stays "connecting" until it gives up.
 */
export async function startBlackhole(): Promise<{ port: number; close(): void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s = require('node:net').createServer();" +
        "s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => console.log(s.address().port));",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(String(line).trim());
  child.kill('SIGSTOP');
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, '127.0.0.1');
    fillers.push(socket);
    await once(socket, 'connect');
  }
  return {
    port,
    close() {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}
