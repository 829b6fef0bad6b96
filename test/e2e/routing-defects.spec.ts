/**
 * One example per defect class of issue 8 items 1–3 (cors-rules §2 item 10): the policy that
 * decides a preflight and an actual request is the one of the handler the router really runs —
 * not the next route when the first refuses, not another route of the same handler function
 * (inheritance, path arrays, versions, hosts), and for HEAD the handler that serves HEAD. Every
 * handler writes `x-handler`, and every example first checks (without `Origin`) which handler the
 * router runs; then it checks the preflight and the actual request against the policy that
 * handler declares, so they also agree with each other.
 *
 * Under both HTTP adapters. Their routers choose differently where routes overlap: Express runs
 * the first registered route (unless `routeResolutionStrategy: 'specificity'`), Fastify prefers a
 * static segment to a parameter to a wildcard whatever the order, and refuses two routes with one
 * method and path at boot. Each example names the handler each router runs; the expected CORS
 * answer is always read from the policy of the handler that ran.
 */
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import {
  All,
  Controller,
  Delete,
  Get,
  Head,
  HostParam,
  Patch,
  Post,
  Put,
  Res,
  Version,
  VersioningType,
  type INestApplication,
  type ModuleMetadata,
  type NestApplicationOptions,
  type Type,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cors, CorsModule, CorsService, type CorsRouteReport } from '../../lib/index.js';
import { ADAPTERS, acHeaders, http, listOf, makeApp, type AdapterName } from './helpers.js';
import { NEST_MAJOR } from '../nest-major.js';

const ADMIN = 'https://admin.example';
const PARTNER = 'https://partner.example';
const TA = 'https://tenant-a.example';
const TB = 'https://tenant-b.example';
const FALLBACK = 'https://fallback.example';

/** An Express response and a Fastify reply alike (both have `header(name, value)`). */
type Reply = { header(name: string, value: string): unknown };

/** Called first thing in every handler: the response says which handler ran. */
function ran(res: Reply, name: string): string {
  res.header('x-handler', name);
  return name;
}

interface Declared {
  origins: string[];
  credentials?: boolean;
  enforce?: boolean;
}

/** The policy each handler (`Controller.method`) or controller declares, by that name. */
const DECLARED = new Map<string, Declared>();

/** `@Cors(options)`, recorded under `name`: the expectations read it for the handler that ran. */
function cors(
  name: string,
  options: { origin: string[]; credentials?: boolean; enforce?: boolean },
): ClassDecorator & MethodDecorator {
  const { origin, credentials, enforce } = options;
  DECLARED.set(name, { origins: origin, credentials, enforce });
  return Cors(options);
}

/** The policy of a handler `Controller.method`: its own, else its controller's. */
function declaredPolicy(handler: string): Declared {
  const policy = DECLARED.get(handler) ?? DECLARED.get(handler.split('.')[0]);
  if (policy === undefined) throw new Error(`no policy declared for handler ${handler}`);
  return policy;
}

/** `expect(actual).toEqual(expected)`, the failure message headed by `label` (the request). */
function expectEqual(label: string, actual: unknown, expected: unknown): void {
  try {
    expect(actual).toEqual(expected);
  } catch (error) {
    (error as Error).message = `${label}\n\n${(error as Error).message}`;
    throw error;
  }
}

interface Expectation {
  method: string;
  path: string;
  host?: string;
  origin: string;
  /** The handler the router runs for (method, path, host). */
  handler: string;
  /** Does that handler's policy allow `origin`? */
  allowed: boolean;
  credentials?: boolean;
  enforce?: boolean;
}

type Agent = ReturnType<typeof http>;
type Verb = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';

function send(app: INestApplication, method: string, path: string, host?: string) {
  const req = (http(app) as unknown as Record<Verb, Agent['get']>)[method.toLowerCase() as Verb](
    path,
  );
  return host === undefined ? req : req.set('Host', host);
}

/**
 * The router runs `e.handler`; the preflight for `e.method` is approved exactly when that
 * handler's policy allows the origin, and the actual request gets the same answer (403 before the
 * handler when the policy enforces).
 */
