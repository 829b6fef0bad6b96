/**
 * Forwarding over real HTTP: the request headers and body the upstream gets, the answer headers
 * the client gets, redirects, body limits, unreachable and slow upstreams, clients that go away,
 * and keep-alive connections the upstream closed. Every answer of the proxy (its errors too) goes
 * through `res.writeHead`, where the test's hook writes `Access-Control-Allow-Origin` as the
 * module's does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { Agent, createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import parseurl from 'parseurl';
import type { CorsProxyOptions } from '../../lib/index.js';
import { compileProxy, type ProxyTarget } from '../../lib/proxy/proxy-target.js';
import {
  closeServer,
  echoWith,
  fail,
  HOOK_ORIGIN,
  open,
  portOf,
  readBody,
  redirect,
  send,
  stall,
  stallAfterHeaders,
  startBlackhole,
  startProxyServer,
  streamBytes,
  Upstream,
} from './upstream.js';

let upstream: Upstream;
let evil: Upstream;
const opened: Array<{ proxy: ProxyTarget; app: Server }> = [];

beforeAll(async () => {
  upstream = await Upstream.start();
  evil = await Upstream.start();
});

afterEach(() => {
  upstream.reset();
  upstream.server.keepAliveTimeout = 5000;
});

afterAll(async () => {
  expect(evil.connections).toBe(0);
  for (const { proxy, app } of opened) {
    proxy.close();
    await closeServer(app);
  }
  await upstream.close();
  await evil.close();
});

/** A proxy server for `/vendor` → `target`; its port. */
async function proxyTo(
  target: string,
  options: Partial<CorsProxyOptions> = {},
  protocol?: string,
): Promise<number> {
  const { proxy, problems } = compileProxy('/vendor', { target, ...options });
  expect(problems).toEqual([]);
  const app = await startProxyServer(proxy!, protocol);
  opened.push({ proxy: proxy!, app });
  return portOf(app);
}

const upstreamUrl = () => `http://${upstream.host}/base`;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const namesOf = (raw: string[]) => raw.filter((_v, i) => i % 2 === 0).map((n) => n.toLowerCase());

function expectError(
  answer: { status: number; headers: Record<string, unknown>; json<T>(): T },
  status: number,
  message: string,
) {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(answer.headers['cache-control']).toBe('no-store');
  expect(answer.headers['access-control-allow-origin']).toBe(HOOK_ORIGIN);
  expect(answer.json()).toEqual({
    statusCode: status,
    error: expect.any(String),
    message: expect.stringContaining(message),
  });
}

