/**
 * Paths no controller route serves (cors-rules §2 item 11), with the real packages over HTTP,
 * under both HTTP adapters: GraphQL (`@nestjs/graphql` + `@nestjs/apollo`, Apollo Server 5),
 * Swagger UI (`@nestjs/swagger`), static files (`@nestjs/serve-static`) and a route added on the
 * HTTP adapter directly, and sub-applications (an Express router, a Fastify plugin) mounted by
 * main.ts or by a Nest module during init. Under `routes: 'all'` they get the module defaults, preflights included;
 * under `routes: 'decorated'` the app answers them. And body-parser errors (malformed JSON, too
 * large a payload) carry the headers without `CorsModule.mountEarly`: the module sits before the
 * body parsers by itself.
 *
 * On Fastify these integrations are Fastify plugins and routes (`@as-integrations/fastify` adds a
 * root route, `@fastify/static` serves static files and the Swagger UI assets), reached through
 * the same middie middleware as controller routes, except in plugin contexts created before
 * `app.init()` (a known gap, asserted as it is in its own describe below).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import express from 'express';
import type { FastifyPluginAsync } from 'fastify';
import { ServeStaticModule } from '@nestjs/serve-static';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cors, CorsModule, type CorsModuleOptions } from '../../lib/index.js';
import {
  ADAPTERS,
  acHeaders,
  get,
  http,
  listOf,
  preflight,
  type AdapterName,
  type Response,
  varyOf,
} from './helpers.js';
import {
  gql,
  graphqlModule,
  ModulePluginModule,
  NotesController,
  NotesResolver,
} from './non-controller-routes.support.js';

const APP = 'https://app.example';
const EVIL = 'https://evil.example';

const STATIC_DIR = mkdtempSync(join(tmpdir(), 'nestjs-cors-static-'));
writeFileSync(join(STATIC_DIR, 'hello.txt'), 'static hello');

/** The control of `routes: 'decorated'`: a route the module does cover there. */
@Cors()
@Controller('decorated')
class DecoratedController {
  @Get()
  read(): string {
    return 'decorated';
  }
}

/**
 * GraphQL on /graphql, Swagger UI on /docs (+ /docs-json), static files under /static, a raw
 * adapter route at /raw, a sub-application at /plugin (`mountSubApp`) and one a module mounts
 * during init at /module-plugin (`ModulePluginModule`), and two controllers; with
 * `CorsModule.forRoot(cors)`, or without the module at all (`cors` undefined: what the app
 * answers by itself). Built as a main.ts does, with `NestFactory.create` (the testing module
 * builds providers before the HTTP adapter exists, so `ServeStaticModule` would pick its no-op
 * loader), and no `mountEarly`. A Fastify app is made ready (its plugins loaded: Swagger UI's
 * assets, the static files, the queued sub-application), as `listen()` would.
 */
async function build(
  cors: CorsModuleOptions | undefined,
  adapter: AdapterName,
  subApp: SubApp = 'queued',
): Promise<INestApplication> {
  @Module({
    imports: [
      ...(cors === undefined ? [] : [CorsModule.forRoot(cors)]),
      graphqlModule(),
      ServeStaticModule.forRoot({ rootPath: STATIC_DIR, serveRoot: '/static' }),
      ModulePluginModule,
    ],
    controllers: [NotesController, DecoratedController],
    providers: [NotesResolver],
  })
  class AppModule {}

  const options = { logger: false, abortOnError: false } as const;
  const app =
    adapter === 'fastify'
      ? await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), options)
      : await NestFactory.create(AppModule, options);
  // What a main.ts does between create() and listen(): a route on the adapter, Swagger UI, a
  // sub-application.
  const httpAdapter = app.getHttpAdapter();
  // `reply()`: an Express response and a Fastify reply alike.
  httpAdapter.get('/raw', (_req: unknown, res: unknown) => httpAdapter.reply(res, 'raw', 200));
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder().setTitle('notes').setVersion('1').build(),
  );
  SwaggerModule.setup('docs', app, document);
  await mountSubApp(app, adapter, subApp);
  await app.init();
  if (adapter === 'fastify')
    await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

