/**
 * Never an open relay: a table of path and header attacks sent over real HTTP to a proxy in front
 * of a real upstream. Each one is refused by the proxy (400, never forwarded), not routed to it at
 * all (the router's 404), or reaches the upstream — on the upstream's host — with a path under the
 * base path. A second, "evil" server, named by host and port in every attack, never gets a
 * connection. Assertions are on what the upstream received (its echo).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import { compileProxy, type ProxyTarget } from '../../lib/proxy/proxy-target.js';
import {
  closeServer,
  HOOK_ORIGIN,
  portOf,
  send,
  sendRaw,
  startProxyServer,
  Upstream,
  type Received,
} from './upstream.js';

let upstream: Upstream;
let evil: Upstream;
let proxy: ProxyTarget;
let app: Server;
let port: number;
let EVIL: string;

beforeAll(async () => {
  upstream = await Upstream.start();
  evil = await Upstream.start();
  EVIL = evil.host;
  const compiled = compileProxy('/vendor', {
    target: `http://${upstream.host}/base`,
    forwardHeaders: ['authorization', 'x-trace-id'],
    setHeaders: { 'X-Api-Key': 'server-key' },
  });
  expect(compiled.problems).toEqual([]);
  proxy = compiled.proxy!;
  app = await startProxyServer(proxy);
  port = portOf(app);
});

afterAll(async () => {
  // The evil server never got a connection, whatever the tests above did.
  expect(evil.connections).toBe(0);
  proxy.close();
  await closeServer(app);
  await upstream.close();
  await evil.close();
});

type Outcome = 'refused' | 'not-routed' | { path: string };

/**
 * Attacks on the path, as Node's client writes them (the path goes on the wire as given);
 * `{EVIL}` is the evil server's host and port.
 */
const PATH_ATTACKS: Array<[string, string, Outcome]> = [
  ['a network-path reference', `//{EVIL}/x`, 'not-routed'],
  ['a network-path reference under the prefix', `/vendor//{EVIL}/x`, 'refused'],
  ['an absolute URL under the prefix', `/vendor/http://{EVIL}/x`, 'refused'],
  ['a parent segment', '/vendor/..', 'refused'],
  ['a parent segment then a path', '/vendor/../admin', 'refused'],
  ['a current segment', '/vendor/./x', 'refused'],
  ['%2e%2e', '/vendor/%2e%2e/admin', 'refused'],
  ['.%2E', '/vendor/.%2E/admin', 'refused'],
  ['%2E%2e/ at the end', '/vendor/%2E%2e/', 'refused'],
  ['double-encoded dots', '/vendor/%252e%252e/admin', 'refused'],
  ['Tomcat ..;', '/vendor/..;/admin', 'refused'],
  ['IIS overlong dots', '/vendor/%c0%ae%c0%ae/admin', 'refused'],
  ['fullwidth dots', '/vendor/%ef%bc%8e%ef%bc%8e/admin', 'refused'],
  ['an encoded slash', '/vendor/%2F', 'refused'],
  ['encoded slashes to a host', `/vendor/%2f%2f{EVIL}/x`, 'refused'],
  ['encoded dot-dot-slash', '/vendor/..%2f..%2fadmin', 'refused'],
  ['an encoded backslash', '/vendor/%5C', 'refused'],
  ['encoded backslashes to a host', `/vendor/%5C%5C{EVIL}/x`, 'refused'],
  ['a raw backslash', '/vendor/\\', 'refused'],
  ['raw backslashes to a host', `/vendor/\\\\{EVIL}/x`, 'refused'],
  ['raw backslash dot-dot', '/vendor/..\\..\\admin', 'refused'],
  ['CRLF header injection', `/vendor/x%0d%0aHost:%20{EVIL}`, 'refused'],
  ['a NUL byte', '/vendor/x%00.json', 'refused'],
  ['a malformed escape', '/vendor/%zz', 'refused'],
  ['userinfo after the prefix', `/vendor/@{EVIL}/x`, { path: `/base/@{EVIL}/x` }],
  ['userinfo glued to the prefix', `/vendor@{EVIL}/x`, 'not-routed'],
  ['userinfo-looking segment', `/vendor/user:pass@{EVIL}`, { path: `/base/user:pass@{EVIL}` }],
  ['a URL in the query', `/vendor/x?next=http://{EVIL}/`, { path: `/base/x?next=http://{EVIL}/` }],
  ['a second ? in the query', `/vendor/x?a=1?b=//{EVIL}`, { path: `/base/x?a=1?b=//{EVIL}` }],
  ['the prefix alone', '/vendor', { path: '/base' }],
  ['a trailing slash', '/vendor/a/b/', { path: '/base/a/b/' }],
  ['another case of the prefix', '/VENDOR/x', { path: '/base/x' }],
  ['characters to re-encode', '/vendor/<x>"y"', { path: '/base/%3Cx%3E%22y%22' }],
  ['a kept %25', '/vendor/100%25', { path: '/base/100%25' }],
];

const withEvil = (text: string) => text.replaceAll('{EVIL}', EVIL);

