/**
 * The sample API and its playground page in real Chromium: for every scenario, what the browser
 * let the page see (fetch resolved or rejected, status, readable headers, console message) and
 * what the server saw (requests, preflights, the module's logged reason).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ConsoleMessage, Page } from 'playwright-core';
import { startSample, type RunningSample } from '../../sample/src/sample.js';
import { AdminController } from '../../sample/src/shop/admin.controller.js';
import { AdminLiveGateway, CartLiveGateway } from '../../sample/src/shop/live.gateways.js';
import type { CorsDenialEntry, SeenRequest } from '../../sample/src/telemetry/activity.js';
import { ADAPTERS } from '../e2e/helpers.js';
import { launchChromium, type Browser } from './chromium.js';

/**
 * What `window.playground.run(id)` returns (sample/public/playground.js): a fetch(), or (with
 * `websocket`) a `new WebSocket()`, whose `events` are all the page learnt, `body` its reply.
 */
interface Fetched {
  ok: boolean;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  error?: string;
  websocket?: true;
  events?: string[];
  request: { method: string; path: string };
}
interface ScenarioResult {
  id: string;
  verdict: 'allowed' | 'blocked';
  status: number | null;
  asExpected: boolean;
  fetches: Fetched[];
  server: SeenRequest[];
  denials: CorsDenialEntry[];
}

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const NO_ACAO = "No 'Access-Control-Allow-Origin' header is present on the requested resource";
const PREFLIGHT_FAILED = "Response to preflight request doesn't pass access control check";
/** What Chromium logs for a refused WebSocket handshake (the page itself gets no reason). */
const WS_FAILED = (url: string, status: number) =>
  `WebSocket connection to '${url}' failed: Error during WebSocket handshake: Unexpected response code: ${status}`;
/** The number of scenarios on the page. */
const SCENARIOS = 15;

/** A console message of the page, with the URL it is about (e.g. a resource that failed). */
interface ConsoleEntry {
  type: string;
  text: string;
  url: string;
}
const keep = (into: ConsoleEntry[]) => (message: ConsoleMessage) =>
  into.push({ type: message.type(), text: message.text(), url: message.location().url });
/** Console lines saying that a resource failed to load with a 404 (a favicon, say). */
const notFound = (messages: ConsoleEntry[]) =>
  messages
    .filter((m) => /status of 404|favicon/i.test(m.text) || /favicon/i.test(m.url))
    .map((m) => `${m.text} ${m.url}`);

const summary = (server: SeenRequest[]) =>
  server.map(
    (r) =>
      `${r.preflight ? `OPTIONS(${r.requestMethod})` : r.websocket ? `${r.method}(websocket)` : r.method} ${r.status}`,
  );

/**
 * The same sample (module, controllers, playground page) on each HTTP adapter; the page and
 * Chromium must see the same thing on both.
 */