/** How main.ts mounts its sub-application (it only matters on Fastify). */
type SubApp = 'queued' | 'awaited';

/**
 * A sub-application serving `GET /plugin`. On Express, a router mounted with `app.use()` (there
 * is nothing to await). On Fastify, an encapsulated plugin with a route of its own: left to load
 * with the app (`app.register(plugin)`, 'queued'), or awaited as main.ts code often does
 * (`await app.register(plugin)`, 'awaited'), which loads it, and every plugin queued before it,
 * at once.
 */
async function mountSubApp(
  app: INestApplication,
  adapter: AdapterName,
  subApp: SubApp,
): Promise<void> {
  if (adapter === 'express') {
    app.use(express.Router().get('/plugin', (_req, res) => void res.send('plugin')));
    return;
  }
  const plugin: FastifyPluginAsync = async (child) => {
    child.get('/plugin', async () => 'plugin');
  };
  const registered = (app as NestFastifyApplication).register(plugin);
  if (subApp === 'awaited') await registered;
}

/**
 * The largest JSON body each adapter parses by default: body-parser's 100kb on Express (Nest keeps
 * it), Fastify's `bodyLimit` of 1 MiB on Fastify (Nest sets none).
 */
const BODY_LIMIT: Record<AdapterName, number> = { express: 100 * 1024, fastify: 1024 * 1024 };

/** An allowed credentialed cross-origin response. */
function expectAllowed(res: Response): void {
  expect(res.headers['access-control-allow-origin']).toBe(APP);
  expect(res.headers['access-control-allow-credentials']).toBe('true');
  expect(varyOf(res)).toContain('origin');
}

/** A response to a refused origin: no `Access-Control-*` header at all. */
function expectRefused(res: Response): void {
  expect(acHeaders(res)).toEqual({});
}

/** A preflight answered by the module defaults: 204, the origin, credentials, the method. */
function expectDefaultsPreflight(res: Response, method: string, requestHeaders?: string): void {
  expect(res.status).toBe(204);
  expect(res.headers['access-control-allow-origin']).toBe(APP);
  expect(res.headers['access-control-allow-credentials']).toBe('true');
  expect(listOf(res.headers['access-control-allow-methods'])).toContain(method);
  if (requestHeaders !== undefined) {
    expect(listOf(res.headers['access-control-allow-headers']).map((h) => h.toLowerCase())).toEqual(
      expect.arrayContaining(listOf(requestHeaders)),
    );
  }
}

/** POST /graphql with a JSON body, as `fetch` with `content-type: application/json` sends it. */
function postGraphql(app: INestApplication, origin: string, body: string) {
  return http(app)
    .post('/graphql')
    .set('Origin', origin)
    .set('Content-Type', 'application/json')
    .send(body);
}

afterAll(() => rmSync(STATIC_DIR, { recursive: true, force: true }));