async function check(answer: { status: number; body: string }, outcome: Outcome, before: number) {
  if (outcome === 'not-routed') {
    expect(answer.status).toBe(404);
    expect(answer.body).toBe('no route');
  } else if (outcome === 'refused') {
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  } else {
    expect(answer.status).toBe(200);
    const echo = JSON.parse(answer.body) as Received;
    expect(echo.url).toBe(outcome.path);
    expect(echo.headers.host).toBe(upstream.host);
    expect(upstream.arrivals.length).toBe(before + 1);
    return;
  }
  // Refused or not routed: nothing reached the upstream.
  expect(upstream.arrivals.length).toBe(before);
}

describe('path attacks', () => {
  it.each(PATH_ATTACKS)('%s', async (_name, path, expected) => {
    const outcome = typeof expected === 'string' ? expected : { path: withEvil(expected.path) };
    const before = upstream.arrivals.length;
    const answer = await send(port, { path: withEvil(path) });
    await check({ status: answer.status, body: answer.body.toString('latin1') }, outcome, before);
    if (outcome !== 'not-routed') {
      // The module's hook ran on the proxy's own answers too (400s included).
      expect(answer.headers['access-control-allow-origin']).toBe(HOOK_ORIGIN);
    }
    expect(evil.connections).toBe(0);
  });
});

describe('absolute-form request targets (raw socket)', () => {
  it.each([
    ['to the evil host', () => `GET http://${EVIL}/vendor/x?q=1 HTTP/1.1`, '/base/x?q=1'],
    [
      'with userinfo naming the upstream',
      () => `GET http://${upstream.host}@${EVIL}/vendor/x HTTP/1.1`,
      '/base/x',
    ],
    ['over https', () => `GET https://${EVIL}/vendor/a/b HTTP/1.1`, '/base/a/b'],
  ])('%s: only the routed path is used, the host stays the target', async (_name, line, path) => {
    const before = upstream.arrivals.length;
    const answer = await sendRaw(port, `${line()}\r\nHost: ${EVIL}`);
    await check(answer, { path }, before);
    expect(evil.connections).toBe(0);
  });

  it('an absolute-form target with dot segments is refused', async () => {
    const before = upstream.arrivals.length;
    const answer = await sendRaw(port, `GET http://${EVIL}/vendor/%2e%2e/x HTTP/1.1\r\nHost: x`);
    await check(answer, 'refused', before);
  });
});

describe('header attacks', () => {
  it('a Host header naming another server changes nothing but X-Forwarded-Host', async () => {
    const echo = (await send(port, { path: '/vendor/x', headers: { host: EVIL } })).json();
    expect(echo.url).toBe('/base/x');
    expect(echo.headers.host).toBe(upstream.host);
    expect(echo.headers['x-forwarded-host']).toBe(EVIL);
    expect(evil.connections).toBe(0);
  });

  it('a malformed Host is not reported in X-Forwarded-Host', async () => {
    const echo = (await send(port, { path: '/vendor/x', headers: { host: 'a b/c' } })).json();
    expect(echo.headers.host).toBe(upstream.host);
    expect(echo.headers['x-forwarded-host']).toBeUndefined();
  });

  it('X-Forwarded-* and Forwarded from the client never reach the upstream', async () => {
    const echo = (
      await send(port, {
        path: '/vendor/x',
        headers: {
          'x-forwarded-for': '1.2.3.4',
          'x-forwarded-host': EVIL,
          'x-forwarded-proto': 'https',
          'x-forwarded-port': '443',
          forwarded: `for=1.2.3.4;host=${EVIL};proto=https`,
        },
      })
    ).json();
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['x-forwarded-host']).toBe(`127.0.0.1:${port}`);
    expect(echo.headers['x-forwarded-port']).toBeUndefined();
    expect(echo.headers.forwarded).toBeUndefined();
    const names = echo.rawHeaders.filter((_v, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n === 'x-forwarded-for')).toHaveLength(1);
    expect(names.filter((n) => n === 'x-forwarded-host')).toHaveLength(1);
  });

  it('Connection naming listed headers drops them; it cannot drop what the proxy sets', async () => {
    const echo = (
      await send(port, {
        path: '/vendor/x',
        headers: {
          connection: 'authorization, x-api-key, x-forwarded-for, host, content-length, x-trace-id',
          authorization: 'Bearer client-token',
          'x-api-key': 'client-key',
          'x-trace-id': 't-1',
        },
        body: 'hello',
      })
    ).json();
    // Hop-by-hop by the client's own declaration: not forwarded although listed.
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers['x-trace-id']).toBeUndefined();
    // Set by the server or the proxy: still there, with the server's values.
    expect(echo.headers['x-api-key']).toBe('server-key');
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(echo.headers.host).toBe(upstream.host);
    // The body framing is derived from the request, not copied.
    expect(echo.headers['content-length']).toBe('5');
    expect(echo.bodyLength).toBe(5);
    expect(echo.headers.connection).not.toMatch(/authorization/i);
  });

  it('the client cannot replace a setHeaders value, in any case or number of lines', async () => {
    const echo = (
      await send(port, {
        path: '/vendor/x',
        headers: { 'X-API-KEY': ['client-1', 'client-2'] },
      })
    ).json();
    expect(echo.headers['x-api-key']).toBe('server-key');
  });
});
