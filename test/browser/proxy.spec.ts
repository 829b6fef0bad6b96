/**
 * The safe CORS proxy (issue 14) in real Chromium, on Express and on Fastify: an upstream API on
 * loopback with no CORS at all (test/proxy/upstream.ts: it echoes what it received), the app's
 * `CorsModule.forRoot({ proxies })` in front of it, and pages served by two small servers.
 *
 * The app listens on 127.0.0.1 and is called as http://localhost:<port>; the pages are opened as
 * http://127.0.0.1:<port> (one allowed by the policies, one not). As in the WebSocket spec, pages
 * and app are different sites, so a cookie set through the proxy is a third-party cookie:
 * Chromium keeps it only when it is `Secure; SameSite=None; Partitioned` (http://localhost counts
 * as secure), which is what the upstream sets.
 *
 * What is asserted each time: what the page could read (the fetch's status, body and readable
 * headers, or its TypeError), Chromium's console, what the app's server answered (preflights
 * included), the module's denial log (`debug: true`), and what the upstream received.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { CorsModule } from '../../lib/index.js';
import { ADAPTERS, listenApp } from '../e2e/helpers.js';
import { echoWith, fail, Upstream, type Received } from '../proxy/upstream.js';
import { launchChromium, type Browser } from './chromium.js';

const NO_ACAO = "No 'Access-Control-Allow-Origin' header is present on the requested resource";
const PREFLIGHT_FAILED = "Response to preflight request doesn't pass access control check";

/** What a `fetch` in the page ended with. */
type Outcome =
  | {
      ok: true;
      status: number;
      /** The body, parsed as JSON when it is JSON. */
      body: unknown;
      /** `X-Vendor-Trace` as the page can read it (null: hidden by the browser, or absent). */
      trace: string | null;
      /** `X-Vendor-Hidden` as the page can read it. */
      hidden: string | null;
    }
  | { ok: false; error: string };

/** One request the app's server received, before Express/Fastify or the module saw it. */
interface Seen {
  line: string;
  /** Did the browser send a Cookie header? */
  cookie: boolean;
  /** Settles with `METHOD url status` once the answer is finished or its connection closed. */
  done: Promise<string>;
}

/** Captures the module's log lines (the denials, with `debug: true`). */
class Lines implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown) {
    this.lines.push(String(message));
  }
  error(message: unknown) {
    this.lines.push(String(message));
  }
  warn(message: unknown) {
    this.lines.push(String(message));
  }
  debug() {}
  verbose() {}
}

/** Records every request of `server`, ahead of the adapter's own listener. */
function recordServer(server: Server, seen: Seen[]): void {
  server.prependListener('request', (req, res) => {
    const line = `${req.method} ${req.url}`;
    const done = new Promise<string>((resolve) =>
      res.once('close', () => resolve(`${line} ${res.writableFinished ? res.statusCode : 'cut'}`)),
    );
    seen.push({ line, cookie: req.headers.cookie !== undefined, done });
  });
}

/** A page on its own origin (http://127.0.0.1:<port>): an empty document. */
async function pageServer(servers: Server[]): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>another origin</title>');
    } else {
      res.writeHead(204).end(); // favicon.ico: no 404 in the console
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** `PUT` with a JSON body: not a simple request, so Chromium preflights it. */
const PUT_JSON = {
  method: 'PUT',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ quantity: 7 }),
};

