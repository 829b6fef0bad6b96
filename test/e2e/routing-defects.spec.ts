/**
 * One example per defect class of issue 8 items 1–3 (cors-rules §2 item 10): the policy that
 * decides a preflight and an actual request is the one of the handler Express really runs — not
 * the next route when the first refuses, not another route of the same handler function
 * (inheritance, path arrays, versions, hosts), and for HEAD the handler that serves HEAD. Every
 * handler writes `x-handler`, and every example first checks (without `Origin`) that Express runs
 * the handler the example assumes; then it checks the preflight and the actual request together,
 * so they also agree with each other.
 */
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import {
  All,
  Controller,
  Delete,
  Get,
  Head,
  Patch,
  Post,
  Put,
  Res,
  Version,
  VersioningType,
  type INestApplication,
  type ModuleMetadata,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cors, CorsModule, CorsService, type CorsRouteReport } from '../../lib/index.js';
import { acHeaders, http, listOf, makeApp } from './helpers.js';

const ADMIN = 'https://admin.example';
const PARTNER = 'https://partner.example';
const TA = 'https://tenant-a.example';
const TB = 'https://tenant-b.example';
const FALLBACK = 'https://fallback.example';

type Reply = { setHeader(name: string, value: string): void };

/** Called first thing in every handler: the response says which handler ran. */
function ran(res: Reply, name: string): string {
  res.setHeader('x-handler', name);
  return name;
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
  /** The handler Express runs for (method, path, host). */
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
 * Express runs `e.handler`; the preflight for `e.method` is approved exactly when that handler's
 * policy allows the origin, and the actual request gets the same answer (403 before the handler
 * when the policy enforces).
 */
async function expectDecision(app: INestApplication, e: Expectation): Promise<void> {
  const where = `${e.method} ${e.path}${e.host ? ` (Host ${e.host})` : ''} from ${e.origin}`;
  const okStatus = e.method === 'POST' ? 201 : 200;

  const plain = await send(app, e.method, e.path, e.host);
  expectEqual(
    `${where}: the handler Express runs (without Origin)`,
    { handler: plain.headers['x-handler'], status: plain.status },
    { handler: e.handler, status: okStatus },
  );

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

/** Each origin listed gets the decision of the route (method, path, host) that Express runs. */
async function expectRoute(
  app: INestApplication,
  route: Omit<Expectation, 'origin' | 'allowed'> & { owner: string; others: string[] },
): Promise<void> {
  const { owner, others, ...rest } = route;
  await expectDecision(app, { ...rest, origin: owner, allowed: true });
  for (const origin of others) await expectDecision(app, { ...rest, origin, allowed: false });
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

async function bootWith(
  metadata: ModuleMetadata,
  options: { specificity?: boolean } = {},
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication({
    logger: false,
    routeResolutionStrategy: options.specificity ? 'specificity' : 'declaration',
  });
  await app.init();
  return app;
}

const corsModule = () => CorsModule.forRoot({ origin: FALLBACK });

// ----- item 1: a preflight never falls through to a handler that will not run ----------------------

@Controller('posts')
class PostsController {
  @Delete(':id')
  @Cors({ origin: [ADMIN], credentials: true })
  remove(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Posts.remove');
  }

  @Delete('drafts')
  @Cors({ origin: [PARTNER], credentials: true })
  clearDrafts(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Posts.clearDrafts');
  }

  @Get('drafts')
  @Cors({ origin: [PARTNER] })
  listDrafts(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Posts.listDrafts');
  }

  @Get(':id')
  @Cors({ origin: [ADMIN] })
  read(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Posts.read');
  }
}

@Controller('files')
class FilesController {
  @Put('*path')
  @Cors({ origin: [ADMIN] })
  upload(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Files.upload');
  }

  @Put('readme')
  @Cors({ origin: [PARTNER] })
  readme(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Files.readme');
  }

  @Patch('notes{/*path}')
  @Cors({ origin: [ADMIN] })
  notes(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Files.notes');
  }

  @Patch('notes/pinned')
  @Cors({ origin: [PARTNER] })
  pinned(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Files.pinned');
  }
}

@Controller('hooks')
class HooksController {
  @All('any')
  @Cors({ origin: [ADMIN] })
  any(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Hooks.any');
  }

  @Get('any')
  @Cors({ origin: [PARTNER] })
  get(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Hooks.get');
  }

  @Get('get-first')
  @Cors({ origin: [PARTNER] })
  getFirst(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Hooks.getFirst');
  }

  @All('get-first')
  @Cors({ origin: [ADMIN] })
  anyAfter(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Hooks.anyAfter');
  }
}

@Controller('dup')
class DupFirstController {
  @Post('same')
  @Cors({ origin: [ADMIN], credentials: true })
  first(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'DupFirst.first');
  }

  @Patch('twice')
  @Cors({ origin: [ADMIN] })
  once(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'DupFirst.once');
  }

  @Patch('twice')
  @Cors({ origin: [PARTNER] })
  twice(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'DupFirst.twice');
  }
}

