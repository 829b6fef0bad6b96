/**
 * A configuration with problems fails the boot: `app.init()` rejects with one `CorsConfigError`
 * whose message lists every problem with where it was declared. Under both HTTP adapters, with
 * what only the adapter can tell: a leftover `enableCors()` and a `paths` entry its router cannot
 * parse.
 */
import { describe, expect, it } from '@jest/globals';
import {
  Controller,
  Delete,
  Get,
  Post,
  Put,
  type INestApplication,
  type ModuleMetadata,
} from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Cors, CorsConfigError, CorsModule, type CorsModuleOptions } from '../../lib/index.js';
import { ADAPTERS, get, makeApp, type AdapterName } from './helpers.js';

/**
 * Boots an app on `adapter` that must fail (`setup` runs before `init()`, as in main.ts);
 * returns the CorsConfigError it failed with.
 */
async function bootError(
  metadata: ModuleMetadata,
  adapter: AdapterName,
  setup?: (app: INestApplication) => void,
): Promise<CorsConfigError> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
          logger: false,
        })
      : moduleRef.createNestApplication({ logger: false });
  setup?.(app);
  let error: unknown;
  try {
    await app.init();
  } catch (e) {
    error = e;
  }
  await app.close().catch(() => undefined);
  expect(error).toBeInstanceOf(CorsConfigError);
  return error as CorsConfigError;
}

/**
 * A `paths` entry the router cannot parse: the other router's wildcard. path-to-regexp 8 wants a
 * named wildcard (`*name`); find-my-way wants `*` as the last character (no `{…}` group).
 */
const UNPARSABLE: Record<AdapterName, { pattern: string; message: RegExp }> = {
  express: { pattern: '/docs/*', message: /Missing parameter name/ },
  fastify: { pattern: '/docs{/*rest}', message: /Wildcard must be the last character/ },
};

@Controller('users')
class UsersController {
  @Get()
  list() {
    return [];
  }

  @Put(':id')
  @Cors({ origin: 'https://a.com/' })
  update() {
    return 'updated';
  }

  @Delete(':id')
  @Cors('unknown')
  remove() {
    return 'removed';
  }

  @Get('fine')
  @Cors('reports')
  fine() {
    return 'fine';
  }
}

@Controller('plain')
class PlainController {
  @Get()
  read() {
    return 'plain';
  }
}

const BROKEN: CorsModuleOptions = {
  origin: '*',
  credentials: true,
  policies: {
    reports: { origin: ['example.com'] },
    good: { origin: ['https://good.example'] },
  },
};