describe('request headers', () => {
  let port: number;
  beforeAll(async () => {
    port = await proxyTo(upstreamUrl());
  });

  it('forwards the allow-list only, and sets Host and X-Forwarded-*', async () => {
    const echo = (
      await send(port, {
        path: '/vendor/x',
        headers: {
          accept: 'application/json',
          'accept-language': 'fr',
          'content-type': 'text/plain',
          'content-language': 'fr',
          cookie: 'session=app-secret',
          authorization: 'Bearer app-token',
          origin: 'https://page.example',
          referer: 'https://page.example/private?id=1',
          'user-agent': 'test',
          'x-other': '1',
          'proxy-authorization': 'Basic eDp5',
          'proxy-connection': 'keep-alive',
          'keep-alive': 'timeout=1',
          te: 'trailers',
          upgrade: 'websocket',
          expect: '100-continue',
        },
      })
    ).json();
    expect(Object.keys(echo.headers).sort()).toEqual(
      [
        'accept',
        'accept-language',
        'connection', // Node's client, for its keep-alive pool
        'content-language',
        'content-type',
        'host',
        'x-forwarded-for',
        'x-forwarded-host',
        'x-forwarded-proto',
      ].sort(),
    );
    expect(echo.headers).toMatchObject({
      accept: 'application/json',
      'accept-language': 'fr',
      'content-type': 'text/plain',
      'content-language': 'fr',
      host: upstream.host,
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-host': `127.0.0.1:${port}`,
      'x-forwarded-proto': 'http',
      connection: 'keep-alive',
    });
    expect(echo.method).toBe('GET');
  });

  it('forwards listed headers (cookie, authorization, origin) and fixed ones from the server', async () => {
    const listed = await proxyTo(upstreamUrl(), {
      forwardHeaders: ['cookie', 'authorization', 'origin', 'x-trace-id'],
      setHeaders: { 'X-Api-Key': 'server-key', accept: 'application/vnd.api+json' },
    });
    const echo = (
      await send(listed, {
        path: '/vendor/x',
        headers: {
          cookie: ['a=1', 'b=2'],
          authorization: 'Bearer t',
          origin: 'https://page.example',
          referer: 'https://page.example/',
          'x-trace-id': 'abc',
          accept: 'text/html',
        },
      })
    ).json();
    expect(echo.headers).toMatchObject({
      cookie: 'a=1; b=2',
      authorization: 'Bearer t',
      origin: 'https://page.example',
      'x-trace-id': 'abc',
      'x-api-key': 'server-key',
      accept: 'application/vnd.api+json',
    });
    expect(echo.headers.referer).toBeUndefined();
  });

  it('X-Forwarded-Proto is the protocol the app was given', async () => {
    const https = await proxyTo(upstreamUrl(), {}, 'https');
    expect((await send(https, { path: '/vendor/x' })).json().headers['x-forwarded-proto']).toBe(
      'https',
    );
    const other = await proxyTo(upstreamUrl(), {}, 'gopher');
    expect((await send(other, { path: '/vendor/x' })).json().headers['x-forwarded-proto']).toBe(
      'http',
    );
  });

  it('keeps the method, the query and the target path of the prefix itself', async () => {
    const echo = (await send(port, { method: 'DELETE', path: '/vendor?id=3&x=%20' })).json();
    expect(echo.method).toBe('DELETE');
    expect(echo.url).toBe('/base?id=3&x=%20');
  });
});