async function expectDecision(app: INestApplication, e: Expectation): Promise<void> {
  const where = `${e.method} ${e.path}${e.host ? ` (Host ${e.host})` : ''} from ${e.origin}`;
  const okStatus = e.method === 'POST' ? 201 : 200;

  let pre = http(app)
    .options(e.path)
    .set('Origin', e.origin)
    .set('Access-Control-Request-Method', e.method)
    .set('Access-Control-Request-Headers', 'x-custom');
  if (e.host !== undefined) pre = pre.set('Host', e.host);
  const preflight = await pre;
  const actual = await send(app, e.method, e.path, e.host).set('Origin', e.origin);

  const denied = (res: { headers: Record<string, unknown> }) =>
    Object.keys(acHeaders(res)).length === 0 ? 'none' : acHeaders(res);
  const got = {
    preflight: {
      status: preflight.status,
      acao: preflight.headers['access-control-allow-origin'],
      acac: preflight.headers['access-control-allow-credentials'],
      acah: preflight.headers['access-control-allow-headers'],
      accessControl: e.allowed ? 'n/a' : denied(preflight),
      handler: preflight.headers['x-handler'],
    },
    actual: {
      status: actual.status,
      acao: actual.headers['access-control-allow-origin'],
      acac: actual.headers['access-control-allow-credentials'],
      accessControl: e.allowed ? 'n/a' : denied(actual),
      handler: actual.headers['x-handler'],
    },
  };
  const acac = e.credentials ? 'true' : undefined;
  const refused = { acao: undefined, acac: undefined, accessControl: 'none' };
  const expected = {
    preflight: e.allowed
      ? {
          status: 204,
          acao: e.origin,
          acac,
          acah: 'x-custom',
          accessControl: 'n/a',
          handler: undefined,
        }
      : { status: 403, ...refused, acah: undefined, handler: undefined },
    actual: e.allowed
      ? { status: okStatus, acao: e.origin, acac, accessControl: 'n/a', handler: e.handler }
      : e.enforce
        ? { status: 403, ...refused, handler: undefined }
        : { status: okStatus, ...refused, handler: e.handler },
  };
  expectEqual(`${where}: preflight and actual request`, got, expected);
  if (e.allowed && !['GET', 'HEAD', 'POST'].includes(e.method)) {
    expectEqual(
      `${where}: Access-Control-Allow-Methods`,
      listOf(preflight.headers['access-control-allow-methods']),
      expect.arrayContaining([e.method]),
    );
  }
}

interface RouteCase {
  method: string;
  path: string;
  host?: string;
  /** The handler the router runs: the same on both adapters, or each adapter's own. */
  handler: string | Record<AdapterName, string>;
  /** The origins tried; the policy of the handler that runs allows some and refuses others. */
  origins: string[];
}

/**
 * The router runs the handler the case names for this adapter (checked without `Origin`); then
 * each origin gets the decision of the policy that handler declares.
 */
async function expectRoute(
  app: INestApplication,
  adapter: AdapterName,
  route: RouteCase,
): Promise<void> {
  const { handler, origins, ...rest } = route;
  const where = `${rest.method} ${rest.path}${rest.host ? ` (Host ${rest.host})` : ''}`;
  const plain = await send(app, rest.method, rest.path, rest.host);
  const runs = String(plain.headers['x-handler']);
  expectEqual(
    `${where}: the handler ${adapter} runs (without Origin)`,
    { handler: runs, status: plain.status },
    {
      handler: typeof handler === 'string' ? handler : handler[adapter],
      status: rest.method === 'POST' ? 201 : 200,
    },
  );
  const policy = declaredPolicy(runs);
  // Not vacuous: the handler's policy allows one origin tried and refuses another.
  expectEqual(
    `${where}: the origins tried (${origins.join(', ')}) against ${runs}'s policy`,
    {
      allowed: origins.some((o) => policy.origins.includes(o)),
      refused: origins.some((o) => !policy.origins.includes(o)),
    },
    { allowed: true, refused: true },
  );
  for (const origin of origins) {
    await expectDecision(app, {
      ...rest,
      origin,
      handler: runs,
      allowed: policy.origins.includes(origin),
      credentials: policy.credentials,
      enforce: policy.enforce,
    });
  }
}

function reportRows(app: INestApplication, method: string, path: string, handler: string) {
  return app
    .get(CorsService)
    .report()
    .filter(
      (r: CorsRouteReport) => r.method === method && r.path === path && r.handler === handler,
    );
}

/** The report lists the route once, with its own policy and where that policy comes from. */
function expectReported(
  app: INestApplication,
  row: { method: string; path: string; handler: string; source: string },
  policy: { origins: string[]; credentials?: boolean; enforce?: boolean },
): void {
  const rows = reportRows(app, row.method, row.path, row.handler);
  const label = `report() row ${row.method} ${row.path} ${row.handler}`;
  expectEqual(`${label}: listed once`, rows.length, 1);
  expectEqual(
    `${label}: policy`,
    rows[0].policy,
    expect.objectContaining({
      origins: policy.origins,
      credentials: policy.credentials ?? false,
      enforce: policy.enforce ?? false,
    }),
  );
  // The source names the controller (or Controller.method) the policy was declared on.
  expectEqual(
    `${label}: source`,
    JSON.stringify(rows[0].source),
    expect.stringContaining(row.source),
  );
}

