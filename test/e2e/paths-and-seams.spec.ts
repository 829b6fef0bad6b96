/**
 * `paths`: policies for paths no controller route serves (routes added on the HTTP adapter, here),
 * listed in the report; and the seams: a leftover `enableCors()` (or `{ cors }`, or a hand-mounted
 * `cors` middleware) refuses to boot instead of silently overriding the module. Under both HTTP
 * adapters: a `paths` entry is written in the router's own syntax (path-to-regexp 8 on Express,
 * find-my-way on Fastify), so the patterns differ by adapter, the behaviour does not.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import cors from 'cors';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CorsConfigError,
  CorsModule,
  CorsService,
  type CorsModuleOptions,
} from '../../lib/index.js';
import { ADAPTERS, acHeaders, get, makeApp, preflight, type AdapterName } from './helpers.js';

const APP = 'https://app.example';
const OTHER = 'https://other.example';
const EVIL = 'https://evil.example';

@Controller('notes')
class NotesController {
  @Get()
  list() {
    return 'notes';
  }
}

/**
 * "`/raw` and everything under it" in each router's syntax: an optional group on Express;
 * Fastify has no optional group (`{/*rest}` throws there), its `*` matches the rest of the path.
 */
const RAW_PATTERN: Record<AdapterName, string> = { express: '/raw{/*rest}', fastify: '/raw/*' };

/**
 * A pattern the router cannot parse: the other router's wildcard. path-to-regexp 8 wants a named
 * wildcard (`*name`); find-my-way wants `*` as the last character.
 */
const UNPARSABLE: Record<AdapterName, { pattern: string; message: RegExp }> = {
  express: { pattern: '/docs/*', message: /Missing parameter name/ },
  fastify: { pattern: '/docs{/*rest}', message: /Wildcard must be the last character/ },
};