describe.each(ADAPTERS)('the sample on %s', (adapter) => {
  let sample: RunningSample;
  let browser: Browser;
  let page: Page;
  const consoleLines: string[] = [];
  /** Every console message of the page. */
  const consoleMessages: ConsoleEntry[] = [];

  beforeAll(async () => {
    // The sample's defaults only: no CORS settings from the developer's shell.
    for (const name of ['CORS_ORIGINS', 'ADMIN_ORIGINS', 'CORS_DEBUG']) delete process.env[name];
    sample = await startSample({
      adapter,
      apiPort: 0,
      playgroundPort: 0,
      envFile: false,
      quiet: true,
    });
    browser = await launchChromium();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('console', (message) => consoleLines.push(message.text()));
    page.on('console', keep(consoleMessages));
    await page.goto(sample.playgroundUrl);
    await page.evaluate(() => (globalThis as any).playground.ready);
  });

  afterAll(async () => {
    await browser?.close();
    await sample?.close();
  });

  /** Runs a scenario in the page; returns its result and the console lines it produced. */
  async function run(id: string): Promise<ScenarioResult & { console: string[] }> {
    const before = consoleLines.length;
    const result = (await page.evaluate(
      (scenario) => (globalThis as any).playground.run(scenario),
      id,
    )) as ScenarioResult;
    // Console events travel separately from the evaluate() answer: wait for a blocked fetch's
    // or WebSocket's message (bounded; the assertions say what is missing if it never comes).
    const blockedLine = (line: string) => line.includes('CORS') || line.includes('WebSocket');
    if (result.verdict === 'blocked' && !consoleLines.slice(before).some(blockedLine)) {
      await page
        .waitForEvent('console', { predicate: (m) => blockedLine(m.text()), timeout: 1000 })
        .catch(() => undefined);
    }
    return { ...result, console: consoleLines.slice(before) };
  }

  describe('the playground page', () => {
    it(`the API runs on ${adapter}`, () => {
      expect(sample.adapter).toBe(adapter);
      expect(sample.app.getHttpAdapter().getType()).toBe(adapter);
    });

    it('the API and the playground listen on loopback only', () => {
      const api = (sample.app.getHttpServer() as Server).address() as AddressInfo;
      expect(api.address).toBe('127.0.0.1');
      expect(sample.apiUrl).toBe(`http://localhost:${api.port}`);
      expect(new URL(sample.playgroundUrl).hostname).toBe('127.0.0.1');
    });

    it('lists every scenario with the policy from the module report', async () => {
      const cards = await page.locator('article.card').count();
      expect(cards).toBe(SCENARIOS);
      const admin = await page.textContent('#scenario-admin-read .policy');
      expect(admin).toContain('https://admin.example.com');
      expect(admin).toContain('✗ not this page');
      expect(await page.textContent('#scenario-cors-off .policy')).toContain('CORS off');
      expect(await page.textContent('#scenario-public-catalog .policy')).toContain("'*'");
      expect(await page.textContent('#scenario-cached-preflight .policy')).toContain('600 s');
      // Plain words where `methods` is not set.
      const put = await page.textContent('#scenario-cart-put .policy');
      expect(put).toContain('PUT (not set: the methods this route serves)');
      // The gateways' rows of the report: the module defaults, and @Cors('admin').
      const cart = await page.textContent('#scenario-ws-cart .policy');
      expect(cart).toContain('WEBSOCKET /live/cart');
      expect(cart).toContain('module (gateway CartLiveGateway)');
      expect(cart).toContain('✓ this page');
      const feed = await page.textContent('#scenario-ws-admin .policy');
      expect(feed).toContain('policy "admin" (gateway AdminLiveGateway)');
      expect(feed).toContain('https://admin.example.com');
      expect(feed).toContain('✗ not this page');
      expect(await page.textContent('body')).not.toMatch(/route['’]s/);
    });
  });

  describe('simple requests (no preflight)', () => {
    it("origin '*': allowed, and only safelisted headers are readable", async () => {
      const r = await run('public-catalog');
      expect(r.verdict).toBe('allowed');
      expect(r.status).toBe(200);
      expect(Object.keys(r.fetches[0].headers!).sort()).toEqual(['content-length', 'content-type']);
      expect(JSON.parse(r.fetches[0].body!)).toHaveLength(3);
      expect(summary(r.server)).toEqual(['GET 200']);
      // The server sent X-Request-Id; the browser hid it (not exposed).
      expect(r.server[0].responseHeaders).toEqual(
        expect.arrayContaining(['access-control-allow-origin', 'x-request-id']),
      );
    });

    it('exposedHeaders makes X-Request-Id readable', async () => {
      const r = await run('exposed-header');
      expect(r.verdict).toBe('allowed');
      expect(r.status).toBe(200);
      expect(r.fetches[0].headers!['x-request-id']).toBe(`req-${r.server[0].seq}`);
    });

    it("a named 'admin' policy without this origin: blocked, the handler still ran", async () => {
      const r = await run('admin-read');
      expect(r.verdict).toBe('blocked');
      expect(r.fetches[0].error).toBe('TypeError: Failed to fetch');
      expect(summary(r.server)).toEqual(['GET 200']);
      expect(r.server[0].responseHeaders).not.toContain('access-control-allow-origin');
      expect(r.denials).toHaveLength(1);
      expect(r.denials[0]).toMatchObject({
        kind: 'request',
        route: 'AdminController.users',
        origin: sample.playgroundUrl,
      });
      expect(r.denials[0].reason).toContain('not allowed by the policy');
      expect(r.console.join('\n')).toContain(NO_ACAO);
    });

    it('@Cors(false): blocked, no CORS header and nothing logged', async () => {
      const r = await run('cors-off');
      expect(r.verdict).toBe('blocked');
      expect(summary(r.server)).toEqual(['GET 200']);
      expect(r.server[0].responseHeaders.filter((h) => h.startsWith('access-control-'))).toEqual(
        [],
      );
      expect(r.denials).toEqual([]);
      expect(r.console.join('\n')).toContain(NO_ACAO);
    });

    it('an HTTP-cache revalidation: the 304 carries the CORS headers, the page reads a 200', async () => {
      // The playground fetches with cache: 'no-store'; a page with the default cache mode gets this.
      const since = sample.activity.last;
      const statuses = await page.evaluate(async (api) => {
        const out: number[] = [];
        for (let i = 0; i < 2; i++) out.push((await fetch(`${api}/catalog/products/sku-3`)).status);
        return out;
      }, sample.apiUrl);
      expect(statuses).toEqual([200, 200]);
      const seen = sample.activity.requestsSince(since);
      expect(seen.map((e) => e.status)).toEqual([200, 304]);
      expect(seen[1].responseHeaders).toContain('access-control-allow-origin');
    });

    it("a guard's 401 is readable by the page", async () => {
      const r = await run('guard-401');
      expect(r.verdict).toBe('allowed');
      expect(r.status).toBe(401);
      expect(JSON.parse(r.fetches[0].body!)).toMatchObject({
        statusCode: 401,
        message: 'A bearer token is required',
      });
      expect(summary(r.server)).toEqual(['GET 401']);
    });
  });

  describe("cookies (credentials: 'include')", () => {
    it('without the cookie, /account/me answers a readable 401', async () => {
      // Not a scenario: the "Who am I" scenario logs in first.
      const since = sample.activity.last;
      const status = await page.evaluate(
        // (`cache` is in the browser's RequestInit, not in Node's types.)
        async (api) =>
          (
            await fetch(`${api}/account/me`, {
              credentials: 'include',
              cache: 'no-store',
            } as RequestInit)
          ).status,
        sample.apiUrl,
      );
      expect(status).toBe(401);
      expect(sample.activity.requestsSince(since)).toMatchObject([
        { method: 'GET', path: '/account/me', status: 401, cookie: false },
      ]);
    });

    it('login: a credentialed preflight, then a real cookie is stored', async () => {
      const r = await run('login');
      expect(r.verdict).toBe('allowed');
      expect(r.status).toBe(200);
      expect(summary(r.server)).toEqual(['OPTIONS(POST) 204', 'POST 200']);
      expect(r.server[0]).toMatchObject({ preflight: true, requestHeaders: 'content-type' });
      expect(r.server[1].responseHeaders).toContain('set-cookie');
      expect(Object.keys(r.fetches[0].headers!)).not.toContain('set-cookie');
      const cookies = await browser.context.cookies(sample.apiUrl);
      expect(cookies).toEqual([
        expect.objectContaining({ name: 'sid', httpOnly: true, secure: true, sameSite: 'None' }),
      ]);
    });

    it('/account/me: logs in, then the browser sends the cookie and the page reads the answer', async () => {
      const r = await run('me');
      expect(r.verdict).toBe('allowed');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.fetches[1].body!)).toEqual({ email: 'ada@example.com' });
      expect(summary(r.server)).toEqual(['OPTIONS(POST) 204', 'POST 200', 'GET 200']);
      expect(r.server[2]).toMatchObject({ method: 'GET', path: '/account/me', cookie: true });
    });

    it("credentials against origin '*': the server answers, the browser refuses", async () => {
      const r = await run('wildcard-credentials');
      expect(r.verdict).toBe('blocked');
      expect(r.server).toMatchObject([{ method: 'GET', status: 200, cookie: true }]);
      expect(r.denials).toEqual([]);
      expect(r.console.join('\n')).toContain(
        "The value of the 'Access-Control-Allow-Origin' header in the response must not be the " +
          "wildcard '*' when the request's credentials mode is 'include'",
      );
    });
  });

  describe('preflighted writes', () => {
    it('maxAge: the second and later PATCHes reuse the cached preflight', async () => {
      const first = await run('cached-preflight');
      expect(first.verdict).toBe('allowed');
      expect(summary(first.server)).toEqual(['OPTIONS(PATCH) 204', 'PATCH 200', 'PATCH 200']);
      expect(first.server[0].responseHeaders).toContain('access-control-max-age');
      const again = await run('cached-preflight');
      expect(again.verdict).toBe('allowed');
      expect(summary(again.server)).toEqual(['PATCH 200', 'PATCH 200']);
    });

    it('PUT with JSON: preflight, then the PUT', async () => {
      const r = await run('cart-put');
      expect(r.verdict).toBe('allowed');
      expect(r.status).toBe(200);
      expect(summary(r.server)).toEqual(['OPTIONS(PUT) 204', 'PUT 200']);
      expect(r.server[0].requestHeaders).toBe('content-type');
      expect(JSON.parse(r.fetches[0].body!)).toMatchObject({ quantity: 2 });
    });

    it('DELETE: preflight, then the DELETE (204)', async () => {
      const r = await run('cart-delete');
      expect(r.verdict).toBe('allowed');
      expect(r.status).toBe(204);
      expect(summary(r.server)).toEqual(['OPTIONS(DELETE) 204', 'DELETE 204']);
    });

    it('a request header the policy does not allow: preflight 403, the PUT never sent', async () => {
      const r = await run('header-denied');
      expect(r.verdict).toBe('blocked');
      expect(summary(r.server)).toEqual(['OPTIONS(PUT) 403']);
      expect(r.server[0].requestHeaders).toBe('content-type,x-coupon');
      expect(r.denials).toHaveLength(1);
      expect(r.denials[0]).toMatchObject({ kind: 'preflight', route: 'CartController.put' });
      expect(r.denials[0].reason).toContain('x-coupon');
      expect(r.console.join('\n')).toContain(`${PREFLIGHT_FAILED}: ${NO_ACAO}`);
    });

    it("a denied preflight ('admin') never lets the PUT through", async () => {
      const admin = sample.app.get(AdminController);
      const changesBefore = admin.roleChanges;
      const r = await run('admin-write');
      expect(r.verdict).toBe('blocked');
      expect(summary(r.server)).toEqual(['OPTIONS(PUT) 403']);
      expect(
        sample.activity
          .requestsSince(0)
          .filter((e) => e.method === 'PUT' && e.path.startsWith('/admin')),
      ).toEqual([]);
      expect(admin.roleChanges).toBe(changesBefore);
      expect(r.denials[0]).toMatchObject({ kind: 'preflight', route: 'AdminController.setRole' });
      expect(r.denials[0].reason).toContain('policy "admin"');
      expect(r.console.join('\n')).toContain(`${PREFLIGHT_FAILED}: ${NO_ACAO}`);
    });
  });

  describe('WebSockets: no CORS, the module checks the handshake', () => {
    const socketUrl = (path: string) => `${sample.apiUrl.replace(/^http/, 'ws')}${path}`;

    it('the module defaults: the socket opens, with the cookie, and the gateway knows the user', async () => {
      const gateway = sample.app.get(CartLiveGateway);
      const before = gateway.connections;
      const r = await run('ws-cart');
      expect(r.verdict).toBe('allowed');
      expect(r.status).toBeNull(); // a page never sees a handshake's status
      expect(r.fetches.map((f) => f.request.method)).toEqual(['POST', 'WEBSOCKET']);
      const socket = r.fetches[1];
      expect(socket).toMatchObject({ websocket: true, ok: true });
      expect(socket.events).toEqual(['open', 'message', 'close 1000']);
      // The gateway read the session cookie the browser sent with the handshake.
      expect(JSON.parse(socket.body!)).toEqual({
        event: 'hello',
        data: { you: 'ada@example.com', said: 'hi' },
      });
      expect(summary(r.server)).toEqual(['OPTIONS(POST) 204', 'POST 200', 'GET(websocket) 101']);
      expect(r.server[2]).toMatchObject({
        path: '/live/cart',
        origin: sample.playgroundUrl,
        cookie: true,
        responseHeaders: expect.arrayContaining(['sec-websocket-accept', 'upgrade']),
      });
      expect(r.denials).toEqual([]);
      expect(gateway.connections).toBe(before + 1);
      expect(r.console.filter((line) => line.includes('WebSocket'))).toEqual([]);
    });

    it("policy 'admin': the cookie goes along, the handshake is refused (403), no gateway code runs", async () => {
      const gateway = sample.app.get(AdminLiveGateway);
      const before = gateway.connections;
      const r = await run('ws-admin');
      expect(r.verdict).toBe('blocked');
      expect(r.status).toBeNull();
      const socket = r.fetches[1];
      expect(socket).toMatchObject({ websocket: true, ok: false });
      // All the page learns: an error event, then an abnormal close.
      expect(socket.events).toEqual(['error', 'close 1006']);
      expect(summary(r.server)).toEqual(['OPTIONS(POST) 204', 'POST 200', 'GET(websocket) 403']);
      // The browser attached the user's session cookie: the Origin check is the only defence.
      expect(r.server[2]).toMatchObject({ path: '/live/admin', cookie: true });
      expect(r.server[2].responseHeaders).not.toContain('sec-websocket-accept');
      expect(gateway.connections).toBe(before);
      expect(r.denials).toHaveLength(1);
      expect(r.denials[0]).toMatchObject({
        kind: 'handshake',
        method: 'GET',
        path: '/live/admin',
        route: 'AdminLiveGateway',
        origin: sample.playgroundUrl,
      });
      expect(r.denials[0].reason).toContain('not allowed by the policy');
      expect(r.console).toContain(WS_FAILED(socketUrl('/live/admin'), 403));
      // The card says why, from the module's log.
      expect(await page.textContent('#scenario-ws-admin .why')).toContain(
        'not allowed by the policy',
      );
    });
  });

  describe('run all', () => {
    it('every scenario behaves as the page expects; screenshot', async () => {
      const results = (await page.evaluate(() =>
        (globalThis as any).playground.runAll(),
      )) as ScenarioResult[];
      expect(results.filter((r) => !r.asExpected).map((r) => r.id)).toEqual([]);
      expect(await page.textContent('#summary')).toBe(
        `${SCENARIOS} of ${SCENARIOS} scenarios behaved as expected.`,
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}playground-${adapter}.png`, fullPage: true });
      await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
      await page.screenshot({ path: `${ARTIFACTS}playground-${adapter}-top.png` });
    });
  });

  describe('the console', () => {
    it('shows no 404 (no favicon request: the page declares an empty icon)', async () => {
      // By now the page has long finished loading (a favicon is fetched after the load).
      expect(notFound(consoleMessages)).toEqual([]);
      expect(await page.getAttribute('link[rel="icon"]', 'href')).toBe('data:,');
    });
  });

  describe('each scenario on its own', () => {
    it('run alone, on a freshly loaded page in a fresh browser without cookies, behaves as expected', async () => {
      const fresh = await launchChromium();
      try {
        const alone = fresh.context.pages()[0] ?? (await fresh.context.newPage());
        const messages: ConsoleEntry[] = [];
        alone.on('console', keep(messages));
        const ids = (await page.evaluate(() =>
          (globalThis as any).playground.scenarios.map((s: { id: string }) => s.id),
        )) as string[];
        expect(ids).toHaveLength(SCENARIOS);
        const unexpected: string[] = [];
        // Last to first: no scenario can lean on one listed before it.
        for (const id of [...ids].reverse()) {
          await fresh.context.clearCookies();
          await alone.goto(sample.playgroundUrl);
          await alone.evaluate(() => (globalThis as any).playground.ready);
          const r = (await alone.evaluate(
            (scenario) => (globalThis as any).playground.run(scenario),
            id,
          )) as ScenarioResult;
          if (!r.asExpected) unexpected.push(`${id}: ${r.verdict} ${r.status}`);
          if (id === 'me') {
            expect(r.status).toBe(200);
            expect(r.server.at(-1)).toMatchObject({ method: 'GET', status: 200, cookie: true });
          }
          if (id === 'ws-cart') {
            // Logged in by itself: the handshake carried the cookie.
            expect(JSON.parse(r.fetches.at(-1)!.body!).data.you).toBe('ada@example.com');
            expect(r.server.at(-1)).toMatchObject({ websocket: true, status: 101, cookie: true });
          }
        }
        expect(unexpected).toEqual([]);
        expect(notFound(messages)).toEqual([]);
      } finally {
        await fresh.close();
      }
    });
  });
});