describe.each(ADAPTERS)('%s: boot errors', (adapter) => {
  it('init() rejects with CorsConfigError listing every problem with its location', async () => {
    const error = await bootError(
      {
        imports: [CorsModule.forRoot(BROKEN)],
        controllers: [UsersController],
      },
      adapter,
    );
    const message = error.message;
    // One line per problem, each with where it was declared.
    expect(message).toMatch(/^ {2}- module: .*'\*'.*credentials/m);
    expect(message).toMatch(/^ {2}- policy "reports": .*"example\.com".*scheme/m);
    expect(message).toMatch(
      /^ {2}- UsersController\.update: .*"https:\/\/a\.com\/".*trailing slash/m,
    );
    expect(message).toMatch(/^ {2}- UsersController\.remove: .*unknown policy "unknown"/m);
    // The structured list says the same.
    const wheres = error.problems.map((p) => p.where);
    expect(wheres).toEqual(
      expect.arrayContaining([
        'module',
        'policy "reports"',
        'UsersController.update',
        'UsersController.remove',
      ]),
    );
    // The structured fields: a stable code, the offending value, where as data.
    expect(error.problems.map((p) => [p.code, p.source, p.value])).toEqual(
      expect.arrayContaining([
        ['wildcard-with-credentials', { kind: 'module' }, '*'],
        ['origin-without-scheme', { kind: 'policy', name: 'reports' }, 'example.com'],
        [
          'origin-has-trailing-slash',
          { kind: 'route', controller: 'UsersController', handler: 'update' },
          'https://a.com/',
        ],
        [
          'unknown-policy',
          { kind: 'route', controller: 'UsersController', handler: 'remove' },
          'unknown',
        ],
      ]),
    );
    // Nothing is reported where nothing is wrong.
    expect(wheres).not.toContain('policy "good"');
    expect(wheres).not.toContain('UsersController.list');
    expect(wheres).not.toContain('UsersController.fine');
    expect(message).toContain(`(${error.problems.length} problems)`);
  });

  it('reports a problem declared at several places once per place', async () => {
    @Controller('a')
    class AController {
      @Post()
      @Cors({ origin: 'https://a.com/' })
      create() {
        return 'a';
      }
    }

    @Controller('b')
    class BController {
      @Post()
      @Cors({ origin: 'https://a.com/' })
      create() {
        return 'b';
      }
    }

    const error = await bootError(
      {
        imports: [CorsModule.forRoot({ origin: ['https://ok.example'] })],
        controllers: [AController, BController],
      },
      adapter,
    );
    expect(error.problems.map((p) => p.where).sort()).toEqual([
      'AController.create',
      'BController.create',
    ]);
  });

  it('more problems of one place are all listed', async () => {
    @Controller('c')
    class CController {
      @Get()
      @Cors({
        origin: ['https://x.example/path', '*.example.com'],
        methods: ['GET', 'TRACE'],
        exposedHeaders: ['set-cookie'],
        maxAge: 100000,
        optionsSuccessStatus: 302,
      })
      read() {
        return 'c';
      }
    }

    const error = await bootError(
      {
        imports: [CorsModule.forRoot({ origin: ['https://ok.example'] })],
        controllers: [CController],
      },
      adapter,
    );
    expect(error.problems.every((p) => p.where === 'CController.read')).toBe(true);
    const text = error.message;
    expect(text).toContain('"https://x.example/path"');
    expect(text).toContain('"*.example.com"');
    expect(text).toContain('TRACE');
    expect(text).toContain('set-cookie');
    expect(text).toContain('maxAge');
    expect(text).toContain('optionsSuccessStatus');
    expect(error.problems.length).toBe(6);
  });

  it('a problem in controller-level @Cors is reported at the controller', async () => {
    @Controller('d')
    @Cors({ origin: 'https://d.example, https://e.example' })
    class DController {
      @Get()
      read() {
        return 'd';
      }
    }

    const error = await bootError(
      {
        imports: [CorsModule.forRoot({ origin: ['https://ok.example'] })],
        controllers: [DController],
      },
      adapter,
    );
    expect(error.problems.map((p) => p.where)).toEqual(['DController']);
    // A controller-level decorator: a route source without a handler.
    expect(error.problems[0].source).toEqual({ kind: 'route', controller: 'DController' });
    expect(error.problems[0].code).toBe('origin-has-several-values');
    expect(error.message).toContain('"https://d.example, https://e.example"');
  });

  it('forRootAsync: the problems of the resolved options are reported the same way', async () => {
    const error = await bootError(
      {
        imports: [
          CorsModule.forRootAsync({
            useFactory: async () => ({
              origin: 'https://*.com',
              credentials: true,
              policies: { admin: { origin: 'null', credentials: true } },
            }),
          }),
        ],
        controllers: [UsersController],
      },
      adapter,
    );
    const wheres = error.problems.map((p) => p.where);
    expect(wheres).toEqual(expect.arrayContaining(['module', 'policy "admin"']));
    expect(error.message).toContain('https://*.com');
    expect(error.message).toMatch(/policy "admin": .*null/);
  });

  it.each([undefined, null])(
    'forRootAsync: a factory returning %p fails the boot (not the defaults)',
    async (returned) => {
      const error = await bootError(
        {
          imports: [CorsModule.forRootAsync({ useFactory: () => returned as never })],
          controllers: [PlainController],
        },
        adapter,
      );
      expect(error.problems.map((p) => [p.code, p.where, p.source])).toEqual([
        ['missing-module-options', 'module', { kind: 'module' }],
      ]);
      expect(error.message).toContain(
        `module: module options are missing: the forRootAsync factory returned ${String(returned)}`,
      );
    },
  );

  it('the enableCors options delegate (a function) instead of options fails the boot', async () => {
    const delegate = (_req: unknown, cb: (e: null, o: object) => void) => cb(null, {});
    const error = await bootError(
      {
        imports: [CorsModule.forRootAsync({ useFactory: () => delegate as never })],
        controllers: [PlainController],
      },
      adapter,
    );
    expect(error.problems.map((p) => [p.code, p.where])).toEqual([
      ['options-not-object', 'module'],
    ]);
    expect(error.message).toMatch(/delegate/);
  });

  it('forRoot() refuses a function or a missing options object at once, naming the module', () => {
    const delegate = (_req: unknown, cb: (e: null, o: object) => void) => cb(null, {});
    for (const options of [delegate, undefined, null, 'https://app.example']) {
      let error: unknown;
      try {
        CorsModule.forRoot(options as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CorsConfigError);
      const problems = (error as CorsConfigError).problems;
      expect(problems.map((p) => [p.code, p.where, p.source])).toEqual([
        ['options-not-object', 'module', { kind: 'module' }],
      ]);
    }
  });

  it('booleans in origin arrays, empty list items and bad @Cors() values, each where declared', async () => {
    @Controller('e')
    @Cors(5 as never)
    class EController {
      @Get()
      read() {
        return 'e';
      }

      @Put()
      @Cors({ methods: 'GET,,PUT', exposedHeaders: ['x-a', ''] })
      update() {
        return 'e';
      }
    }

    const error = await bootError(
      {
        imports: [
          CorsModule.forRoot({ origin: ['https://ok.example', true] as unknown as string[] }),
        ],
        controllers: [EController],
      },
      adapter,
    );
    expect(error.problems.map((p) => [p.code, p.where, p.source, p.value])).toEqual(
      expect.arrayContaining([
        ['invalid-origin-item', 'module', { kind: 'module' }, true],
        ['invalid-decorator-value', 'EController', { kind: 'route', controller: 'EController' }, 5],
        [
          'empty-list-item',
          'EController.update',
          { kind: 'route', controller: 'EController', handler: 'update' },
          'GET,,PUT',
        ],
        [
          'empty-list-item',
          'EController.update',
          { kind: 'route', controller: 'EController', handler: 'update' },
          ['x-a', ''],
        ],
      ]),
    );
    // The module's bad origin item is reported once, not again for each route.
    expect(error.problems.filter((p) => p.code === 'invalid-origin-item')).toHaveLength(1);
  });

  it('app.enableCors() next to the module refuses to boot (conflicting-cors-middleware)', async () => {
    // Express: the `cors` middleware it mounts; Fastify: @fastify/cors, run from the adapter's hook.
    const error = await bootError(
      {
        imports: [CorsModule.forRoot({ origin: ['https://ok.example'] })],
        controllers: [PlainController],
      },
      adapter,
      (app) => app.enableCors(),
    );
    expect(error.problems.map((p) => [p.code, p.where, p.source])).toEqual([
      ['conflicting-cors-middleware', 'module', { kind: 'module' }],
    ]);
    expect(error.message).toMatch(/enableCors\(\).*Delete it/);
  });

  it('a paths entry the router cannot parse is invalid-path-pattern, listed with the other problems', async () => {
    const { pattern, message } = UNPARSABLE[adapter];
    const error = await bootError(
      {
        imports: [
          CorsModule.forRoot({
            origin: ['https://ok.example/'],
            paths: { [pattern]: {}, '/fine/:id': {} },
          }),
        ],
        controllers: [PlainController],
      },
      adapter,
    );
    expect(error.problems.map((p) => [p.code, p.where, p.source])).toEqual(
      expect.arrayContaining([
        ['origin-has-trailing-slash', 'module', { kind: 'module' }],
        ['invalid-path-pattern', `paths["${pattern}"]`, { kind: 'path', path: pattern }],
      ]),
    );
    expect(error.problems).toHaveLength(2);
    const bad = error.problems.find((p) => p.code === 'invalid-path-pattern');
    expect(bad?.value).toBe(pattern);
    expect(bad?.message).toMatch(message);
    expect(error.message).toContain(`(${error.problems.length} problems)`);
  });

  it('a valid configuration boots (control)', async () => {
    @Controller('users')
    class ValidUsersController {
      @Get()
      list() {
        return [];
      }

      @Put(':id')
      @Cors({ origin: 'https://a.com' })
      update() {
        return 'updated';
      }

      @Delete(':id')
      @Cors('unknown')
      remove() {
        return 'removed';
      }
    }

    const app = await makeApp(
      {
        imports: [
          CorsModule.forRoot({
            origin: ['https://a.com'],
            policies: { reports: { origin: ['https://example.com'] }, unknown: {} },
          }),
        ],
        controllers: [ValidUsersController],
      },
      undefined,
      adapter,
    );
    const res = await get(app, '/users', 'https://a.com').expect(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://a.com');
    await app.close();
  });
});