/**
 * Express with Nest's `routeResolutionStrategy: 'specificity'`; Fastify as it is (its router
 * always resolves by specificity, and the option is Express's).
 */
async function bootSpecific(
  metadata: ModuleMetadata,
  adapter: AdapterName,
): Promise<INestApplication> {
  if (adapter === 'fastify') return makeApp(metadata, undefined, adapter);
  const moduleRef = await Test.createTestingModule(metadata).compile();
  // Nest 12's option (Nest 11 has none, and ignores it: see `specificHandler`).
  const app = moduleRef.createNestApplication({
    logger: false,
    routeResolutionStrategy: 'specificity',
  } as NestApplicationOptions);
  await app.init();
  return app;
}

/** Boots on `adapter`; resolves to the error the boot failed with (undefined: it booted). */
async function bootFailure(metadata: ModuleMetadata, adapter: AdapterName): Promise<unknown> {
  try {
    const app = await makeApp(metadata, undefined, adapter);
    await app.close();
    return undefined;
  } catch (error) {
    return error;
  }
}

const corsModule = () => CorsModule.forRoot({ origin: FALLBACK });

/**
 * A wildcard in each router's syntax: path-to-regexp 8 names it (`*path`) and has optional
 * groups (`{/*path}`); find-my-way's `*` (the rest of the path, empty included) has neither, so
 * "notes and everything under it" is two paths there.
 */
const WILDCARDS: Record<AdapterName, { rest: string; notes: string[] }> = {
  express: { rest: '*path', notes: ['notes{/*path}'] },
  fastify: { rest: '*', notes: ['notes', 'notes/*'] },
};

// ----- item 1: a preflight never falls through to a handler that will not run ----------------------

@Controller('posts')
class PostsController {
  @Delete(':id')
  @cors('Posts.remove', { origin: [ADMIN], credentials: true })
  remove(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Posts.remove');
  }

  @Delete('drafts')
  @cors('Posts.clearDrafts', { origin: [PARTNER], credentials: true })
  clearDrafts(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Posts.clearDrafts');
  }

  @Get('drafts')
  @cors('Posts.listDrafts', { origin: [PARTNER] })
  listDrafts(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Posts.listDrafts');
  }

  @Get(':id')
  @cors('Posts.read', { origin: [ADMIN] })
  read(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Posts.read');
  }
}

function filesController(adapter: AdapterName): Type {
  @Controller('files')
  class FilesController {
    @Put(WILDCARDS[adapter].rest)
    @cors('Files.upload', { origin: [ADMIN] })
    upload(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Files.upload');
    }

    @Put('readme')
    @cors('Files.readme', { origin: [PARTNER] })
    readme(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Files.readme');
    }

    @Patch(WILDCARDS[adapter].notes)
    @cors('Files.notes', { origin: [ADMIN] })
    notes(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Files.notes');
    }

    @Patch('notes/pinned')
    @cors('Files.pinned', { origin: [PARTNER] })
    pinned(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Files.pinned');
    }
  }
  return FilesController;
}

// Two routes with one method and path (`@All()` includes GET): Express only, Fastify refuses
// them at boot (asserted below).
@Controller('hooks')
class HooksController {
  @All('any')
  @cors('Hooks.any', { origin: [ADMIN] })
  any(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Hooks.any');
  }

  @Get('any')
  @cors('Hooks.get', { origin: [PARTNER] })
  get(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Hooks.get');
  }

  @Get('get-first')
  @cors('Hooks.getFirst', { origin: [PARTNER] })
  getFirst(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Hooks.getFirst');
  }

  @All('get-first')
  @cors('Hooks.anyAfter', { origin: [ADMIN] })
  anyAfter(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Hooks.anyAfter');
  }
}

@Controller('dup')
class DupFirstController {
  @Post('same')
  @cors('DupFirst.first', { origin: [ADMIN], credentials: true })
  first(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'DupFirst.first');
  }

  @Patch('twice')
  @cors('DupFirst.once', { origin: [ADMIN] })
  once(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'DupFirst.once');
  }

  @Patch('twice')
  @cors('DupFirst.twice', { origin: [PARTNER] })
  twice(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'DupFirst.twice');
  }
}

@Controller('dup')
class DupSecondController {
  @Post('same')
  @cors('DupSecond.second', { origin: [PARTNER] })
  second(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'DupSecond.second');
  }
}

