/**
 * The README's quick start (test/readme/quick-start.ts) in Chromium, on Express and on Fastify
 * (the same module, only the adapter differs): pages on https://app.example.com and
 * https://blog.example.com (served by request interception, no server) call the API.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import type { Page } from 'playwright-core';
import { ADAPTERS } from '../e2e/helpers.js';
import { AppModule } from '../readme/quick-start.js';
import { launchChromium, recordRequests, type Browser } from './chromium.js';

const APP = 'https://app.example.com';
const BLOG = 'https://blog.example.com';

describe.each(ADAPTERS)('README quick start on %s, in Chromium', (adapter) => {
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
    app =
      adapter === 'fastify'
        ? await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false })
        : await NestFactory.create(AppModule, { logger: false });
    // Sees every request the browser sends, preflights included (before the module).
    recordRequests(app, seen);
    await app.listen(0, '127.0.0.1');
    api = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as { port: number }).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it(`the API runs on ${adapter}`, () => {
    expect(app.getHttpAdapter().getType()).toBe(adapter);
  });

  it('the controller policy: the app reads GET /notes with cookies, the blog cannot', async () => {
    const page = await pageAt(APP);
    expect(await call(page, '/notes', { credentials: 'include' })).toBe(200);
    // The module defaults allow https://*.example.com, but the controller narrows /notes.
    const blog = await pageAt(BLOG);
    expect(await call(blog, '/notes', { cache: 'no-store' })).toBe('blocked');
  });

  it('the route policy: PUT is preflighted once, then the preflight is cached (maxAge)', async () => {
    const page = await pageAt(APP);
    const init = {
      method: 'PUT',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    };
    seen.length = 0;
    expect(await call(page, '/notes/7', init)).toBe(200);
    expect(await call(page, '/notes/7', init)).toBe(200);
    expect(seen).toEqual(['OPTIONS /notes/7', 'PUT /notes/7', 'PUT /notes/7']);
  });

  it('@Cors(false): the DELETE preflight is refused and the DELETE never sent', async () => {
    const page = await pageAt(APP);
    seen.length = 0;
    expect(await call(page, '/notes/7', { method: 'DELETE' })).toBe('blocked');
    expect(seen).toEqual(['OPTIONS /notes/7']);
  });

  it('as written (nothing in main.ts): malformed JSON is a readable 400, not a CORS error', async () => {
    const page = await pageAt(APP);
    const init = {
      method: 'PUT',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: '{"title": ',
    };
    expect(await call(page, '/notes/8', init)).toBe(400);
  });

  it('module defaults elsewhere: a 404 from a subdomain page is readable', async () => {
    const blog = await pageAt(BLOG);
    expect(await call(blog, '/missing')).toBe(404);
  });
});