describe('request bodies', () => {
  let port: number;
  beforeAll(async () => {
    port = await proxyTo(upstreamUrl(), { maxRequestBytes: 200_000 });
  });

  it('streams a body with a Content-Length, unchanged', async () => {
    const body = randomBytes(150_000);
    const echo = (await send(port, { method: 'POST', path: '/vendor/up', body })).json();
    expect(echo.headers['content-length']).toBe('150000');
    expect(echo.headers['transfer-encoding']).toBeUndefined();
    expect(echo.bodyLength).toBe(150_000);
    expect(echo.bodySha256).toBe(sha256(body));
  });

  it('streams a chunked body chunked, unchanged', async () => {
    const body = randomBytes(120_000);
    const echo = (
      await send(port, { method: 'PUT', path: '/vendor/up', body, chunked: true })
    ).json();
    expect(echo.headers['transfer-encoding']).toBe('chunked');
    expect(echo.headers['content-length']).toBeUndefined();
    expect(echo.bodySha256).toBe(sha256(body));
  });

  it('sends no body framing for a request without a body', async () => {
    const echo = (await send(port, { path: '/vendor/x' })).json();
    expect(echo.headers['content-length']).toBeUndefined();
    expect(echo.headers['transfer-encoding']).toBeUndefined();
    expect(echo.bodyLength).toBe(0);
  });

  it('accepts a body of exactly maxRequestBytes, both ways', async () => {
    const body = randomBytes(200_000);
    for (const chunked of [false, true]) {
      const answer = await send(port, { method: 'POST', path: '/vendor/x', body, chunked });
      expect(answer.status).toBe(200);
      expect(answer.json().bodySha256).toBe(sha256(body));
    }
  });

  it('answers 413 to a larger Content-Length without connecting to the target', async () => {
    const connections = upstream.connections;
    const arrivals = upstream.arrivals.length;
    const answer = await send(port, {
      method: 'POST',
      path: '/vendor/x',
      body: randomBytes(200_001),
    });
    expectError(answer, 413, 'larger than 200000 bytes');
    expect(answer.headers.connection).toBe('close');
    expect(upstream.connections).toBe(connections);
    expect(upstream.arrivals.length).toBe(arrivals);
  });

  it('answers 413 to a chunked body that grows past the limit, and aborts the target request', async () => {
    const arrived = upstream.nextArrival();
    const { req, response } = open(port, { method: 'POST', path: '/vendor/x' });
    req.write(randomBytes(150_000));
    const arrival = await arrived;
    req.end(randomBytes(100_000));
    const { res } = await response;
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(res.statusCode).toBe(413);
    expect(res.headers['access-control-allow-origin']).toBe(HOOK_ORIGIN);
    expect(JSON.parse(Buffer.concat(chunks).toString()).message).toContain('larger than');
    // The upstream saw its request end before any answer: aborted.
    expect(await arrival.closed).toBe(true);
    expect(arrival.req.complete).toBe(false);
  });

  it('passes an answer sent before the body was read, drops the rest, and closes the target request', async () => {
    upstream.server.keepAliveTimeout = 0;
    upstream.behaviour = (_req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain', 'content-length': '6' });
      res.end('denied');
    };
    const arrived = upstream.nextArrival();
    const { req, response } = open(port, { method: 'POST', path: '/vendor/up' });
    req.write(randomBytes(64 * 1024));
    const { res, closed } = await response;
    const arrival = await arrived;
    req.end(randomBytes(64 * 1024));
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(res.statusCode).toBe(401);
    expect(Buffer.concat(chunks).toString()).toBe('denied');
    expect(await closed).toBe(true);
    // The target's request could not be completed: its connection is closed, not pooled (the
    // upstream server sees a request cut short: a parse error on that socket, then 'close').
    // (The upstream's keep-alive timer is off for this test: only the proxy can close it.)
    const socket = arrival.req.socket;
    if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
    expect(arrival.req.complete).toBe(false);
  });

  it('answers 500 when something read the body before the proxy (no hang)', async () => {
    const { proxy } = compileProxy('/vendor', { target: upstreamUrl() });
    const app = createServer((req, res) => {
      void readBody(req).then(() =>
        proxy!.forward(req, res, parseurl(req)?.pathname ?? '/', 'http'),
      );
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    opened.push({ proxy: proxy!, app });
    const arrivals = upstream.arrivals.length;
    const answer = await send(portOf(app), { method: 'POST', path: '/vendor/x', body: 'abc' });
    expect(answer.status).toBe(500);
    expect(answer.json<{ message: string }>().message).toContain('read before the proxy');
    expect(upstream.arrivals.length).toBe(arrivals);
  });
});

describe('answer headers', () => {
  let port: number;
  beforeAll(async () => {
    port = await proxyTo(upstreamUrl());
  });

  const TARGET_HEADERS: Array<[string, string]> = [
    ['Access-Control-Allow-Origin', '*'],
    ['Access-Control-Allow-Credentials', 'true'],
    ['Access-Control-Expose-Headers', 'x-secret'],
    ['Access-Control-Max-Age', '86400'],
    ['Access-Control-Allow-Private-Network', 'true'],
    ['Set-Cookie', 'vendor=1; Path=/'],
    ['Set-Cookie', 'other=2; Path=/; HttpOnly'],
    ['Set-Cookie2', 'legacy=1'],
    ['Connection', 'X-Secret'],
    ['X-Secret', 'hop-by-hop by the target'],
    ['Keep-Alive', 'timeout=99, max=7'],
    ['Proxy-Authenticate', 'Basic realm="x"'],
    ['Upgrade', 'h2c'],
    ['Strict-Transport-Security', 'max-age=63072000; includeSubDomains'],
    ['Clear-Site-Data', '"cookies", "storage"'],
    ['Alt-Svc', 'h3=":443"'],
    ['Vary', 'Accept-Encoding'],
    ['Cache-Control', 'max-age=60'],
    ['ETag', '"v1"'],
    ['X-Custom', 'a'],
    ['X-Custom', 'b'],
    ['Location', 'http://example.invalid/elsewhere'],
  ];

  it("drops the target's CORS, cookie, hop-by-hop and origin-wide headers; passes the rest", async () => {
    upstream.behaviour = echoWith(TARGET_HEADERS, 203);
    const answer = await send(port, { path: '/vendor/x' });
    expect(answer.status).toBe(203);
    const names = namesOf(answer.rawHeaders);
    // The only Access-Control-* is the one the hook wrote.
    expect(names.filter((n) => n.startsWith('access-control-'))).toEqual([
      'access-control-allow-origin',
    ]);
    expect(answer.headers['access-control-allow-origin']).toBe(HOOK_ORIGIN);
    for (const name of [
      'set-cookie',
      'set-cookie2',
      'x-secret',
      'proxy-authenticate',
      'upgrade',
      'strict-transport-security',
      'clear-site-data',
      'alt-svc',
    ]) {
      expect(names).not.toContain(name);
    }
    expect(answer.headers['keep-alive']).not.toBe('timeout=99, max=7');
    expect(answer.headers.connection).not.toMatch(/secret/i);
    expect(answer.headers).toMatchObject({
      vary: 'Accept-Encoding',
      'cache-control': 'max-age=60',
      etag: '"v1"',
      location: 'http://example.invalid/elsewhere',
      'content-type': 'application/json',
    });
    expect(answer.rawHeaders.filter((_v, i) => answer.rawHeaders[i - 1] === 'x-custom')).toEqual([
      'a',
      'b',
    ]);
    expect(answer.json().url).toBe('/base/x');
  });

  it('drops Trailer, Transfer-Encoding and the trailers of a chunked answer', async () => {
    const chunked = createTcpServer((socket) => {
      socket.once('data', () =>
        socket.end(
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n' +
            'Connection: close\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n',
        ),
      );
    });
    chunked.listen(0, '127.0.0.1');
    await once(chunked, 'listening');
    try {
      const raw = await proxyTo(`http://127.0.0.1:${(chunked.address() as AddressInfo).port}`);
      const { req, response } = open(raw, { path: '/vendor/x' });
      req.end();
      const { res } = await response;
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('hello');
      expect(res.headers.trailer).toBeUndefined();
      expect(res.trailers).toEqual({});
    } finally {
      chunked.close();
    }
  });

  it('passes each Set-Cookie line when forwardSetCookie is on', async () => {
    const cookies = await proxyTo(upstreamUrl(), { forwardSetCookie: true });
    upstream.behaviour = echoWith(TARGET_HEADERS);
    const answer = await send(cookies, { path: '/vendor/x' });
    expect(answer.headers['set-cookie']).toEqual(['vendor=1; Path=/', 'other=2; Path=/; HttpOnly']);
    expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it("passes the target's error statuses and bodies as they are", async () => {
    upstream.behaviour = echoWith([], 500);
    const answer = await send(port, { path: '/vendor/broken' });
    expect(answer.status).toBe(500);
    expect(answer.json().url).toBe('/base/broken');
  });

  it('answers HEAD with the head only', async () => {
    const answer = await send(port, { method: 'HEAD', path: '/vendor/x' });
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    expect(upstream.arrivals.at(-1)?.req.method).toBe('HEAD');
  });

  it('answers 404 to a path it does not cover (a router mistake), without forwarding', async () => {
    const { proxy } = compileProxy('/vendor', { target: upstreamUrl() });
    const app = createServer((req, res) => proxy!.forward(req, res, '/vendorx/a', 'http'));
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    opened.push({ proxy: proxy!, app });
    const arrivals = upstream.arrivals.length;
    const answer = await send(portOf(app), { path: '/vendor/a' });
    expect(answer.status).toBe(404);
    expect(answer.json<{ message: string }>().message).toContain('not under the proxy prefix');
    expect(upstream.arrivals.length).toBe(arrivals);
  });

  it('refuses TRACE (it would echo the server-set headers) without forwarding', async () => {
    const arrivals = upstream.arrivals.length;
    expectError(await send(port, { method: 'TRACE', path: '/vendor/x' }), 405, 'TRACE');
    expect(upstream.arrivals.length).toBe(arrivals);
  });

  it('keeps the client connection alive across a refused and a forwarded request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await send(port, { path: '/vendor/%2e%2e' }, agent)).status).toBe(400);
      const sockets = Object.values(agent.freeSockets).flat();
      expect(sockets).toHaveLength(1);
      expect((await send(port, { path: '/vendor/ok' }, agent)).status).toBe(200);
      expect(Object.values(agent.freeSockets).flat()).toEqual(sockets);
    } finally {
      agent.destroy();
    }
  });
});

describe('redirects are passed back, never followed', () => {
  let port: number;
  beforeAll(async () => {
    port = await proxyTo(upstreamUrl());
  });

  it.each([
    [302, () => `http://${evil.host}/steal?c=1`],
    [301, () => `//${evil.host}/x`],
    [307, () => '/login'],
    [308, () => `http://${upstream.host}/base/elsewhere`],
  ])('%i to %s', async (status, location) => {
    upstream.behaviour = redirect(location(), status);
    const arrivals = upstream.arrivals.length;
    const answer = await send(port, { path: '/vendor/go' });
    expect(answer.status).toBe(status);
    expect(answer.headers.location).toBe(location());
    expect(answer.headers['access-control-allow-origin']).toBe(HOOK_ORIGIN);
    expect(upstream.arrivals.length).toBe(arrivals + 1);
    expect(evil.connections).toBe(0);
  });
});

describe('unreachable and broken targets: 502', () => {
  it('a closed port', async () => {
    const closed = createTcpServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port: deadPort } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const port = await proxyTo(`http://127.0.0.1:${deadPort}/`);
    expectError(await send(port, { path: '/vendor/x' }), 502, 'could not be reached');
  });

  it('a target that resets the connection before answering', async () => {
    const port = await proxyTo(upstreamUrl());
    upstream.behaviour = fail;
    expectError(await send(port, { path: '/vendor/x' }), 502, 'could not be reached');
  });

  it('a target that answers something that is not HTTP', async () => {
    const garbage = createTcpServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 two hundred\r\nX: y\r\n\r\n'));
    });
    garbage.listen(0, '127.0.0.1');
    await once(garbage, 'listening');
    try {
      const port = await proxyTo(`http://127.0.0.1:${(garbage.address() as AddressInfo).port}`);
      expectError(await send(port, { path: '/vendor/x' }), 502, 'could not be reached');
    } finally {
      garbage.close();
    }
  });

  it('a target that breaks off its answer: the client answer is cut, not completed', async () => {
    const port = await proxyTo(upstreamUrl());
    upstream.behaviour = (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial', () => res.destroy());
    };
    const { req, response } = open(port, { path: '/vendor/x' });
    req.end();
    const { res, closed } = await response;
    expect(res.statusCode).toBe(200);
    res.resume();
    expect(await closed).toBe(false);
  });
});