// @Get() then @Head() at one path: Express only, Fastify refuses the HEAD route at boot (its GET
// already has a HEAD route).
@Controller('heads')
class GetThenHeadController {
  @Get('page')
  page() {
    return 'page';
  }

  @Head('page')
  pageHead() {
    return '';
  }
}

const SPECIFIC_REST: Record<AdapterName, string> = { express: '*rest', fastify: '*' };

function specificController(adapter: AdapterName): Type {
  @Controller('specific')
  class SpecificController {
    @Delete(':id')
    @cors('Specific.byId', { origin: [ADMIN] })
    byId(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Specific.byId');
    }

    @Delete('drafts')
    @cors('Specific.drafts', { origin: [PARTNER] })
    drafts(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Specific.drafts');
    }

    @Get(SPECIFIC_REST[adapter])
    @cors('Specific.rest', { origin: [ADMIN] })
    rest(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Specific.rest');
    }

    @Get(':id/summary')
    @cors('Specific.summary', { origin: [PARTNER] })
    summary(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Specific.summary');
    }
  }
  return SpecificController;
}

// ----- item 2: one handler function, several routes --------------------------------------------------

class AccountsBase {
  @Get(':id')
  read(@Res({ passthrough: true }) res: Reply) {
    return ran(res, `${this.constructor.name}.read`);
  }

  @Delete(':id')
  remove(@Res({ passthrough: true }) res: Reply) {
    return ran(res, `${this.constructor.name}.remove`);
  }
}

// Registered first: a table keyed by the handler function would give the admin routes this policy.
@Controller('partner/accounts')
@cors('PartnerAccounts', { origin: [PARTNER] })
class PartnerAccounts extends AccountsBase {}

@Controller('admin/accounts')
@cors('AdminAccounts', { origin: [ADMIN], credentials: true, enforce: true })
class AdminAccounts extends AccountsBase {}

class ExportsBase {
  @Get(['csv/:id', 'json/:id'])
  download(@Res({ passthrough: true }) res: Reply) {
    return ran(res, `${this.constructor.name}.download`);
  }
}

@Controller('partner/exports')
@cors('PartnerExports', { origin: [PARTNER] })
class PartnerExports extends ExportsBase {}

@Controller('admin/exports')
@cors('AdminExports', { origin: [ADMIN], enforce: true })
class AdminExports extends ExportsBase {}

@Controller('reports')
@cors('ReportsController', { origin: [ADMIN], enforce: true })
class ReportsController {
  @Get(['daily', 'weekly'])
  read(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'ReportsController.read');
  }
}

class CatalogBase {
  @Get()
  list(@Res({ passthrough: true }) res: Reply) {
    return ran(res, `${this.constructor.name}.list`);
  }

  @Put(':id')
  replace(@Res({ passthrough: true }) res: Reply) {
    return ran(res, `${this.constructor.name}.replace`);
  }
}

@Controller({ path: 'catalog', version: '2' })
@cors('CatalogV2', { origin: [PARTNER] })
class CatalogV2 extends CatalogBase {}

@Controller({ path: 'catalog', version: '1' })
@cors('CatalogV1', { origin: [ADMIN], enforce: true })
class CatalogV1 extends CatalogBase {}

@Controller('stats')
@cors('StatsController', { origin: [ADMIN], enforce: true })
class StatsController {
  @Version(['1', '2'])
  @Get()
  read(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'StatsController.read');
  }
}

class TenantBase {
  @Get()
  read(@Res({ passthrough: true }) res: Reply) {
    return ran(res, `${this.constructor.name}.read`);
  }

  @Put()
  write(@Res({ passthrough: true }) res: Reply) {
    return ran(res, `${this.constructor.name}.write`);
  }
}

@Controller({ path: 'tenant', host: 'b.localhost' })
@cors('TenantB', { origin: [TB] })
class TenantB extends TenantBase {}

/**
 * Where TenantA lives. Express: at TenantB's path, and Nest passes a request for another host on
 * to the next route. Fastify refuses a second route with one method and path at boot, so there
 * TenantA has a path of its own (and TenantB's path answers other hosts with 404).
 */
const TENANT_A_PATH: Record<AdapterName, string> = { express: 'tenant', fastify: 'tenant-a' };

function tenantA(adapter: AdapterName): Type {
  @Controller({ path: TENANT_A_PATH[adapter], host: 'a.localhost' })
  @cors('TenantA', { origin: [TA], credentials: true, enforce: true })
  class TenantA extends TenantBase {}
  return TenantA;
}

// ----- item 3: HEAD ------------------------------------------------------------------------------