function optionsFor(adapter: AdapterName): CorsModuleOptions {
  return {
    origin: [APP],
    credentials: true,
    policies: { public: { origin: '*', credentials: false } },
    paths: {
      [RAW_PATTERN[adapter]]: 'public',
      '/closed': false,
      '/special': { origin: [OTHER], methods: ['GET', 'POST'] },
    },
  };
}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** An app whose extra paths are served by the adapter directly (no controller). */
async function start(adapter: AdapterName, options: CorsModuleOptions = optionsFor(adapter)) {
  app = await makeApp(
    { imports: [CorsModule.forRoot(options)], controllers: [NotesController] },
    (a) => {
      const http = a.getHttpAdapter();
      for (const path of ['/raw/file', '/closed', '/special', '/unlisted']) {
        // `reply()`: an Express response and a Fastify reply alike.
        http.get(path, (_req: unknown, res: unknown) => http.reply(res, path, 200));
      }
    },
    adapter,
  );
  return app;
}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('paths: policies for paths no controller route serves', () => {
    it('a paths entry naming a policy decides its paths, actual requests and preflights', async () => {
      const started = await start(adapter);
      const res = await get(started, '/raw/file', EVIL).expect(200, '/raw/file');
      expect(res.headers['access-control-allow-origin']).toBe('*');
      const pre = await preflight(started, '/raw/file', EVIL, 'PUT', 'content-type').expect(204);
      expect(pre.headers['access-control-allow-origin']).toBe('*');
      expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    });

    it('options merged over the module defaults, and their methods', async () => {
      const started = await start(adapter);
      const res = await get(started, '/special', OTHER).expect(200);
      expect(res.headers['access-control-allow-origin']).toBe(OTHER);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(acHeaders(await get(started, '/special', APP))).toEqual({});
      const post = await preflight(started, '/special', OTHER, 'POST', 'content-type').expect(204);
      expect(post.headers['access-control-allow-methods']).toBe('GET, POST');
      await preflight(started, '/special', OTHER, 'PUT').expect(403);
    });

    it('false: no CORS there; the app answers preflights', async () => {
      const started = await start(adapter);
      expect(acHeaders(await get(started, '/closed', APP).expect(200))).toEqual({});
      const pre = await preflight(started, '/closed', APP, 'PUT');
      expect(pre.status).toBe(404);
      expect(acHeaders(pre)).toEqual({});
    });

    it('other paths keep the module defaults; controller routes keep theirs', async () => {
      const started = await start(adapter);
      const res = await get(started, '/unlisted', APP).expect(200);
      expect(res.headers['access-control-allow-origin']).toBe(APP);
      const notes = await get(started, '/notes', APP).expect(200);
      expect(notes.headers['access-control-allow-origin']).toBe(APP);
    });

    it('report() lists the paths entries after the routes', async () => {
      const started = await start(adapter);
      const raw = RAW_PATTERN[adapter];
      const rows = started.get(CorsService).report();
      expect(rows.map((r) => [r.method, r.path, r.handler, r.source])).toEqual([
        ['GET', '/notes', 'NotesController.list', 'module'],
        ['ALL', raw, `paths["${raw}"]`, 'policy "public"'],
        ['ALL', '/closed', 'paths["/closed"]', 'paths["/closed"]'],
        ['ALL', '/special', 'paths["/special"]', 'paths["/special"]'],
      ]);
      expect(rows[1].policy).toMatchObject({ origins: '*', credentials: false });
      expect(rows[2].policy).toBeNull();
    });

    it('a pattern the router cannot parse refuses to boot, naming the entry', async () => {
      const { pattern, message } = UNPARSABLE[adapter];
      const error = await start(adapter, {
        origin: [APP],
        paths: { [pattern]: {}, '/ok': {} },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CorsConfigError);
      const problems = (error as CorsConfigError).problems;
      expect(problems.map((p) => [p.code, p.where, p.source, p.value])).toEqual([
        ['invalid-path-pattern', `paths["${pattern}"]`, { kind: 'path', path: pattern }, pattern],
      ]);
      expect(problems[0].message).toMatch(message);
    });

    it("the other router's pattern for the same paths boots, and decides them", async () => {
      // The control of the test above: each router's own syntax is accepted.
      const started = await start(adapter, {
        origin: [APP],
        paths: { [UNPARSABLE[adapter === 'express' ? 'fastify' : 'express'].pattern]: false },
      });
      await get(started, '/notes', APP).expect(200);
    });
  });

  describe('the middleware sits before what main.ts mounts that answers requests', () => {
    it('useStaticAssets() files carry the module defaults', async () => {
      const root = mkdtempSync(join(tmpdir(), 'nestjs-cors-static-'));
      writeFileSync(join(root, 'app.js'), 'console.log(1);');
      try {
        const started = await makeApp(
          { imports: [CorsModule.forRoot({ origin: [APP] })], controllers: [NotesController] },
          // Each adapter's own signature: a directory on Express, @fastify/static options on Fastify.
          (a) =>
            adapter === 'express'
              ? (a as NestExpressApplication).useStaticAssets(root)
              : (a as NestFastifyApplication).useStaticAssets({ root }),
          adapter,
        );
        app = started;
        const res = await get(started, '/app.js', APP).expect(200, 'console.log(1);');
        expect(res.headers['access-control-allow-origin']).toBe(APP);
        expect(acHeaders(await get(started, '/app.js', EVIL))).toEqual({});
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe('a leftover enableCors() refuses to boot', () => {
    const leftovers: Array<[string, (a: INestApplication) => void, object]> = [
      ['app.enableCors()', (a) => a.enableCors(), {}],
      [
        'app.enableCors({ hook: "preHandler" })',
        (a) => a.enableCors({ hook: 'preHandler' } as never),
        {},
      ],
      ['NestFactory.create(..., { cors: true })', () => {}, { cors: true }],
      // On Fastify, Nest wraps what `app.use()` receives before middie gets it: a hand-mounted
      // `cors` middleware cannot be told from any other (README, "Fastify").
      ...(adapter === 'express'
        ? [
            ['app.use(cors())', (a: INestApplication) => void a.use(cors()), {}] as [
              string,
              (a: INestApplication) => void,
              object,
            ],
          ]
        : []),
    ];

    it.each(leftovers)('%s', async (_name, setup, appOptions) => {
      const moduleRef = await Test.createTestingModule({
        imports: [CorsModule.forRoot({ origin: [APP] })],
        controllers: [NotesController],
      }).compile();
      const created =
        adapter === 'fastify'
          ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
              logger: false,
              ...appOptions,
            })
          : moduleRef.createNestApplication({ logger: false, ...appOptions });
      setup(created);
      // Fastify loads enableCors()'s plugin when the app gets ready (as `listen()` does): the
      // module checks again then, and the start fails.
      const start = async () => {
        await created.init();
        if (adapter === 'fastify')
          await (created as NestFastifyApplication).getHttpAdapter().getInstance().ready();
      };
      const error = await start().then(
        () => undefined,
        (e: unknown) => e,
      );
      await created.close();
      expect(error).toBeInstanceOf(CorsConfigError);
      const [problem] = (error as CorsConfigError).problems;
      expect(problem.code).toBe('conflicting-cors-middleware');
      expect(problem.message).toMatch(/Delete it/);
    });
  });
});