describe.each(ADAPTERS)('the CORS proxy on %s, in Chromium', (adapter) => {
  let browser: Browser;
  let upstream: Upstream;
  let app: INestApplication;
  /** The app, as the pages call it: http://localhost:<port>. */
  let api: string;
  /** The upstream, as a page would call it directly. */
  let direct: string;
  let allowed: string;
  let refused: string;
  const pageServers: Server[] = [];
  const seen: Seen[] = [];
  const log = new Lines();

  beforeAll(async () => {
    upstream = await Upstream.start();
    direct = `http://${upstream.host}`;
    allowed = await pageServer(pageServers);
    refused = await pageServer(pageServers);
    let port: number;
    ({ app, port } = await listenApp(
      {
        imports: [
          CorsModule.forRoot({
            origin: [allowed],
            credentials: true,
            debug: true,
            policies: {
              vendor: { origin: [allowed], credentials: true, exposedHeaders: ['X-Vendor-Trace'] },
            },
            proxies: {
              // The vendor's API: its own policy; the cookies it sets are passed on, and the
              // browser's cookies are forwarded to it.
              '/vendor': {
                target: `${direct}/base`,
                policy: 'vendor',
                forwardHeaders: ['cookie'],
                forwardSetCookie: true,
              },
              // Module defaults, and the proxy's defaults: no cookies either way.
              '/plain': { target: `${direct}/plain` },
            },
          }),
        ],
      },
      (nest) => nest.useLogger(log),
      adapter,
    ));
    recordServer(app.getHttpServer() as Server, seen);
    api = `http://localhost:${port}`;
    browser = await launchChromium();
  });

  afterEach(() => {
    upstream.reset();
    upstream.arrivals.length = 0;
    seen.length = 0;
    log.lines.length = 0;
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await upstream?.close();
    for (const server of pageServers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  /** Opens `origin` in a new tab, its console lines collected into `lines`. */
  async function open(origin: string, lines: string[]): Promise<Page> {
    const page = await browser.context.newPage();
    page.on('console', (message) => lines.push(message.text()));
    await page.goto(`${origin}/`);
    return page;
  }

  /** `fetch(url, init)` in the page: what it could read, or the error it got. */
  function call(page: Page, url: string, init: Record<string, unknown> = {}): Promise<Outcome> {
    return page.evaluate(
      async ([target, options]) => {
        try {
          const res = await fetch(target, options as RequestInit);
          const text = await res.text();
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: the text
          }
          return {
            ok: true as const,
            status: res.status,
            body,
            trace: res.headers.get('x-vendor-trace'),
            hidden: res.headers.get('x-vendor-hidden'),
          };
        } catch (error) {
          return {
            ok: false as const,
            error: `${(error as Error).name}: ${(error as Error).message}`,
          };
        }
      },
      [url, init] as const,
    );
  }

  /** `call`, then Chromium's CORS error line (console events travel apart from evaluate()). */
  async function blockedCall(
    page: Page,
    url: string,
    init: Record<string, unknown> = {},
  ): Promise<Outcome> {
    const reported = page.waitForEvent('console', (m) => /blocked by CORS policy/.test(m.text()));
    const outcome = await call(page, url, init);
    await reported;
    return outcome;
  }

  /** What the app's server answered, once every answer is done (`METHOD url status`). */
  const answered = () => Promise.all(seen.map((s) => s.done));
  /** What the upstream received (`METHOD url`). */
  const arrived = () => upstream.arrivals.map((a) => `${a.req.method} ${a.req.url}`);

  it(`the app runs on ${adapter}`, () => {
    expect(app.getHttpAdapter().getType()).toBe(adapter);
  });

  it('an allowed page reads the upstream through the proxy: preflight answered by the module, policy applied', async () => {
    upstream.behaviour = echoWith([
      ['x-vendor-trace', 'trace-1'],
      ['x-vendor-hidden', 'not exposed'],
      // The upstream's own CORS headers are replaced by the policy's.
      ['access-control-allow-origin', 'https://vendor.example'],
      ['access-control-expose-headers', 'X-Vendor-Hidden'],
    ]);
    const lines: string[] = [];
    const page = await open(allowed, lines);
    const outcome = await call(page, `${api}/vendor/cart/7?currency=EUR`, PUT_JSON);
    await page.close();

    expect(outcome).toEqual({
      ok: true,
      status: 200,
      body: expect.objectContaining({
        method: 'PUT',
        url: '/base/cart/7?currency=EUR',
        bodyLength: Buffer.byteLength(PUT_JSON.body),
      }),
      // Exposed by the 'vendor' policy; the upstream's own Expose-Headers was dropped.
      trace: 'trace-1',
      hidden: null,
    });
    // Chromium preflighted the PUT; the module answered it (204) and never forwarded it.
    expect(await answered()).toEqual([
      'OPTIONS /vendor/cart/7?currency=EUR 204',
      'PUT /vendor/cart/7?currency=EUR 200',
    ]);
    expect(arrived()).toEqual(['PUT /base/cart/7?currency=EUR']);
    const received = (outcome as { body: Received }).body;
    expect(received.headers['content-type']).toBe('application/json');
    expect(received.headers.host).toBe(upstream.host);
    // The page's Origin is not forwarded (not listed); the proxy says where it was asked.
    expect(received.headers.origin).toBeUndefined();
    expect(received.headers['x-forwarded-host']).toBe(new URL(api).host);
    expect(lines.filter((line) => /CORS/.test(line))).toEqual([]);
    expect(log.lines.filter((line) => /CORS denied/.test(line))).toEqual([]);
  });

  it('the same page calling the upstream directly is blocked: the upstream has no CORS', async () => {
    const lines: string[] = [];
    const page = await open(allowed, lines);
    const put = await blockedCall(page, `${direct}/base/cart/7`, PUT_JSON);
    const get = await blockedCall(page, `${direct}/base/cart/7`);
    await page.close();

    expect(put).toEqual({ ok: false, error: 'TypeError: Failed to fetch' });
    expect(get).toEqual({ ok: false, error: 'TypeError: Failed to fetch' });
    // The PUT: the upstream answered Chromium's preflight without CORS headers, so the PUT was
    // never sent. The GET (a simple request) reached it, and the browser hid its answer.
    expect(arrived()).toEqual(['OPTIONS /base/cart/7', 'GET /base/cart/7']);
    const blocked = (why: string) =>
      `Access to fetch at '${direct}/base/cart/7' from origin '${allowed}' has been blocked by CORS policy: ${why}.`;
    expect(lines.filter((line) => /CORS/.test(line))).toEqual([
      blocked(`${PREFLIGHT_FAILED}: ${NO_ACAO}`),
      blocked(NO_ACAO),
    ]);
    // Nothing went through the app.
    expect(await answered()).toEqual([]);
  });

  it('a page on a refused origin cannot read through the proxy, and nothing reaches the upstream', async () => {
    const connections = upstream.connections;
    const lines: string[] = [];
    const page = await open(refused, lines);
    const put = await blockedCall(page, `${api}/vendor/cart/8`, PUT_JSON);
    // A simple request is not preflighted: the module refuses to relay it (403).
    const get = await blockedCall(page, `${api}/vendor/cart/8`);
    // Module defaults on /plain: the same.
    const plain = await blockedCall(page, `${api}/plain/status`);
    await page.close();

    for (const outcome of [put, get, plain]) {
      expect(outcome).toEqual({ ok: false, error: 'TypeError: Failed to fetch' });
    }
    expect(await answered()).toEqual([
      'OPTIONS /vendor/cart/8 403',
      'GET /vendor/cart/8 403',
      'GET /plain/status 403',
    ]);
    expect(arrived()).toEqual([]);
    expect(upstream.connections).toBe(connections);
    // The 403 carries no Access-Control-Allow-Origin: that is what Chromium reports.
    const blocked = (path: string, why: string) =>
      `Access to fetch at '${api}${path}' from origin '${refused}' has been blocked by CORS policy: ${why}.`;
    expect(lines.filter((line) => /CORS/.test(line))).toEqual([
      blocked('/vendor/cart/8', `${PREFLIGHT_FAILED}: ${NO_ACAO}`),
      blocked('/vendor/cart/8', NO_ACAO),
      blocked('/plain/status', NO_ACAO),
    ]);
    const denials = log.lines.filter((line) => /CORS denied/.test(line));
    expect(denials).toEqual([
      expect.stringMatching(
        `^CORS denied preflight PUT /vendor/cart/8 from "${refused}" → proxies\\["/vendor"\\]: `,
      ),
      expect.stringMatching(
        `^CORS denied request GET /vendor/cart/8 from "${refused}" → proxies\\["/vendor"\\]: `,
      ),
      expect.stringMatching(
        `^CORS denied request GET /plain/status from "${refused}" → proxies\\["/plain"\\]: `,
      ),
    ]);
  });

  it("credentials: 'include': the upstream's cookie is stored, sent back and forwarded where listed", async () => {
    upstream.behaviour = echoWith([
      ['set-cookie', 'vendor_sid=v-42; Path=/; HttpOnly; Secure; SameSite=None; Partitioned'],
      // Would fail a credentialed request; the policy's headers replace it.
      ['access-control-allow-origin', '*'],
    ]);
    const lines: string[] = [];
    const page = await open(allowed, lines);
    const credentialed = { ...PUT_JSON, credentials: 'include' };
    const login = await call(page, `${api}/vendor/session`, credentialed);
    const cookies = await browser.context.cookies(api);
    upstream.reset();
    const again = await call(page, `${api}/vendor/me`, { credentials: 'include' });
    // /plain does not list `cookie`: the browser sends it, the proxy does not forward it.
    const plain = await call(page, `${api}/plain/me`, { credentials: 'include' });
    await page.close();

    expect(login).toEqual(expect.objectContaining({ ok: true, status: 200 }));
    expect(cookies).toEqual([
      expect.objectContaining({
        name: 'vendor_sid',
        value: 'v-42',
        secure: true,
        sameSite: 'None',
      }),
    ]);
    expect(again).toEqual(expect.objectContaining({ ok: true, status: 200 }));
    expect((again as { body: Received }).body.headers.cookie).toBe('vendor_sid=v-42');
    expect(plain).toEqual(expect.objectContaining({ ok: true, status: 200 }));
    expect((plain as { body: Received }).body.url).toBe('/plain/me');
    expect((plain as { body: Received }).body.headers.cookie).toBeUndefined();
    expect(arrived()).toEqual(['PUT /base/session', 'GET /base/me', 'GET /plain/me']);
    expect(await answered()).toEqual([
      'OPTIONS /vendor/session 204',
      'PUT /vendor/session 200',
      'GET /vendor/me 200',
      'GET /plain/me 200',
    ]);
    // The browser sent the cookie with both calls after the login (not with the preflight).
    expect(seen.map((s) => s.cookie)).toEqual([false, false, true, true]);
    expect(lines.filter((line) => /CORS/.test(line))).toEqual([]);
  });

  it('without forwardSetCookie the upstream cookie is dropped: the browser stores nothing', async () => {
    upstream.behaviour = echoWith([
      ['set-cookie', 'dropped_sid=d-1; Path=/; Secure; SameSite=None; Partitioned'],
    ]);
    const lines: string[] = [];
    const page = await open(allowed, lines);
    const plain = await call(page, `${api}/plain/login`, { credentials: 'include' });
    const dropped = (await browser.context.cookies(api)).map((c) => c.name);
    // The control: the same answer through /vendor (forwardSetCookie) is stored.
    const vendor = await call(page, `${api}/vendor/login`, { credentials: 'include' });
    const stored = (await browser.context.cookies(api)).map((c) => c.name);
    await page.close();

    expect(plain).toEqual(expect.objectContaining({ ok: true, status: 200 }));
    expect(vendor).toEqual(expect.objectContaining({ ok: true, status: 200 }));
    expect(arrived()).toEqual(['GET /plain/login', 'GET /base/login']);
    expect(dropped).not.toContain('dropped_sid');
    expect(stored).toContain('dropped_sid');
  });

  it('a failing upstream: the page reads the 502 (the answer carries the CORS headers)', async () => {
    upstream.behaviour = fail;
    const lines: string[] = [];
    const page = await open(allowed, lines);
    const outcome = await call(page, `${api}/vendor/cart/9`, PUT_JSON);
    await page.close();

    expect(outcome).toEqual(expect.objectContaining({ ok: true, status: 502, trace: null }));
    expect(await answered()).toEqual(['OPTIONS /vendor/cart/9 204', 'PUT /vendor/cart/9 502']);
    expect(arrived()).toEqual(['PUT /base/cart/9']);
    expect(lines.filter((line) => /CORS/.test(line))).toEqual([]);
  });
});
