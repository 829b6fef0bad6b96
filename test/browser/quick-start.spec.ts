/**
 * The README's quick start (sample/src/quick-start.ts) in Chromium: a page on
 * http://localhost:4200 (served by request interception, no server) calls the API.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { Page } from 'playwright-core';
import { AppModule } from '../../sample/src/quick-start.js';
import { launchChromium, type Browser } from './chromium.js';

let app: INestApplication;
let api: string;
let browser: Browser;
const seen: string[] = [];

/** A page on `origin`, fulfilled by Playwright: only the origin matters to CORS. */
async function pageAt(origin: string): Promise<Page> {
  // A page Playwright fulfils has no address space of its own, so Chromium treats it as public
  // and its calls to 127.0.0.1 need the Local Network Access permission. A real dev server on
  // localhost would not: grant it, as loopback-to-loopback would be.
  await browser.context.grantPermissions(['local-network-access'], { origin });
  const page = await browser.context.newPage();
  await page.route(`${origin}/`, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>front end</title>' }),
  );
  await page.goto(`${origin}/`);
  // While a route is active Playwright answers CORS preflights itself: remove it before fetching.
  await page.unrouteAll();
  return page;
}

/** fetch() in the page: the status, or 'blocked' when the browser refused the response. */
function call(page: Page, path: string, init: Record<string, unknown> = {}) {
  return page.evaluate(
    async ([url, options]) => {
      try {
        return (await fetch(url, options as RequestInit)).status;
      } catch {
        return 'blocked';
      }
    },
    [`${api}${path}`, init] as const,
  );
}

beforeAll(async () => {
  app = await NestFactory.create(AppModule, { logger: false });
  // Sees every request the browser sends, preflights included (mounted before the module's).
  app.use((req: { method: string; url: string }, _res: unknown, next: () => void) => {
    seen.push(`${req.method} ${req.url}`);
    next();
  });
  await app.listen(0, '127.0.0.1');
  api = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as { port: number }).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('README quick start, from http://localhost:4200', () => {
  it("@Cors({ origin: '*' }) on the controller: any page reads GET /products", async () => {
    const page = await pageAt('http://localhost:4200');
    expect(await call(page, '/products')).toBe(200);
    const other = await pageAt('http://localhost:5173');
    expect(await call(other, '/products')).toBe(200);
  });

  it('@Cors({ origin, credentials }) on a route: the front end POSTs JSON with cookies', async () => {
    const page = await pageAt('http://localhost:4200');
    const init = {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    };
    expect(await call(page, '/products', init)).toBe(201);
    seen.length = 0;
    const other = await pageAt('http://localhost:5173');
    expect(await call(other, '/products', init)).toBe('blocked');
    expect(seen).toEqual(['OPTIONS /products']); // the refused preflight; no POST
  });

  it('@Cors(false): the browser blocks the read', async () => {
    const page = await pageAt('http://localhost:4200');
    expect(await call(page, '/products/stock')).toBe('blocked');
  });
});