describe.each(ADAPTERS)('%s', (adapter) => {
  describe("routes: 'all': paths no controller serves get the module defaults", () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await build({ origin: [APP], credentials: true }, adapter);
    });

    afterAll(async () => {
      await app?.close();
    });

    describe('GraphQL (Apollo) at /graphql', () => {
      it("answers a browser's JSON POST preflight (Apollo alone answers 400)", async () => {
        const res = await preflight(app, '/graphql', APP, 'POST', 'content-type');
        expectDefaultsPreflight(res, 'POST', 'content-type');
      });

      it('refuses the preflight of a refused origin: 403, no Access-Control-* header', async () => {
        const res = await preflight(app, '/graphql', EVIL, 'POST', 'content-type');
        expect(res.status).toBe(403);
        expectRefused(res);
      });

      it('a query POSTed from the allowed origin: 200, the data, the CORS headers', async () => {
        const res = await postGraphql(
          app,
          APP,
          gql('query ($n: String) { hello(name: $n) }', { n: 'app' }),
        );
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ data: { hello: 'hello app' } });
        expectAllowed(res);
      });

      it('a mutation POSTed from the allowed origin: 200, the data, the CORS headers', async () => {
        const res = await postGraphql(
          app,
          APP,
          gql('mutation ($t: String!) { addNote(text: $t) { id text } }', { t: 'from app' }),
        );
        expect(res.status).toBe(200);
        expect(res.body.data.addNote).toEqual({ id: expect.any(Number), text: 'from app' });
        expectAllowed(res);
      });

      it('a POST from a refused origin gets no CORS header (Apollo still runs it: no enforce)', async () => {
        const res = await postGraphql(app, EVIL, gql('{ hello }'));
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ data: { hello: 'hello world' } });
        expectRefused(res);
      });

      it("a GET from the allowed origin carries the headers, whatever Apollo's CSRF check says", async () => {
        // A plain GET (no preflight-forcing header) is refused by Apollo's CSRF prevention...
        const plain = await get(app, '/graphql?query=%7Bhello%7D', APP);
        expect(plain.status).toBe(400);
        expect(plain.text).toMatch(/Cross-Site Request Forgery/);
        expectAllowed(plain);
        // ...and a GET with the header a browser preflights for is executed.
        const pre = await preflight(app, '/graphql', APP, 'GET', 'apollo-require-preflight');
        expectDefaultsPreflight(pre, 'GET', 'apollo-require-preflight');
        const forced = await get(app, '/graphql?query=%7Bhello%7D', APP).set(
          'apollo-require-preflight',
          'true',
        );
        expect(forced.status).toBe(200);
        expect(forced.body).toEqual({ data: { hello: 'hello world' } });
        expectAllowed(forced);
      });
    });

    describe('Swagger UI (SwaggerModule.setup) at /docs', () => {
      it('GET /docs (the UI page) from the allowed origin carries the headers', async () => {
        const res = await get(app, '/docs', APP);
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toMatch(/text\/html/);
        expectAllowed(res);
      });

      it('GET /docs-json (the document) from the allowed origin carries the headers', async () => {
        const res = await get(app, '/docs-json', APP);
        expect(res.status).toBe(200);
        expect(res.body.info.title).toBe('notes');
        expectAllowed(res);
      });

      it('a Swagger UI asset from the allowed origin carries the headers', async () => {
        const res = await get(app, '/docs/swagger-ui.css', APP);
        expect(res.status).toBe(200);
        expectAllowed(res);
      });

      it('a refused origin reads /docs-json without CORS headers', async () => {
        const res = await get(app, '/docs-json', EVIL);
        expect(res.status).toBe(200);
        expectRefused(res);
      });

      it('a preflight to /docs-json is answered by the module defaults', async () => {
        expectDefaultsPreflight(
          await preflight(app, '/docs-json', APP, 'GET', 'x-requested-with'),
          'GET',
          'x-requested-with',
        );
        const refused = await preflight(app, '/docs-json', EVIL, 'GET', 'x-requested-with');
        expect(refused.status).toBe(403);
        expectRefused(refused);
      });
    });

    describe('ServeStaticModule at /static', () => {
      it('a static file carries the headers for the allowed origin, not for a refused one', async () => {
        const allowed = await get(app, '/static/hello.txt', APP);
        expect(allowed.status).toBe(200);
        expect(allowed.text).toBe('static hello');
        expectAllowed(allowed);
        const refused = await get(app, '/static/hello.txt', EVIL);
        expect(refused.status).toBe(200);
        expectRefused(refused);
      });

      it('a preflight to a static file is answered by the module defaults', async () => {
        expectDefaultsPreflight(
          await preflight(app, '/static/hello.txt', APP, 'GET', 'x-requested-with'),
          'GET',
          'x-requested-with',
        );
      });
    });

    describe('a route added on the HTTP adapter directly (/raw)', () => {
      it('the actual GET carries the headers for the allowed origin, not for a refused one', async () => {
        const allowed = await get(app, '/raw', APP);
        expect(allowed.status).toBe(200);
        expect(allowed.text).toBe('raw');
        expectAllowed(allowed);
        const refused = await get(app, '/raw', EVIL);
        expect(refused.status).toBe(200);
        expectRefused(refused);
      });

      it('preflights are answered with the module defaults (methods: the cors default list)', async () => {
        expectDefaultsPreflight(
          await preflight(app, '/raw', APP, 'GET', 'x-requested-with'),
          'GET',
        );
        expectDefaultsPreflight(await preflight(app, '/raw', APP, 'PUT', 'content-type'), 'PUT');
        // Not in the cors default list (GET, HEAD, PUT, PATCH, POST, DELETE) and no `methods` set.
        const outside = await preflight(app, '/raw', APP, 'PROPFIND');
        expect(outside.status).toBe(403);
        expectRefused(outside);
        const refused = await preflight(app, '/raw', EVIL, 'GET');
        expect(refused.status).toBe(403);
        expectRefused(refused);
      });
    });

    describe('sub-applications: main.ts mounts /plugin, a Nest module /module-plugin', () => {
      it('an Express router, or a Fastify plugin loaded with the app: the module defaults', async () => {
        const allowed = await get(app, '/plugin', APP);
        expect(allowed.status).toBe(200);
        expect(allowed.text).toBe('plugin');
        expectAllowed(allowed);
        const refused = await get(app, '/plugin', EVIL);
        expect(refused.status).toBe(200);
        expectRefused(refused);
        expectDefaultsPreflight(
          await preflight(app, '/plugin', APP, 'GET', 'x-requested-with'),
          'GET',
        );
      });

      it('a sub-application a Nest module mounts during init (on Fastify an awaited plugin)', async () => {
        // Its context is created after the module mounted its middleware: middie copies it in.
        const allowed = await get(app, '/module-plugin', APP);
        expect(allowed.status).toBe(200);
        expect(allowed.text).toBe('module-plugin');
        expectAllowed(allowed);
        expectRefused(await get(app, '/module-plugin', EVIL).expect(200));
        expectDefaultsPreflight(
          await preflight(app, '/module-plugin', APP, 'PUT', 'content-type'),
          'PUT',
          'content-type',
        );
      });
    });

    describe('body-parser errors on a controller route, without CorsModule.mountEarly', () => {
      const post = (origin: string, body: string) =>
        http(app)
          .post('/notes')
          .set('Origin', origin)
          .set('Content-Type', 'application/json')
          .send(body);

      it('a well-formed body reaches the handler (control)', async () => {
        const res = await post(APP, '{"text":"ok"}');
        expect(res.status).toBe(201);
        expect(res.body).toEqual({ received: { text: 'ok' } });
        expectAllowed(res);
      });

      it('malformed JSON from the allowed origin: 400 with the CORS headers', async () => {
        const res = await post(APP, '{"text":');
        expect(res.status).toBe(400);
        expectAllowed(res);
      });

      it("a body over the adapter's default JSON limit: 413 with the CORS headers", async () => {
        const text = 'x'.repeat(BODY_LIMIT[adapter] + 1024);
        const res = await post(APP, JSON.stringify({ text }));
        expect(res.status).toBe(413);
        expectAllowed(res);
      });

      it('malformed JSON from a refused origin: 400 without CORS headers', async () => {
        const res = await post(EVIL, '{"text":');
        expect(res.status).toBe(400);
        expectRefused(res);
      });
    });
  });

  describe('main.ts awaits app.register(plugin) after SwaggerModule.setup()', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await build({ origin: [APP], credentials: true }, adapter, 'awaited');
    });

    afterAll(async () => {
      await app?.close();
    });

    /*
     * On Fastify, middie gives an encapsulated plugin context a copy of its parent's middleware
     * when the context is created. `NestFactory.create()` registers middie; `await
     * app.register(plugin)` in main.ts then creates the contexts of that plugin and of every
     * plugin queued before it (Swagger UI's assets, which `SwaggerModule.setup()` registers in a
     * plugin of their own) before `app.init()`, where the module mounts its middleware on the root
     * context. Like Nest for its own middleware, the module adds it to those contexts too.
     * Express has no plugin contexts: the module's middleware precedes everything there.
     */
    it.each(['/plugin', '/docs/swagger-ui.css'])(
      'a route of a plugin loaded before init (%s) gets the module defaults',
      async (path) => {
        const res = await get(app, path, APP);
        expect(res.status).toBe(200);
        expectAllowed(res);
        expectDefaultsPreflight(await preflight(app, path, APP, 'GET', 'x-requested-with'), 'GET');
        expectRefused(await get(app, path, EVIL));
      },
    );

    it('routes of the root context keep the module defaults (control)', async () => {
      for (const path of ['/docs-json', '/raw', '/static/hello.txt', '/module-plugin', '/notes']) {
        const res = await get(app, path, APP);
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expectAllowed(res);
      }
      expectAllowed(await postGraphql(app, APP, gql('{ hello }')).expect(200));
    });
  });

  describe("routes: 'decorated': paths no controller serves are left to the app", () => {
    let app: INestApplication;
    /** The same app without CorsModule: what the app answers by itself. */
    let bare: INestApplication;

    beforeAll(async () => {
      app = await build({ origin: [APP], credentials: true, routes: 'decorated' }, adapter);
      bare = await build(undefined, adapter);
    });

    afterAll(async () => {
      await app?.close();
      await bare?.close();
    });

    it('the decorated controller route is covered (control)', async () => {
      const res = await get(app, '/decorated', APP);
      expect(res.status).toBe(200);
      expectAllowed(res);
      expectDefaultsPreflight(
        await preflight(app, '/decorated', APP, 'GET', 'x-requested-with'),
        'GET',
      );
    });

    it.each([
      // Apollo's CSRF prevention refuses an OPTIONS without a JSON content type.
      ['/graphql', 'POST', 'content-type', 400],
      ['/docs-json', 'GET', 'x-requested-with', 404],
      ['/static/hello.txt', 'GET', 'x-requested-with', 404],
      ['/raw', 'GET', 'x-requested-with', 404],
      // An Express router answers an OPTIONS to its paths itself (200, `Allow`); a Fastify
      // plugin has no OPTIONS route there.
      ['/plugin', 'GET', 'x-requested-with', adapter === 'express' ? 200 : 404],
      ['/module-plugin', 'GET', 'x-requested-with', adapter === 'express' ? 200 : 404],
    ])(
      'a preflight to %s reaches the app: its own answer, no CORS header',
      async (path, method, acrh, status) => {
        const alone = await preflight(bare, path, APP, method, acrh);
        expect({ path, status: alone.status }).toEqual({ path, status });
        const res = await preflight(app, path, APP, method, acrh);
        expect({ path, status: res.status }).toEqual({ path, status });
        expect(res.text).toBe(alone.text);
        expectRefused(res);
      },
    );

    it('actual requests to GraphQL, Swagger UI, a static file, a raw route and sub-applications get no CORS header', async () => {
      const graphql = await postGraphql(app, APP, gql('{ hello }'));
      expect(graphql.status).toBe(200);
      expect(graphql.body).toEqual({ data: { hello: 'hello world' } });
      expectRefused(graphql);
      for (const path of [
        '/docs',
        '/docs-json',
        '/static/hello.txt',
        '/raw',
        '/plugin',
        '/module-plugin',
      ]) {
        const res = await get(app, path, APP);
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expectRefused(res);
      }
    });
  });
});