@Controller('dup')
class DupSecondController {
  @Post('same')
  @Cors({ origin: [PARTNER] })
  second(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'DupSecond.second');
  }
}

describe('item 1: a preflight is decided by the handler Express runs, never by the next one', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await makeApp({
      imports: [corsModule()],
      controllers: [
        PostsController,
        FilesController,
        HooksController,
        DupFirstController,
        DupSecondController,
      ],
    });
  });
  afterAll(() => app.close());

  it('param route registered before a literal one: a credentialed DELETE is the admin handler’s', async () => {
    await expectRoute(app, {
      method: 'DELETE',
      path: '/posts/drafts',
      handler: 'Posts.remove',
      credentials: true,
      owner: ADMIN,
      others: [PARTNER, FALLBACK],
    });
  });

  it('literal route registered before a param one', async () => {
    await expectRoute(app, {
      method: 'GET',
      path: '/posts/drafts',
      handler: 'Posts.listDrafts',
      owner: PARTNER,
      others: [ADMIN],
    });
    await expectRoute(app, {
      method: 'GET',
      path: '/posts/7',
      handler: 'Posts.read',
      owner: ADMIN,
      others: [PARTNER],
    });
  });

  it('wildcard registered before a literal (*path and {/*path})', async () => {
    await expectRoute(app, {
      method: 'PUT',
      path: '/files/readme',
      handler: 'Files.upload',
      owner: ADMIN,
      others: [PARTNER],
    });
    await expectRoute(app, {
      method: 'PATCH',
      path: '/files/notes/pinned',
      handler: 'Files.notes',
      owner: ADMIN,
      others: [PARTNER],
    });
  });

  it('@All() registered before @Get() serves GET', async () => {
    await expectRoute(app, {
      method: 'GET',
      path: '/hooks/any',
      handler: 'Hooks.any',
      owner: ADMIN,
      others: [PARTNER],
    });
  });

  it('@Get() registered before @All(): GET is the @Get() handler’s, the other methods the @All() one’s', async () => {
    await expectRoute(app, {
      method: 'GET',
      path: '/hooks/get-first',
      handler: 'Hooks.getFirst',
      owner: PARTNER,
      others: [ADMIN],
    });
    await expectRoute(app, {
      method: 'PUT',
      path: '/hooks/get-first',
      handler: 'Hooks.anyAfter',
      owner: ADMIN,
      others: [PARTNER],
    });
  });

  it('exact duplicates: the first registered handler decides (two controllers, one controller)', async () => {
    await expectRoute(app, {
      method: 'POST',
      path: '/dup/same',
      handler: 'DupFirst.first',
      credentials: true,
      owner: ADMIN,
      others: [PARTNER],
    });
    await expectRoute(app, {
      method: 'PATCH',
      path: '/dup/twice',
      handler: 'DupFirst.once',
      owner: ADMIN,
      others: [PARTNER],
    });
  });
});

@Controller('specific')
class SpecificController {
  @Delete(':id')
  @Cors({ origin: [ADMIN] })
  byId(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Specific.byId');
  }

  @Delete('drafts')
  @Cors({ origin: [PARTNER] })
  drafts(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Specific.drafts');
  }

  @Get('*rest')
  @Cors({ origin: [ADMIN] })
  rest(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Specific.rest');
  }

  @Get(':id/summary')
  @Cors({ origin: [PARTNER] })
  summary(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Specific.summary');
  }
}

describe("item 1: routeResolutionStrategy 'specificity' (literal before param before wildcard)", () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await bootWith(
      { imports: [corsModule()], controllers: [SpecificController] },
      { specificity: true },
    );
  });
  afterAll(() => app.close());

  it('the literal route declared after a param one runs, and decides', async () => {
    await expectRoute(app, {
      method: 'DELETE',
      path: '/specific/drafts',
      handler: 'Specific.drafts',
      owner: PARTNER,
      others: [ADMIN],
    });
    await expectRoute(app, {
      method: 'DELETE',
      path: '/specific/5',
      handler: 'Specific.byId',
      owner: ADMIN,
      others: [PARTNER],
    });
  });

  it('the param route declared after a wildcard runs, and decides', async () => {
    await expectRoute(app, {
      method: 'GET',
      path: '/specific/5/summary',
      handler: 'Specific.summary',
      owner: PARTNER,
      others: [ADMIN],
    });
    await expectRoute(app, {
      method: 'GET',
      path: '/specific/5/other',
      handler: 'Specific.rest',
      owner: ADMIN,
      others: [PARTNER],
    });
  });
});

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
@Cors({ origin: [PARTNER] })
class PartnerAccounts extends AccountsBase {}

