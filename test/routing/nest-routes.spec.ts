import { describe, expect, it } from '@jest/globals';
import {
  All,
  Controller,
  Delete,
  Get,
  Head,
  Module,
  Options,
  Patch,
  Post,
  Put,
  RequestMethod,
  Scope,
  Search,
  Version,
  VERSION_NEUTRAL,
  VersioningType,
  type INestApplication,
  type NestApplicationOptions,
  type Type,
} from '@nestjs/common';
import {
  ApplicationConfig,
  DiscoveryModule,
  HttpAdapterHost,
  MetadataScanner,
  ModulesContainer,
  RouterModule,
} from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { collectNestRoutes } from '../../lib/routing/nest-routes.js';
import type { RouteRecord } from '../../lib/routing/route-record.js';
import { NEST_MAJOR } from '../nest-major.js';

/** Nest 12's option (typed loosely: Nest 11's options do not have it, and ignore it). */
const SPECIFICITY = { routeResolutionStrategy: 'specificity' } as NestApplicationOptions;

interface Registered {
  method: string;
  path: string;
  name: string;
}

/** Adapter verb methods, named after RequestMethod (`get`, `post`, …, `all`, `search`, `query`). */
const VERBS = Object.values(RequestMethod)
  .filter((value): value is string => typeof value === 'string')
  .map((name) => name.toLowerCase());

/**
 * Boots a real Express app for `moduleType`, records every (method, path) the router hands to
 * the adapter, and builds the route table from the app's injectables after `init()`.
 */
async function routesOf(
  moduleType: Type<unknown>,
  configure: (app: INestApplication) => void = () => {},
  options: NestApplicationOptions = {},
): Promise<{ registered: Registered[]; table: RouteRecord[] }> {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule, moduleType],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false, ...options });
  const adapter = app.getHttpAdapter() as unknown as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  const registered: Registered[] = [];
  for (const verb of VERBS) {
    const original = adapter[verb].bind(adapter);
    adapter[verb] = (path: unknown, handler: unknown) => {
      // RouterExplorer names each handler `Controller.method`.
      registered.push({ method: verb.toUpperCase(), path: String(path), name: nameOf(handler) });
      return original(path, handler);
    };
  }
  configure(app);
  await app.init();
  const table = await collectNestRoutes({
    modulesContainer: app.get(ModulesContainer),
    metadataScanner: app.get(MetadataScanner),
    applicationConfig: app.get(ApplicationConfig),
    httpAdapter: app.get(HttpAdapterHost).httpAdapter,
  });
  await app.close();
  return { registered, table };
}

function nameOf(handler: unknown): string {
  return (handler as { name: string }).name;
}

function pairs(table: RouteRecord[]): Registered[] {
  return table.map(({ method, path, name }) => ({ method, path, name }));
}

/**
 * The table lists exactly what the adapter got, in the same order, numbered from 0. Without
 * `names`, only methods and paths are compared.
 */
function expectSameAsAdapter(
  { registered, table }: { registered: Registered[]; table: RouteRecord[] },
  // Nest 11 registers anonymous route handlers: only Nest 12's are named `Controller.method`.
  { names = NEST_MAJOR >= 12 } = {},
) {
  expect(registered.length).toBeGreaterThan(0);
  const strip = ({ method, path, name }: Registered) => ({ method, path, ...(names && { name }) });
  expect(pairs(table).map(strip)).toEqual(registered.map(strip));
  expect(table.map((route) => route.order)).toEqual(registered.map((_, index) => index));
}