describe('timeouts: 504', () => {
  it('connectTimeout: the target never accepts the connection', async () => {
    const blackhole = await startBlackhole();
    try {
      const port = await proxyTo(`http://127.0.0.1:${blackhole.port}`, {
        connectTimeout: 200,
        timeout: 10_000,
      });
      const started = Date.now();
      expectError(await send(port, { path: '/vendor/x' }), 504, 'did not accept the connection');
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(5000);
    } finally {
      blackhole.close();
    }
  });

  it('timeout: the target accepts and never answers; its request is aborted', async () => {
    const port = await proxyTo(upstreamUrl(), { timeout: 300 });
    upstream.behaviour = stall;
    const arrived = upstream.nextArrival();
    const started = Date.now();
    const answer = await send(port, { path: '/vendor/slow' });
    expectError(answer, 504, 'did not answer in time');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await (await arrived).closed).toBe(true);
  });

  it('timeout after the answer started: the answer is cut', async () => {
    const port = await proxyTo(upstreamUrl(), { timeout: 300 });
    upstream.behaviour = stallAfterHeaders;
    const arrived = upstream.nextArrival();
    const { req, response } = open(port, { path: '/vendor/slow' });
    req.end();
    const { res, closed } = await response;
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(HOOK_ORIGIN);
    res.resume();
    expect(await closed).toBe(false);
    expect(await (await arrived).closed).toBe(true);
  });
});