@Controller('admin/accounts')
@Cors({ origin: [ADMIN], credentials: true, enforce: true })
class AdminAccounts extends AccountsBase {}

class ExportsBase {
  @Get(['csv/:id', 'json/:id'])
  download(@Res({ passthrough: true }) res: Reply) {
    return ran(res, `${this.constructor.name}.download`);
  }
}

@Controller('partner/exports')
@Cors({ origin: [PARTNER] })
class PartnerExports extends ExportsBase {}

@Controller('admin/exports')
@Cors({ origin: [ADMIN], enforce: true })
class AdminExports extends ExportsBase {}

@Controller('reports')
@Cors({ origin: [ADMIN], enforce: true })
class ReportsController {
  @Get(['daily', 'weekly'])
  read(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'ReportsController.read');
  }
}

describe('item 2: inheritance and path arrays — each route has its own policy, enforce included', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await makeApp({
      imports: [corsModule()],
      controllers: [
        PartnerAccounts,
        AdminAccounts,
        PartnerExports,
        AdminExports,
        ReportsController,
      ],
    });
  });
  afterAll(() => app.close());

  it('the enforcing subclass refuses other origins with 403 before its (inherited) handler', async () => {
    for (const method of ['DELETE', 'GET']) {
      const name = method === 'DELETE' ? 'remove' : 'read';
      await expectRoute(app, {
        method,
        path: '/admin/accounts/1',
        handler: `AdminAccounts.${name}`,
        credentials: true,
        enforce: true,
        owner: ADMIN,
        others: [PARTNER, FALLBACK],
      });
    }
  });

  it('the other subclass keeps its own policy (no enforce, no credentials)', async () => {
    for (const method of ['DELETE', 'GET']) {
      const name = method === 'DELETE' ? 'remove' : 'read';
      await expectRoute(app, {
        method,
        path: '/partner/accounts/1',
        handler: `PartnerAccounts.${name}`,
        owner: PARTNER,
        others: [ADMIN, FALLBACK],
      });
    }
  });

  it('a path array in a base class: four routes, each with its subclass policy', async () => {
    for (const kind of ['csv', 'json']) {
      await expectRoute(app, {
        method: 'GET',
        path: `/admin/exports/${kind}/1`,
        handler: 'AdminExports.download',
        enforce: true,
        owner: ADMIN,
        others: [PARTNER],
      });
      await expectRoute(app, {
        method: 'GET',
        path: `/partner/exports/${kind}/1`,
        handler: 'PartnerExports.download',
        owner: PARTNER,
        others: [ADMIN],
      });
    }
  });

  it('a path array: enforce applies on every path', async () => {
    for (const path of ['/reports/daily', '/reports/weekly']) {
      await expectRoute(app, {
        method: 'GET',
        path,
        handler: 'ReportsController.read',
        enforce: true,
        owner: ADMIN,
        others: [PARTNER],
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
@Cors({ origin: [PARTNER] })
class CatalogV2 extends CatalogBase {}

@Controller({ path: 'catalog', version: '1' })
@Cors({ origin: [ADMIN], enforce: true })
class CatalogV1 extends CatalogBase {}

@Controller('stats')
@Cors({ origin: [ADMIN], enforce: true })
class StatsController {
  @Version(['1', '2'])
  @Get()
  read(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'StatsController.read');
  }
}

describe('item 2: a handler shared across URI versions', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await makeApp(
      { imports: [corsModule()], controllers: [CatalogV2, CatalogV1, StatsController] },
      (a) => a.enableVersioning({ type: VersioningType.URI }),
    );
  });
  afterAll(() => app.close());

  it('each version of an inherited handler has its controller policy', async () => {
    await expectRoute(app, {
      method: 'PUT',
      path: '/v1/catalog/3',
      handler: 'CatalogV1.replace',
      enforce: true,
      owner: ADMIN,
      others: [PARTNER],
    });
    await expectRoute(app, {
      method: 'PUT',
      path: '/v2/catalog/3',
      handler: 'CatalogV2.replace',
      owner: PARTNER,
      others: [ADMIN],
    });
    await expectRoute(app, {
      method: 'GET',
      path: '/v1/catalog',
      handler: 'CatalogV1.list',
      enforce: true,
      owner: ADMIN,
      others: [PARTNER],
    });
  });

  it('@Version([...]) on one handler: enforce on every version', async () => {
    for (const path of ['/v1/stats', '/v2/stats']) {
      await expectRoute(app, {
        method: 'GET',
        path,
        handler: 'StatsController.read',
        enforce: true,
        owner: ADMIN,
        others: [PARTNER],
      });
    }
  });

  it('report() lists each version', () => {
    expectReported(
      app,
      { method: 'PUT', path: '/v1/catalog/:id', handler: 'CatalogV1.replace', source: 'CatalogV1' },
      { origins: [ADMIN], enforce: true },
    );
    expectReported(
      app,
      { method: 'PUT', path: '/v2/catalog/:id', handler: 'CatalogV2.replace', source: 'CatalogV2' },
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
@Cors({ origin: [TB] })
class TenantB extends TenantBase {}

@Controller({ path: 'tenant', host: 'a.localhost' })
@Cors({ origin: [TA], credentials: true, enforce: true })
class TenantA extends TenantBase {}

describe('item 2: host-bound controllers sharing a handler', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await makeApp({ imports: [corsModule()], controllers: [TenantB, TenantA] });
  });
  afterAll(() => app.close());

  it('the Host decides the route, and the route its policy (enforce included)', async () => {
    for (const method of ['GET', 'PUT']) {
      const name = method === 'GET' ? 'read' : 'write';
      await expectRoute(app, {
        method,
        path: '/tenant',
        host: 'a.localhost',
        handler: `TenantA.${name}`,
        credentials: true,
        enforce: true,
        owner: TA,
        others: [TB],
      });
      await expectRoute(app, {
        method,
        path: '/tenant',
        host: 'b.localhost',
        handler: `TenantB.${name}`,
        owner: TB,
        others: [TA],
      });
    }
  });

  it('a Host no controller is bound to: a 404 with the module defaults', async () => {
    const res = await http(app).put('/tenant').set('Host', 'c.localhost').set('Origin', TA);
    const pre = await http(app)
      .options('/tenant')
      .set('Host', 'c.localhost')
      .set('Origin', TA)
      .set('Access-Control-Request-Method', 'PUT');
    expectEqual(
      'PUT /tenant (Host c.localhost) from a tenant origin: actual, then preflight',
      [
        { status: res.status, ...acHeaders(res) },
        { status: pre.status, ...acHeaders(pre) },
      ],
      [{ status: 404 }, { status: 403 }],
    );
  });

  it('report() lists both host-bound routes with their own policy', () => {
    for (const [name, method] of [
      ['read', 'GET'],
      ['write', 'PUT'],
    ]) {
      expectReported(
        app,
        { method, path: '/tenant', handler: `TenantA.${name}`, source: 'TenantA' },
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

// ----- item 3: HEAD ------------------------------------------------------------------------------

@Controller('docs')
class DocsController {
  @Get('page')
  @Cors({ origin: [PARTNER], enforce: true })
  page(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Docs.page');
  }

  @Head('page')
  @Cors({ origin: [ADMIN] })
  pageHead(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Docs.pageHead');
  }

  @Head('file')
  @Cors({ origin: [ADMIN], enforce: true })
  fileHead(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Docs.fileHead');
  }

  @Get('file')
  @Cors({ origin: [PARTNER] })
  file(@Res({ passthrough: true }) res: Reply) {
    return ran(res, 'Docs.file');
  }
}

describe('item 3: HEAD has the policy of the handler that serves HEAD', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await makeApp({ imports: [corsModule()], controllers: [DocsController] });
  });
  afterAll(() => app.close());

  it('@Get() registered before @Head(): Express serves HEAD with the GET handler', async () => {
    await expectRoute(app, {
      method: 'HEAD',
      path: '/docs/page',
      handler: 'Docs.page',
      enforce: true,
      owner: PARTNER,
      others: [ADMIN],
    });
    await expectRoute(app, {
      method: 'GET',
      path: '/docs/page',
      handler: 'Docs.page',
      enforce: true,
      owner: PARTNER,
      others: [ADMIN],
    });
  });

  it('@Head() registered before @Get(): the HEAD handler serves HEAD', async () => {
    await expectRoute(app, {
      method: 'HEAD',
      path: '/docs/file',
      handler: 'Docs.fileHead',
      enforce: true,
      owner: ADMIN,
      others: [PARTNER],
    });
    await expectRoute(app, {
      method: 'GET',
      path: '/docs/file',
      handler: 'Docs.file',
      owner: PARTNER,
      others: [ADMIN],
    });
  });
});

describe('origin functions: at most one call per request', () => {
  it('host-bound controllers, enforce and a preflight each call the function once', async () => {
    let calls = 0;
    const allow = (origin: string | undefined) => {
      calls++;
      return origin === 'https://fn.example';
    };
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
    const app = await makeApp({
      imports: [CorsModule.forRoot({ origin: ['https://default.example'] })],
      controllers: [HostAController, HostBController],
    });
    try {
      for (const [host, body] of [
        ['a.localhost', 'a'],
        ['b.localhost', 'b'],
      ]) {
        calls = 0;
        const ok = await http(app).get('/fn').set('Host', host).set('Origin', 'https://fn.example');
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