describe('collectNestRoutes', () => {
  it('lists plain routes with params and wildcards, module by module', async () => {
    @Controller('users')
    class UsersController {
      @Get()
      findAll() {}
      @Get(':id')
      findOne() {}
      @Post()
      create() {}
      @Put(':id')
      replace() {}
      @Patch(':id')
      update() {}
      @Delete(':id')
      remove() {}
    }
    @Controller('files')
    class FilesController {
      @Get('raw/*rest')
      raw() {}
      @Get('{*path}')
      any() {}
      @Get('legacy/*')
      legacy() {}
    }
    @Controller()
    class RootController {
      @Get()
      index() {}
    }
    @Module({ controllers: [FilesController] })
    class FilesModule {}
    @Module({ imports: [FilesModule], controllers: [RootController, UsersController] })
    class AppModule {}

    const routes = await routesOf(AppModule);
    expectSameAsAdapter(routes);
    expect(pairs(routes.table)).toEqual(
      expect.arrayContaining([
        { method: 'GET', path: '/', name: 'RootController.index' },
        { method: 'GET', path: '/users/:id', name: 'UsersController.findOne' },
        { method: 'GET', path: '/files/raw/*rest', name: 'FilesController.raw' },
        // The method path gets a leading slash: `{*path}` under `files` needs `/files/`.
        { method: 'GET', path: '/files/{*path}', name: 'FilesController.any' },
        // Express's normalizePath converts the legacy wildcard.
        { method: 'GET', path: '/files/legacy/{*path}', name: 'FilesController.legacy' },
      ]),
    );
    const findOne = routes.table.find((route) => route.name === 'UsersController.findOne');
    expect(findOne?.controller).toBe(UsersController);
    expect(findOne?.handler).toBe(UsersController.prototype.findOne);
    expect(findOne?.acceptsHost).toBeUndefined();
    expect(findOne?.acceptsVersion).toBeUndefined();
  });

  it('expands path arrays on the controller and on the method', async () => {
    @Controller(['cats', 'kittens'])
    class CatsController {
      @Get(['a', 'b'])
      list() {}
      @Post()
      create() {}
    }
    @Module({ controllers: [CatsController] })
    class AppModule {}

    const routes = await routesOf(AppModule);
    expectSameAsAdapter(routes);
    expect(routes.table.map((route) => `${route.method} ${route.path}`)).toEqual([
      'GET /cats/a',
      'GET /cats/b',
      'POST /cats',
      'GET /kittens/a',
      'GET /kittens/b',
      'POST /kittens',
    ]);
  });

  it('names @All(), @Options(), @Head() and @Search() routes', async () => {
    @Controller('misc')
    class MiscController {
      @All('any')
      any() {}
      @Options('opts')
      opts() {}
      @Head('head')
      head() {}
      @Search('find')
      find() {}
    }
    @Module({ controllers: [MiscController] })
    class AppModule {}

    const routes = await routesOf(AppModule);
    expectSameAsAdapter(routes);
    expect(routes.table.map((route) => `${route.method} ${route.path}`)).toEqual([
      'ALL /misc/any',
      'OPTIONS /misc/opts',
      'HEAD /misc/head',
      'SEARCH /misc/find',
    ]);
  });

  it('applies the global prefix, except to excluded routes', async () => {
    @Controller()
    class HealthController {
      @Get('health')
      health() {}
      @Get('docs/{*path}')
      docs() {}
    }
    @Controller('cats')
    class CatsController {
      @Get()
      list() {}
      @Post()
      create() {}
    }
    @Module({ controllers: [HealthController, CatsController] })
    class AppModule {}

    const routes = await routesOf(AppModule, (app) =>
      app.setGlobalPrefix('api', {
        exclude: ['health', 'docs/{*path}', { path: 'cats', method: RequestMethod.POST }],
      }),
    );
    expectSameAsAdapter(routes);
    expect(routes.table.map((route) => `${route.method} ${route.path}`)).toEqual([
      'GET /health',
      'GET /docs/{*path}',
      'GET /api/cats',
      'POST /cats',
    ]);
  });

  it('adds URI versions: controller, method, arrays, neutral and default', async () => {
    @Controller({ path: 'cats', version: '1' })
    class CatsController {
      @Get()
      list() {}
      @Version('2')
      @Get(':id')
      findOne() {}
      @Version(['3', VERSION_NEUTRAL])
      @Post()
      create() {}
    }
    @Controller({ path: 'dogs', version: ['1', '2'] })
    class DogsController {
      @Get()
      list() {}
    }
    @Controller({ path: 'status', version: VERSION_NEUTRAL })
    class StatusController {
      @Get()
      status() {}
    }
    @Controller('birds')
    class BirdsController {
      @Get()
      list() {}
    }
    @Controller()
    class HealthController {
      @Get('health')
      health() {}
    }
    @Module({
      controllers: [
        CatsController,
        DogsController,
        StatusController,
        BirdsController,
        HealthController,
      ],
    })
    class AppModule {}

    const routes = await routesOf(AppModule, (app) => {
      app.setGlobalPrefix('api', { exclude: ['health'] });
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '9' });
    });
    expectSameAsAdapter(routes);
    expect(routes.table.map((route) => `${route.method} ${route.path}`)).toEqual([
      'GET /api/v1/cats',
      'GET /api/v2/cats/:id',
      'POST /api/v3/cats',
      'POST /api/cats',
      'GET /api/v1/dogs',
      'GET /api/v2/dogs',
      'GET /api/status',
      'GET /api/v9/birds',
      // Excluded from the prefix, but keeps its (default) version.
      'GET /v9/health',
    ]);
  });

  it('honours a custom URI version prefix', async () => {
    @Controller({ path: 'cats', version: '1' })
    class CatsController {
      @Get()
      list() {}
    }
    @Controller({ path: 'dogs', version: '2' })
    class DogsController {
      @Get()
      list() {}
    }
    @Module({ controllers: [CatsController] })
    class CatsModule {}
    @Module({ controllers: [DogsController] })
    class DogsModule {}

    const custom = await routesOf(CatsModule, (app) =>
      app.enableVersioning({ type: VersioningType.URI, prefix: 'version-' }),
    );
    expectSameAsAdapter(custom);
    expect(custom.table.map((route) => route.path)).toEqual(['/version-1/cats']);

    const none = await routesOf(DogsModule, (app) =>
      app.enableVersioning({ type: VersioningType.URI, prefix: false }),
    );
    expectSameAsAdapter(none);
    expect(none.table.map((route) => route.path)).toEqual(['/2/dogs']);
  });

  it('keeps one path for several handlers with header and media-type versioning', async () => {
    @Controller({ path: 'cats', version: '1' })
    class CatsV1Controller {
      @Get()
      list() {}
    }
    @Controller({ path: 'cats', version: '2' })
    class CatsV2Controller {
      @Get()
      list() {}
      @Version('3')
      @Get()
      listV3() {}
    }
    @Module({ controllers: [CatsV1Controller, CatsV2Controller] })
    class AppModule {}

    for (const versioning of [
      { type: VersioningType.HEADER, header: 'X-API-Version' } as const,
      { type: VersioningType.MEDIA_TYPE, key: 'v=' } as const,
    ]) {
      const routes = await routesOf(AppModule, (app) => app.enableVersioning(versioning));
      expectSameAsAdapter(routes);
      expect(pairs(routes.table)).toEqual([
        { method: 'GET', path: '/cats', name: 'CatsV1Controller.list' },
        { method: 'GET', path: '/cats', name: 'CatsV2Controller.list' },
        { method: 'GET', path: '/cats', name: 'CatsV2Controller.listV3' },
      ]);
      expect(routes.table.map((route) => route.handler)).toEqual([
        CatsV1Controller.prototype.list,
        CatsV2Controller.prototype.list,
        CatsV2Controller.prototype.listV3,
      ]);
      // The adapter's own version filter decides which handler a request selects.
      const headers =
        versioning.type === VersioningType.HEADER
          ? (v: string) => ({ 'x-api-version': v })
          : (v: string) => ({ accept: `application/json;v=${v}` });
      const selected = (v: string) =>
        routes.table
          .filter((route) => route.acceptsVersion?.({ headers: headers(v) }))
          .map((r) => r.name);
      expect(selected('1')).toEqual(['CatsV1Controller.list']);
      expect(selected('3')).toEqual(['CatsV2Controller.listV3']);
      expect(selected('9')).toEqual([]);
    }
  });

  it('puts RouterModule paths after the prefix and the URI version', async () => {
    @Controller('users')
    class AdminUsersController {
      @Get(':id')
      findOne() {}
    }
    @Controller('daily')
    class ReportsController {
      @Get()
      daily() {}
    }
    @Controller('plain')
    class PlainController {
      @Get()
      plain() {}
    }
    @Module({ controllers: [AdminUsersController] })
    class AdminModule {}
    @Module({ controllers: [ReportsController] })
    class ReportsModule {}
    @Module({
      imports: [
        AdminModule,
        ReportsModule,
        RouterModule.register([
          {
            path: 'admin',
            module: AdminModule,
            children: [{ path: 'reports', module: ReportsModule }],
          },
        ]),
      ],
      controllers: [PlainController],
    })
    class AppModule {}

    const plain = await routesOf(AppModule);
    expectSameAsAdapter(plain);
    expect(plain.table.map((route) => route.path).sort()).toEqual([
      '/admin/reports/daily',
      '/admin/users/:id',
      '/plain',
    ]);

    const versioned = await routesOf(AppModule, (app) => {
      app.setGlobalPrefix('api');
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '3' });
    });
    expectSameAsAdapter(versioned);
    expect(versioned.table.map((route) => route.path)).toContain('/api/v3/admin/users/:id');
  });

  it('keeps the host out of the path and filters by the hostname the adapter reads', async () => {
    @Controller({ path: 'tenant', host: ':tenant.example.com' })
    class TenantController {
      @Get()
      home() {}
    }
    @Controller({ path: 'tenant', host: ['a.example.com', /^b\./] })
    class HostsController {
      @Get()
      home() {}
    }
    @Module({ controllers: [TenantController, HostsController] })
    class AppModule {}

    const routes = await routesOf(AppModule);
    expectSameAsAdapter(routes);
    expect(
      routes.table.map(({ method, path, controller, handler, order }) => ({
        method,
        path,
        controller,
        handler,
        order,
      })),
    ).toEqual([
      {
        method: 'GET',
        path: '/tenant',
        controller: TenantController,
        handler: TenantController.prototype.home,
        order: 0,
      },
      {
        method: 'GET',
        path: '/tenant',
        controller: HostsController,
        handler: HostsController.prototype.home,
        order: 1,
      },
    ]);
    // Express's `req.hostname` is what Nest's host filter reads.
    const [tenant, hosts] = routes.table;
    const accepts = (route: RouteRecord, hostname: string) => route.acceptsHost?.({ hostname });
    expect(accepts(tenant, 'acme.example.com')).toBe(true);
    expect(accepts(tenant, 'example.com')).toBe(false);
    expect(accepts(hosts, 'a.example.com')).toBe(true);
    expect(accepts(hosts, 'b.other.org')).toBe(true);
    expect(accepts(hosts, 'c.example.com')).toBe(false);
    expect(tenant.acceptsVersion).toBeUndefined();
  });

  it('lists request-scoped controllers and a controller declared in two modules', async () => {
    @Controller({ path: 'scoped', scope: Scope.REQUEST })
    class ScopedController {
      @Get()
      get() {}
    }
    @Controller('shared')
    class SharedController {
      @Get()
      get() {}
    }
    @Module({ controllers: [SharedController] })
    class OtherModule {}
    @Module({ imports: [OtherModule], controllers: [ScopedController, SharedController] })
    class AppModule {}

    const routes = await routesOf(AppModule);
    expectSameAsAdapter(routes);
    expect(routes.table.find((route) => route.path === '/scoped')?.handler).toBe(
      ScopedController.prototype.get,
    );
    expect(routes.table.filter((route) => route.path === '/shared')).toHaveLength(2);
  });

  it("follows routeResolutionStrategy 'specificity'", async () => {
    @Controller('users')
    class UsersController {
      @Get('{*path}')
      any() {}
      @Get(':id')
      findOne() {}
      @Get('me')
      me() {}
    }
    @Module({ controllers: [UsersController] })
    class AppModule {}

    const routes = await routesOf(AppModule, () => {}, SPECIFICITY);
    // Nest names the handlers only when it registers them as it resolves them, not when sorted.
    expect(routes.registered.map((route) => route.name)).toEqual(['', '', '']);
    expectSameAsAdapter(routes, { names: false });
    // Nest 11 has no routeResolutionStrategy: the routes stay in declaration order there.
    expect(routes.table.map((route) => route.name)).toEqual(
      NEST_MAJOR >= 12
        ? ['UsersController.me', 'UsersController.findOne', 'UsersController.any']
        : ['UsersController.any', 'UsersController.findOne', 'UsersController.me'],
    );
  });
});