/**
 * `page`: Express, @Get() registered before @Head(); Fastify has the @Get() only (it gives a GET
 * its own HEAD route and refuses a @Head() declared after it at boot, asserted above), so its
 * HEAD route runs the GET handler there too. `file`: @Head() registered before @Get() on both.
 */
function docsController(adapter: AdapterName): Type {
  const headAfterGet: MethodDecorator = adapter === 'express' ? Head('page') : () => undefined;
  @Controller('docs')
  class DocsController {
    @Get('page')
    @cors('Docs.page', { origin: [PARTNER], enforce: true })
    page(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Docs.page');
    }

    @headAfterGet
    @cors('Docs.pageHead', { origin: [ADMIN] })
    pageHead(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Docs.pageHead');
    }

    @Head('file')
    @cors('Docs.fileHead', { origin: [ADMIN], enforce: true })
    fileHead(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Docs.fileHead');
    }

    @Get('file')
    @cors('Docs.file', { origin: [PARTNER] })
    file(@Res({ passthrough: true }) res: Reply) {
      return ran(res, 'Docs.file');
    }
  }
  return DocsController;
}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('item 1: a preflight is decided by the handler the router runs, never by the next one', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [corsModule()],
          controllers: [
            PostsController,
            filesController(adapter),
            // Two routes with one method and path: Fastify refuses them at boot (asserted below).
            ...(adapter === 'express'
              ? [HooksController, DupFirstController, DupSecondController]
              : []),
          ],
        },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    it('param route registered before a literal one: a credentialed DELETE is the handler’s the router runs', async () => {
      // Express: the first registered (the param route); Fastify: the literal one.
      await expectRoute(app, adapter, {
        method: 'DELETE',
        path: '/posts/drafts',
        handler: { express: 'Posts.remove', fastify: 'Posts.clearDrafts' },
        origins: [ADMIN, PARTNER, FALLBACK],
      });
      await expectRoute(app, adapter, {
        method: 'DELETE',
        path: '/posts/7',
        handler: 'Posts.remove',
        origins: [ADMIN, PARTNER, FALLBACK],
      });
    });

    it('literal route registered before a param one', async () => {
      await expectRoute(app, adapter, {
        method: 'GET',
        path: '/posts/drafts',
        handler: 'Posts.listDrafts',
        origins: [PARTNER, ADMIN],
      });
      await expectRoute(app, adapter, {
        method: 'GET',
        path: '/posts/7',
        handler: 'Posts.read',
        origins: [ADMIN, PARTNER],
      });
    });

    it('wildcard registered before a literal (a rest, an optional rest)', async () => {
      // Express: the first registered (the wildcard); Fastify: the literal one.
      await expectRoute(app, adapter, {
        method: 'PUT',
        path: '/files/readme',
        handler: { express: 'Files.upload', fastify: 'Files.readme' },
        origins: [ADMIN, PARTNER],
      });
      await expectRoute(app, adapter, {
        method: 'PATCH',
        path: '/files/notes/pinned',
        handler: { express: 'Files.notes', fastify: 'Files.pinned' },
        origins: [ADMIN, PARTNER],
      });
      // What only the wildcard serves is the wildcard's on both.
      for (const [method, path] of [
        ['PUT', '/files/other/doc.txt'],
        ['PATCH', '/files/notes'],
        ['PATCH', '/files/notes/draft'],
      ]) {
        await expectRoute(app, adapter, {
          method,
          path,
          handler: method === 'PUT' ? 'Files.upload' : 'Files.notes',
          origins: [ADMIN, PARTNER],
        });
      }
    });

    if (adapter === 'express') {
      // Express only: Fastify refuses these routes at boot (the next test).
      it('@All() registered before @Get() serves GET', async () => {
        await expectRoute(app, adapter, {
          method: 'GET',
          path: '/hooks/any',
          handler: 'Hooks.any',
          origins: [ADMIN, PARTNER],
        });
      });

      it('@Get() registered before @All(): GET is the @Get() handler’s, the other methods the @All() one’s', async () => {
        await expectRoute(app, adapter, {
          method: 'GET',
          path: '/hooks/get-first',
          handler: 'Hooks.getFirst',
          origins: [PARTNER, ADMIN],
        });
        await expectRoute(app, adapter, {
          method: 'PUT',
          path: '/hooks/get-first',
          handler: 'Hooks.anyAfter',
          origins: [ADMIN, PARTNER],
        });
      });

      it('exact duplicates: the first registered handler decides (two controllers, one controller)', async () => {
        await expectRoute(app, adapter, {
          method: 'POST',
          path: '/dup/same',
          handler: 'DupFirst.first',
          origins: [ADMIN, PARTNER],
        });
        await expectRoute(app, adapter, {
          method: 'PATCH',
          path: '/dup/twice',
          handler: 'DupFirst.once',
          origins: [ADMIN, PARTNER],
        });
      });
    } else {
      it('@All() next to @Get(), exact duplicates, @Head() after @Get(): Fastify refuses them at boot', async () => {
        // So its router never has to choose between them; the module does not hide the error.
        for (const controllers of [
          [HooksController],
          [DupFirstController],
          [DupSecondController, DupFirstController],
          [GetThenHeadController],
        ]) {
          const error = await bootFailure({ imports: [corsModule()], controllers }, adapter);
          expectEqual(
            `boot with ${controllers.map((c) => c.name).join(', ')}`,
            error,
            expect.objectContaining({ code: 'FST_ERR_DUPLICATED_ROUTE' }),
          );
        }
      });
    }
  });

  describe('item 1: literal before param before wildcard (Express: routeResolutionStrategy specificity; Fastify: its router)', () => {
    /**
     * The handler the router runs: the most specific one, except on Express with Nest 11, which
     * has no `routeResolutionStrategy` and runs the first declared (the module follows either).
     */
    const specificHandler = (specific: string, declaredFirst: string) =>
      adapter === 'express' && NEST_MAJOR < 12 ? declaredFirst : specific;

    let app: INestApplication;

    beforeAll(async () => {
      app = await bootSpecific(
        { imports: [corsModule()], controllers: [specificController(adapter)] },
        adapter,
      );
    });
    afterAll(() => app.close());

    it('the literal route declared after a param one runs, and decides', async () => {
      await expectRoute(app, adapter, {
        method: 'DELETE',
        path: '/specific/drafts',
        handler: specificHandler('Specific.drafts', 'Specific.byId'),
        origins:
          specificHandler('drafts', 'byId') === 'drafts' ? [PARTNER, ADMIN] : [ADMIN, PARTNER],
      });
      await expectRoute(app, adapter, {
        method: 'DELETE',
        path: '/specific/5',
        handler: 'Specific.byId',
        origins: [ADMIN, PARTNER],
      });
    });

    it('the param route declared after a wildcard runs, and decides', async () => {
      await expectRoute(app, adapter, {
        method: 'GET',
        path: '/specific/5/summary',
        handler: specificHandler('Specific.summary', 'Specific.rest'),
        origins:
          specificHandler('summary', 'rest') === 'summary' ? [PARTNER, ADMIN] : [ADMIN, PARTNER],
      });
      await expectRoute(app, adapter, {
        method: 'GET',
        path: '/specific/5/other',
        handler: 'Specific.rest',
        origins: [ADMIN, PARTNER],
      });
    });
  });

  describe('item 2: inheritance and path arrays — each route has its own policy, enforce included', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [corsModule()],
          controllers: [
            PartnerAccounts,
            AdminAccounts,
            PartnerExports,
            AdminExports,
            ReportsController,
          ],
        },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    it('the enforcing subclass refuses other origins with 403 before its (inherited) handler', async () => {
      for (const method of ['DELETE', 'GET']) {
        const name = method === 'DELETE' ? 'remove' : 'read';
        await expectRoute(app, adapter, {
          method,
          path: '/admin/accounts/1',
          handler: `AdminAccounts.${name}`,
          origins: [ADMIN, PARTNER, FALLBACK],
        });
      }
    });

    it('the other subclass keeps its own policy (no enforce, no credentials)', async () => {
      for (const method of ['DELETE', 'GET']) {
        const name = method === 'DELETE' ? 'remove' : 'read';
        await expectRoute(app, adapter, {
          method,
          path: '/partner/accounts/1',
          handler: `PartnerAccounts.${name}`,
          origins: [PARTNER, ADMIN, FALLBACK],
        });
      }
    });

    it('a path array in a base class: four routes, each with its subclass policy', async () => {
      for (const kind of ['csv', 'json']) {
        await expectRoute(app, adapter, {
          method: 'GET',
          path: `/admin/exports/${kind}/1`,
          handler: 'AdminExports.download',
          origins: [ADMIN, PARTNER],
        });
        await expectRoute(app, adapter, {
          method: 'GET',
          path: `/partner/exports/${kind}/1`,
          handler: 'PartnerExports.download',
          origins: [PARTNER, ADMIN],
        });
      }
    });

    it('a path array: enforce applies on every path', async () => {
      for (const path of ['/reports/daily', '/reports/weekly']) {
        await expectRoute(app, adapter, {
          method: 'GET',
          path,
          handler: 'ReportsController.read',
          origins: [ADMIN, PARTNER],
        });
      }
    });

    it('report() lists every route of a shared handler with its own policy', () => {
      for (const [name, method] of [
        ['read', 'GET'],
        ['remove', 'DELETE'],
      ]) {
        expectReported(
          app,
          {
            method,
            path: '/admin/accounts/:id',
            handler: `AdminAccounts.${name}`,
            source: 'AdminAccounts',
          },
          { origins: [ADMIN], credentials: true, enforce: true },
        );
        expectReported(
          app,
          {
            method,
            path: '/partner/accounts/:id',
            handler: `PartnerAccounts.${name}`,
            source: 'PartnerAccounts',
          },
          { origins: [PARTNER] },
        );
      }
      for (const kind of ['csv', 'json']) {
        expectReported(
          app,
          {
            method: 'GET',
            path: `/admin/exports/${kind}/:id`,
            handler: 'AdminExports.download',
            source: 'AdminExports',
          },
          { origins: [ADMIN], enforce: true },
        );
        expectReported(
          app,
          {
            method: 'GET',
            path: `/partner/exports/${kind}/:id`,
            handler: 'PartnerExports.download',
            source: 'PartnerExports',
          },
          { origins: [PARTNER] },
        );
      }
      for (const path of ['/reports/daily', '/reports/weekly']) {
        expectReported(
          app,
          { method: 'GET', path, handler: 'ReportsController.read', source: 'ReportsController' },
          { origins: [ADMIN], enforce: true },
        );
      }
    });
  });

  describe('item 2: a handler shared across URI versions', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        { imports: [corsModule()], controllers: [CatalogV2, CatalogV1, StatsController] },
        (a) => a.enableVersioning({ type: VersioningType.URI }),
        adapter,
      );
    });
    afterAll(() => app.close());

    it('each version of an inherited handler has its controller policy', async () => {
      await expectRoute(app, adapter, {
        method: 'PUT',
        path: '/v1/catalog/3',
        handler: 'CatalogV1.replace',
        origins: [ADMIN, PARTNER],
      });
      await expectRoute(app, adapter, {
        method: 'PUT',
        path: '/v2/catalog/3',
        handler: 'CatalogV2.replace',
        origins: [PARTNER, ADMIN],
      });
      await expectRoute(app, adapter, {
        method: 'GET',
        path: '/v1/catalog',
        handler: 'CatalogV1.list',
        origins: [ADMIN, PARTNER],
      });
    });

    it('@Version([...]) on one handler: enforce on every version', async () => {
      for (const path of ['/v1/stats', '/v2/stats']) {
        await expectRoute(app, adapter, {
          method: 'GET',
          path,
          handler: 'StatsController.read',
          origins: [ADMIN, PARTNER],
        });
      }
    });

    it('report() lists each version', () => {
      expectReported(
        app,
        {
          method: 'PUT',
          path: '/v1/catalog/:id',
          handler: 'CatalogV1.replace',
          source: 'CatalogV1',
        },
        { origins: [ADMIN], enforce: true },
      );
      expectReported(
        app,
        {
          method: 'PUT',
          path: '/v2/catalog/:id',
          handler: 'CatalogV2.replace',
          source: 'CatalogV2',
        },
        { origins: [PARTNER] },
      );
      for (const path of ['/v1/stats', '/v2/stats']) {
        expectReported(
          app,
          { method: 'GET', path, handler: 'StatsController.read', source: 'StatsController' },
          { origins: [ADMIN], enforce: true },
        );
      }
    });
  });

  describe('item 2: host-bound controllers sharing a handler', () => {
    const aPath = `/${TENANT_A_PATH[adapter]}`;
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        { imports: [corsModule()], controllers: [TenantB, tenantA(adapter)] },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    it('the Host decides the route, and the route its policy (enforce included)', async () => {
      for (const method of ['GET', 'PUT']) {
        const name = method === 'GET' ? 'read' : 'write';
        await expectRoute(app, adapter, {
          method,
          path: aPath,
          host: 'a.localhost',
          handler: `TenantA.${name}`,
          origins: [TA, TB],
        });
        await expectRoute(app, adapter, {
          method,
          path: '/tenant',
          host: 'b.localhost',
          handler: `TenantB.${name}`,
          origins: [TB, TA],
        });
      }
    });

    it('a Host no controller at the path is bound to: a 404 with the module defaults', async () => {
      // Express: a Host neither controller is bound to. Fastify: any Host but TenantB's (Nest
      // answers it with 404 there, it cannot pass the request on to another route).
      const hosts = adapter === 'express' ? ['c.localhost'] : ['c.localhost', 'a.localhost'];
      for (const host of hosts) {
        const res = await http(app).put('/tenant').set('Host', host).set('Origin', TA);
        const pre = await http(app)
          .options('/tenant')
          .set('Host', host)
          .set('Origin', TA)
          .set('Access-Control-Request-Method', 'PUT');
        expectEqual(
          `PUT /tenant (Host ${host}) from a tenant origin: actual, then preflight`,
          [
            { status: res.status, ...acHeaders(res) },
            { status: pre.status, ...acHeaders(pre) },
          ],
          [{ status: 404 }, { status: 403 }],
        );
      }
    });

    it('report() lists both host-bound routes with their own policy', () => {
      for (const [name, method] of [
        ['read', 'GET'],
        ['write', 'PUT'],
      ]) {
        expectReported(
          app,
          { method, path: aPath, handler: `TenantA.${name}`, source: 'TenantA' },
          { origins: [TA], credentials: true, enforce: true },
        );
        expectReported(
          app,
          { method, path: '/tenant', handler: `TenantB.${name}`, source: 'TenantB' },
          { origins: [TB] },
        );
      }
    });
  });

  describe('item 3: HEAD has the policy of the handler that serves HEAD', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        { imports: [corsModule()], controllers: [docsController(adapter)] },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    it('@Get() before @Head() (Express), @Get() alone (Fastify): HEAD runs the GET handler', async () => {
      await expectRoute(app, adapter, {
        method: 'HEAD',
        path: '/docs/page',
        handler: 'Docs.page',
        origins: [PARTNER, ADMIN],
      });
      await expectRoute(app, adapter, {
        method: 'GET',
        path: '/docs/page',
        handler: 'Docs.page',
        origins: [PARTNER, ADMIN],
      });
    });

    it('@Head() registered before @Get(): the HEAD handler serves HEAD', async () => {
      await expectRoute(app, adapter, {
        method: 'HEAD',
        path: '/docs/file',
        handler: 'Docs.fileHead',
        origins: [ADMIN, PARTNER],
      });
      await expectRoute(app, adapter, {
        method: 'GET',
        path: '/docs/file',
        handler: 'Docs.file',
        origins: [PARTNER, ADMIN],
      });
    });
  });

  describe('origin functions: at most one call per request', () => {
    /**
     * Express: two host-bound controllers at one path (a request for b.localhost passes
     * HostAController's route on to HostBController's). Fastify refuses two routes with one method
     * and path at boot, so there one controller is bound to both hosts with a host parameter.
     */
    function hostControllers(allow: (origin: string | undefined) => boolean): Type[] {
      if (adapter === 'fastify') {
        @Controller({ path: 'fn', host: ':tenant.localhost' })
        @Cors({ origin: allow, enforce: true })
        class HostsController {
          @Get()
          read(@HostParam('tenant') tenant: string) {
            return tenant;
          }
        }
        return [HostsController];
      }
      @Controller({ path: 'fn', host: 'a.localhost' })
      @Cors({ origin: allow, enforce: true })
      class HostAController {
        @Get()
        read() {
          return 'a';
        }
      }
      @Controller({ path: 'fn', host: 'b.localhost' })
      @Cors({ origin: allow, enforce: true })
      class HostBController {
        @Get()
        read() {
          return 'b';
        }
      }
      return [HostAController, HostBController];
    }

    it('host-bound controllers, enforce and a preflight each call the function once', async () => {
      let calls = 0;
      const allow = (origin: string | undefined) => {
        calls++;
        return origin === 'https://fn.example';
      };
      const app = await makeApp(
        {
          imports: [CorsModule.forRoot({ origin: ['https://default.example'] })],
          controllers: hostControllers(allow),
        },
        undefined,
        adapter,
      );
      try {
        for (const [host, body] of [
          ['a.localhost', 'a'],
          ['b.localhost', 'b'],
        ]) {
          calls = 0;
          const ok = await http(app)
            .get('/fn')
            .set('Host', host)
            .set('Origin', 'https://fn.example');
          expect({ host, status: ok.status, text: ok.text, calls }).toEqual({
            host,
            status: 200,
            text: body,
            calls: 1,
          });
          calls = 0;
          const refused = await http(app)
            .get('/fn')
            .set('Host', host)
            .set('Origin', 'https://x.example');
          expect({ host, status: refused.status, calls }).toEqual({ host, status: 403, calls: 1 });
          calls = 0;
          await http(app)
            .options('/fn')
            .set('Host', host)
            .set('Origin', 'https://fn.example')
            .set('Access-Control-Request-Method', 'GET')
            .expect(204);
          expect(calls).toBe(1);
        }
      } finally {
        await app.close();
      }
    });
  });
});
