/**
 * GraphQL from a page on another origin, in real Chromium (cors-rules §2 item 11), on Express and
 * on Fastify: a Nest app with `@nestjs/graphql` + `@nestjs/apollo` (Apollo Server 5, through
 * `@as-integrations/express5` or `@as-integrations/fastify`) and the module on 127.0.0.1, and
 * pages served by two small servers on http://localhost:<port>. The allowed page runs a query and
 * a mutation with `credentials: 'include'` and a JSON body (preflighted) and reads the results,
 * and reads the 400 of a malformed JSON body (no `mountEarly`); a page on a refused origin gets a
 * TypeError and a CORS error in the console.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { CorsModule } from '../../lib/index.js';
import { ADAPTERS } from '../e2e/helpers.js';
import {
  graphqlModule,
  NotesController,
  NotesResolver,
} from '../e2e/non-controller-routes.support.js';
import { launchChromium, recordRequests, type Browser } from './chromium.js';

/** What a `fetch` in the page ended with. */
type Outcome = { ok: true; status: number; json: any } | { ok: false; error: string };

interface PageResults {
  query: Outcome;
  mutation: Outcome;
  readBack: Outcome;
  malformed: Outcome;
}

/**
 * The page: on load it POSTs a query, a mutation, a query reading the mutation back (GraphQL),
 * and a malformed JSON body (controller route), each with `credentials: 'include'` and
 * `content-type: application/json`; `window.results` is the promise of what it read.
 */
function pageHtml(api: string): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>another origin</title>
<script>
  const API = ${JSON.stringify(api)};
  async function post(path, body) {
    try {
      const res = await fetch(API + path, {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await res.text();
      let json;
      try { json = JSON.parse(text); } catch { json = text; }
      return { ok: true, status: res.status, json };
    } catch (error) {
      return { ok: false, error: error.name + ': ' + error.message };
    }
  }
  const gql = (query, variables) => JSON.stringify({ query, variables });
  window.results = (async () => ({
    query: await post('/graphql', gql('query ($n: String) { hello(name: $n) }', { n: 'chromium' })),
    mutation: await post(
      '/graphql',
      gql('mutation ($t: String!) { addNote(text: $t) { id text } }', { t: location.origin }),
    ),
    readBack: await post('/graphql', gql('{ notes { text } }')),
    malformed: await post('/notes', '{"text":'),
  }))();
</script>
<p>another origin</p>
`;
}

describe.each(ADAPTERS)('GraphQL from another origin on %s, in Chromium', (adapter) => {
  let api: string;
  let app: INestApplication;
  let browser: Browser;
  const pageServers: Server[] = [];
  /** Every request the API saw, preflights included (`METHOD path`). */
  const seen: string[] = [];

  /** A server on 127.0.0.1:<port> serving the page; the page is opened as http://localhost:<port>. */
  async function pageServer(): Promise<string> {
    const server = createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(pageHtml(api));
      } else {
        res.writeHead(204).end(); // favicon.ico: no 404 in the console
      }
    });
    pageServers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://localhost:${(server.address() as AddressInfo).port}`;
  }

  /**
   * Opens `origin` in a fresh page; returns what its script read and its console lines. With
   * `blocked`, it also waits for Chromium's CORS error line (console events travel apart from the
   * evaluate() answer). A page whose requests all succeeded has no CORS error to wait for.
   */
  async function runPage(
    origin: string,
    { blocked = false } = {},
  ): Promise<{ results: PageResults; console: string[] }> {
    const page: Page = await browser.context.newPage();
    const lines: string[] = [];
    page.on('console', (message) => lines.push(message.text()));
    const corsError = blocked
      ? page.waitForEvent('console', (message) => /blocked by CORS policy/.test(message.text()))
      : undefined;
    await page.goto(`${origin}/`);
    const results = (await page.evaluate(() => (globalThis as any).results)) as PageResults;
    await corsError;
    await page.close();
    return { results, console: lines };
  }

  /** The notes the API holds, asked from Node (same-origin, no browser involved). */
  async function notesOnServer(): Promise<string[]> {
    const res = await fetch(`${api}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ notes { text } }' }),
    });
    const body = (await res.json()) as { data: { notes: { text: string }[] } };
    return body.data.notes.map((n) => n.text);
  }

  let allowed: string;
  let refused: string;

  beforeAll(async () => {
    allowed = await pageServer();
    refused = await pageServer();

    @Module({
      imports: [CorsModule.forRoot({ origin: [allowed], credentials: true }), graphqlModule()],
      controllers: [NotesController],
      providers: [NotesResolver],
    })
    class AppModule {}

    // As a main.ts: no mountEarly, no enableCors.
    const options = { logger: false as const, abortOnError: false };
    app =
      adapter === 'fastify'
        ? await NestFactory.create(AppModule, new FastifyAdapter(), options)
        : await NestFactory.create(AppModule, options);
    // Sees every request the browser sends, preflights included (before the module).
    recordRequests(app, seen);
    await app.listen(0, '127.0.0.1');
    api = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    for (const server of pageServers) await new Promise((resolve) => server.close(resolve));
  });

  it(`the API runs on ${adapter}`, () => {
    expect(app.getHttpAdapter().getType()).toBe(adapter);
  });

  it('the allowed page runs a query and a mutation with credentials and reads the data', async () => {
    seen.length = 0;
    const { results, console: lines } = await runPage(allowed);
    expect(results.query).toEqual({
      ok: true,
      status: 200,
      json: { data: { hello: 'hello chromium' } },
    });
    expect(results.mutation).toEqual({
      ok: true,
      status: 200,
      json: { data: { addNote: { id: expect.any(Number), text: allowed } } },
    });
    expect(results.readBack).toEqual({
      ok: true,
      status: 200,
      json: { data: { notes: expect.arrayContaining([{ text: allowed }]) } },
    });
    // The JSON POSTs were preflighted, and the preflight answered by the module.
    expect(seen).toContain('OPTIONS /graphql');
    expect(seen.filter((line) => line === 'POST /graphql')).toHaveLength(3);
    expect(lines.filter((line) => /CORS/.test(line))).toEqual([]);
  });

  it('the allowed page reads the 400 of a malformed JSON body, not a CORS error', async () => {
    const { results, console: lines } = await runPage(allowed);
    expect(results.malformed).toEqual({
      ok: true,
      status: 400,
      json: expect.objectContaining({ statusCode: 400 }),
    });
    expect(lines.filter((line) => /CORS/.test(line))).toEqual([]);
  });

  it('a page on a refused origin cannot: TypeError, a CORS error, the mutation never sent', async () => {
    seen.length = 0;
    const { results, console: lines } = await runPage(refused, { blocked: true });
    for (const key of ['query', 'mutation', 'readBack', 'malformed'] as const) {
      expect({ key, outcome: results[key] }).toEqual({
        key,
        outcome: { ok: false, error: expect.stringMatching(/^TypeError: /) },
      });
    }
    expect(lines.some((line) => /blocked by CORS policy/.test(line))).toBe(true);
    // Only refused preflights reached the API: no GraphQL operation ran for this page.
    expect(seen).toContain('OPTIONS /graphql');
    expect(seen).not.toContain('POST /graphql');
    expect(seen).not.toContain('POST /notes');
    expect(await notesOnServer()).not.toContain(refused);
  });
});