/**
 * Boots a real Fastify app for `moduleType`, records every route Fastify itself registers (its
 * `onRoute` hook: method and URL, after Nest's adapter expanded `@All()`), and builds the table.
 */
async function fastifyRoutesOf(
  moduleType: Type<unknown>,
  configure: (app: INestApplication) => void = () => {},
  options: NestApplicationOptions = {},
): Promise<{ registered: string[]; table: RouteRecord[] }> {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule, moduleType],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
    logger: false,
    ...options,
  });
  const registered: string[] = [];
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) registered.push(`${method} ${route.url}`);
    });
  configure(app);
  await app.init();
  const table = await collectNestRoutes({
    modulesContainer: app.get(ModulesContainer),
    metadataScanner: app.get(MetadataScanner),
    applicationConfig: app.get(ApplicationConfig),
    httpAdapter: app.get(HttpAdapterHost).httpAdapter,
  });
  await app.close();
  return { registered, table };
}

describe('collectNestRoutes on Fastify (the routes Fastify registers)', () => {
  it('lists what Fastify registers: prefix and excludes, URI versions, RouterModule, find-my-way syntax', async () => {
    @Controller({ path: 'files', version: '1' })
    class FilesController {
      @Get('*')
      any() {}
      @Get('n/:id(^\\d+)')
      numeric() {}
      @Get('geo/:lat-:lng')
      geo() {}
      @Post()
      upload() {}
    }
    @Controller()
    class HealthController {
      @Get('health')
      health() {}
      @Head('ping')
      ping() {}
    }
    @Controller('users')
    class UsersController {
      @Get(':id')
      one() {}
      @Get('me')
      me() {}
    }
    @Module({ controllers: [UsersController] })
    class AdminModule {}
    @Module({
      imports: [AdminModule, RouterModule.register([{ path: 'admin', module: AdminModule }])],
      controllers: [FilesController, HealthController],
    })
    class AppModule {}

    const { registered, table } = await fastifyRoutesOf(AppModule, (app) => {
      app.setGlobalPrefix('api', { exclude: ['health'] });
      app.enableVersioning({ type: VersioningType.URI });
    });
    const listed = table.map((r) => `${r.method} ${r.path}`);
    // Fastify adds a HEAD route for each GET route (exposeHeadRoutes); the rest is the table.
    const expected = listed.flatMap((row) =>
      row.startsWith('GET ') ? [row, row.replace('GET', 'HEAD')] : [row],
    );
    expect([...registered].sort()).toEqual([...expected].sort());
    expect(listed).toEqual(
      expect.arrayContaining([
        'GET /api/v1/files/*',
        'GET /api/v1/files/n/:id(^\\d+)',
        'GET /api/v1/files/geo/:lat-:lng',
        'GET /api/admin/users/:id',
        'GET /api/admin/users/me',
        'GET /health',
        'HEAD /api/ping',
      ]),
    );
  });

  it('expands @All() into the methods Fastify registers it for', async () => {
    @Controller('any')
    class AnyController {
      @All()
      any() {}
    }
    @Module({ controllers: [AnyController] })
    class AppModule {}

    const { registered, table } = await fastifyRoutesOf(AppModule);
    expect(table.map((r) => `${r.method} ${r.path}`)).toEqual(['ALL /any']);
    // Nest 12 adds SEARCH, PROPFIND, … to Fastify's methods first; Nest 11 registers Fastify's.
    const expected = ['GET /any', 'OPTIONS /any', ...(NEST_MAJOR >= 12 ? ['SEARCH /any'] : [])];
    expect(registered).toEqual(expect.arrayContaining(expected));
    expect(registered.every((row) => row.endsWith(' /any'))).toBe(true);
  });

  it('filters header versions with Fastify’s version constraint', async () => {
    @Controller({ path: 'cats', version: '1' })
    class CatsV1Controller {
      @Get()
      list() {}
    }
    @Controller({ path: 'cats', version: ['2', VERSION_NEUTRAL] })
    class CatsV2Controller {
      @Get()
      list() {}
    }
    @Module({ controllers: [CatsV1Controller, CatsV2Controller] })
    class AppModule {}

    const { table } = await fastifyRoutesOf(AppModule, (app) =>
      app.enableVersioning({ type: VersioningType.HEADER, header: 'X-API-Version' }),
    );
    const selected = (headers: Record<string, string>) =>
      table.filter((route) => route.acceptsVersion?.({ headers })).map((r) => r.name);
    expect(selected({ 'x-api-version': '1' })).toEqual(['CatsV1Controller.list']);
    expect(selected({ 'x-api-version': '2' })).toEqual(['CatsV2Controller.list']);
    // No header: Fastify derives VERSION_NEUTRAL.
    expect(selected({})).toEqual(['CatsV2Controller.list']);
    expect(selected({ 'x-api-version': '9' })).toEqual([]);
  });

  it("keeps Fastify's order (it is not order-sensitive) under routeResolutionStrategy 'specificity'", async () => {
    @Controller('users')
    class UsersController {
      @Get('*')
      any() {}
      @Get(':id')
      findOne() {}
      @Get('me')
      me() {}
    }
    @Module({ controllers: [UsersController] })
    class AppModule {}

    const { table } = await fastifyRoutesOf(AppModule, () => {}, SPECIFICITY);
    expect(table.map((route) => route.name)).toEqual([
      'UsersController.any',
      'UsersController.findOne',
      'UsersController.me',
    ]);
  });
});