describe('the client going away aborts the target request', () => {
  let port: number;
  beforeAll(async () => {
    port = await proxyTo(upstreamUrl());
  });

  it('before the target answered', async () => {
    upstream.behaviour = stall;
    const arrived = upstream.nextArrival();
    const { req, response } = open(port, { path: '/vendor/slow' });
    response.catch(() => {}); // the client destroys it
    req.end();
    const arrival = await arrived;
    req.destroy();
    expect(await arrival.closed).toBe(true);
  });

  it('while the answer streams', async () => {
    upstream.behaviour = streamBytes(512 * 1024 * 1024);
    const arrived = upstream.nextArrival();
    const { req, response } = open(port, { path: '/vendor/big' });
    req.end();
    const { res } = await response;
    await once(res, 'data');
    res.destroy();
    const arrival = await arrived;
    expect(await arrival.closed).toBe(true);
    expect(arrival.res.writableFinished).toBe(false);
  });

  it('while the request body streams up', async () => {
    const arrived = upstream.nextArrival();
    const { req, response } = open(port, { method: 'POST', path: '/vendor/up' });
    response.catch(() => {});
    req.write(randomBytes(10_000));
    const arrival = await arrived;
    req.destroy();
    expect(await arrival.closed).toBe(true);
    expect(arrival.req.complete).toBe(false);
  });
});

