/**
 * `paths`: policies for paths no controller route serves (routes added on the HTTP adapter, here),
 * listed in the report; and the seams: a leftover `enableCors()` (or `{ cors }`, or a hand-mounted
 * `cors` middleware) refuses to boot instead of silently overriding the module.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
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
import { acHeaders, get, makeApp, preflight } from './helpers.js';

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

const OPTIONS: CorsModuleOptions = {
  origin: [APP],
  credentials: true,
  policies: { public: { origin: '*', credentials: false } },
  paths: {
    '/raw{/*rest}': 'public',
    '/closed': false,
    '/special': { origin: [OTHER], methods: ['GET', 'POST'] },
  },
};

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** An app whose extra paths are served by the adapter directly (no controller). */
async function start(options: CorsModuleOptions = OPTIONS) {
  app = await makeApp(
    { imports: [CorsModule.forRoot(options)], controllers: [NotesController] },
    (a) => {
      const adapter = a.getHttpAdapter();
      for (const path of ['/raw/file', '/closed', '/special', '/unlisted']) {
        adapter.get(path, (_req: unknown, res: { end(body: string): void }) => res.end(path));
      }
    },
  );
  return app;
}

describe('paths: policies for paths no controller route serves', () => {
  it('a paths entry naming a policy decides its paths, actual requests and preflights', async () => {
    const started = await start();
    const res = await get(started, '/raw/file', EVIL).expect(200, '/raw/file');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const pre = await preflight(started, '/raw/file', EVIL, 'PUT', 'content-type').expect(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('options merged over the module defaults, and their methods', async () => {
    const started = await start();
    const res = await get(started, '/special', OTHER).expect(200);
    expect(res.headers['access-control-allow-origin']).toBe(OTHER);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(acHeaders(await get(started, '/special', APP))).toEqual({});
    const post = await preflight(started, '/special', OTHER, 'POST', 'content-type').expect(204);
    expect(post.headers['access-control-allow-methods']).toBe('GET, POST');
    await preflight(started, '/special', OTHER, 'PUT').expect(403);
  });

  it('false: no CORS there; the app answers preflights', async () => {
    const started = await start();
    expect(acHeaders(await get(started, '/closed', APP).expect(200))).toEqual({});
    const pre = await preflight(started, '/closed', APP, 'PUT');
    expect(pre.status).toBe(404);
    expect(acHeaders(pre)).toEqual({});
  });

  it('other paths keep the module defaults; controller routes keep theirs', async () => {
    const started = await start();
    const res = await get(started, '/unlisted', APP).expect(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    const notes = await get(started, '/notes', APP).expect(200);
    expect(notes.headers['access-control-allow-origin']).toBe(APP);
  });

  it('report() lists the paths entries after the routes', async () => {
    const started = await start();
    const rows = started.get(CorsService).report();
    expect(rows.map((r) => [r.method, r.path, r.handler, r.source])).toEqual([
      ['GET', '/notes', 'NotesController.list', 'module'],
      ['ALL', '/raw{/*rest}', 'paths["/raw{/*rest}"]', 'policy "public"'],
      ['ALL', '/closed', 'paths["/closed"]', 'paths["/closed"]'],
      ['ALL', '/special', 'paths["/special"]', 'paths["/special"]'],
    ]);
    expect(rows[1].policy).toMatchObject({ origins: '*', credentials: false });
    expect(rows[2].policy).toBeNull();
  });

  it('a pattern the router cannot parse refuses to boot, naming the entry', async () => {
    const error = await start({ origin: [APP], paths: { '/docs/*': {}, '/ok': {} } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CorsConfigError);
    const problems = (error as CorsConfigError).problems;
    expect(problems.map((p) => [p.code, p.where, p.source, p.value])).toEqual([
      ['invalid-path-pattern', 'paths["/docs/*"]', { kind: 'path', path: '/docs/*' }, '/docs/*'],
    ]);
  });
});

describe('the middleware sits before what main.ts mounts that answers requests', () => {
  it('useStaticAssets() files carry the module defaults', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nestjs-cors-static-'));
    writeFileSync(join(root, 'app.js'), 'console.log(1);');
    try {
      const started = await makeApp(
        { imports: [CorsModule.forRoot({ origin: [APP] })], controllers: [NotesController] },
        (a) => (a as NestExpressApplication).useStaticAssets(root),
      );
      app = started;
      const res = await get(started, '/app.js', APP).expect(200);
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
    ['app.use(cors())', (a) => a.use(cors()), {}],
    ['NestFactory.create(..., { cors: true })', () => {}, { cors: true }],
  ];

  it.each(leftovers)('%s', async (_name, setup, appOptions) => {
    const moduleRef = await Test.createTestingModule({
      imports: [CorsModule.forRoot({ origin: [APP] })],
      controllers: [NotesController],
    }).compile();
    const created = moduleRef.createNestApplication({ logger: false, ...appOptions });
    setup(created);
    const error = await created.init().then(
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