describe('keep-alive connections to the target', () => {
  /**
   * A raw target that answers the first request of each connection with keep-alive and resets
   * the connection at the second (as a server closing an idle connection just as it is reused).
   */
  async function resettingTarget() {
    const seen: string[] = [];
    const server = createTcpServer((socket: Socket) => {
      let requests = 0;
      socket.on('data', (data) => {
        seen.push(data.toString('latin1').split('\r\n')[0]);
        if (requests++ === 0) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok');
        } else {
          socket.destroy();
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { server, seen, port: (server.address() as AddressInfo).port };
  }

  it('a GET on a reused connection the target reset is retried once on a new one', async () => {
    const target = await resettingTarget();
    try {
      const port = await proxyTo(`http://127.0.0.1:${target.port}`);
      expect((await send(port, { path: '/vendor/1' })).body.toString()).toBe('ok');
      const second = await send(port, { path: '/vendor/2' });
      expect(second.status).toBe(200);
      expect(second.body.toString()).toBe('ok');
      expect(target.seen).toEqual(['GET /1 HTTP/1.1', 'GET /2 HTTP/1.1', 'GET /2 HTTP/1.1']);
    } finally {
      target.server.close();
    }
  });

  it('a POST is not retried: 502', async () => {
    const target = await resettingTarget();
    try {
      const port = await proxyTo(`http://127.0.0.1:${target.port}`);
      expect((await send(port, { path: '/vendor/1' })).status).toBe(200);
      const answer = await send(port, { method: 'POST', path: '/vendor/2', body: 'x' });
      expectError(answer, 502, 'could not be reached');
      expect(target.seen).toEqual(['GET /1 HTTP/1.1', 'POST /2 HTTP/1.1']);
    } finally {
      target.server.close();
    }
  });
});
