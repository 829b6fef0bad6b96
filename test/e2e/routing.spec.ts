/**
 * Every routing feature through real HTTP, preflight and actual request: global prefix with
 * exclude, URI versioning (VERSION_NEUTRAL too), header and media-type versioning, RouterModule,
 * host-bound controllers, path arrays, params, wildcards and @All(). Under both HTTP adapters:
 * where a route is written in the router's own syntax (wildcards) or the routers differ (hosts,
 * the methods `@All()` serves), each adapter's own behaviour is asserted, with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  All,
  Controller,
  Delete,
  Get,
  Module,
  Put,
  Version,
  VERSION_NEUTRAL,
  VersioningType,
  type INestApplication,
  type Type,
  type VersioningOptions,
} from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { RouteConstraints } from '@nestjs/platform-fastify';
import { Cors, CorsModule } from '../../lib/index.js';
import {
  ADAPTERS,
  acHeaders,
  get,
  http,
  listOf,
  makeApp,
  preflight,
  type AdapterName,
} from './helpers.js';
import { NEST_MAJOR } from '../nest-major.js';

const DEF = 'https://default.example';
const HEALTH = 'https://health.example';
const V1 = 'https://v1.example';
const V2 = 'https://v2.example';
const NEUTRAL = 'https://neutral.example';
const ADMIN = 'https://admin.example';
const ARRAYS = 'https://arrays.example';
const PARAMS = 'https://params.example';
const WILD = 'https://wild.example';
const EVIL = 'https://evil.example';
const BOTH = 'https://both.example';

/** A preflight allowed for `origin` and refused for EVIL; for GET also the actual request. */
async function expectRoute(
  app: INestApplication,
  path: string,
  origin: string,
  method = 'GET',
  body?: string,
): Promise<void> {
  const pre = await preflight(app, path, origin, method, 'x-custom');
  expect({ path, status: pre.status }).toEqual({ path, status: 204 });
  expect(pre.headers['access-control-allow-origin']).toBe(origin);
  expect(listOf(pre.headers['access-control-allow-methods'])).toContain(method);
  const refused = await preflight(app, path, EVIL, method, 'x-custom');
  expect({ path, status: refused.status }).toEqual({ path, status: 403 });
  expect(acHeaders(refused)).toEqual({});
  if (method === 'GET') {
    const res = await get(app, path, origin);
    expect({ path, status: res.status }).toEqual({ path, status: 200 });
    if (body !== undefined) expect(res.text).toBe(body);
    expect(res.headers['access-control-allow-origin']).toBe(origin);
  }
}

@Controller('health')
@Cors({ origin: [HEALTH] })
class HealthController {
  @Get()
  check() {
    return 'healthy';
  }
}

@Controller({ path: 'cats', version: '1' })
@Cors({ origin: [V1] })
class CatsV1Controller {
  @Get()
  list() {
    return 'cats v1';
  }

  @Put(':id')
  replace() {
    return 'v1 put';
  }
}

@Controller({ path: 'cats', version: '2' })
@Cors({ origin: [V2] })
class CatsV2Controller {
  @Get()
  list() {
    return 'cats v2';
  }

  @Put(':id')
  replace() {
    return 'v2 put';
  }
}

@Controller({ path: 'neutral', version: VERSION_NEUTRAL })
@Cors({ origin: [NEUTRAL] })
class NeutralController {
  @Get()
  list() {
    return 'neutral';
  }
}

@Controller({ path: 'users', version: '3' })
@Cors('admin')
class AdminUsersController {
  @Get(':id')
  read() {
    return 'user';
  }

  @Delete(':id')
  remove() {
    return 'removed';
  }
}

@Module({ controllers: [AdminUsersController] })
class AdminModule {}

@Controller(['dogs', 'hounds'])
@Cors({ origin: [ARRAYS] })
class ArraysController {
  @Get(['a', 'b'])
  read() {
    return 'array';
  }
}

@Controller('params')
@Cors({ origin: [PARAMS] })
class ParamsController {
  @Get(':a/sub/:b')
  read() {
    return 'params';
  }
}

/**
 * "Everything under files/" and "assets, and everything under it" in each router's syntax:
 * path-to-regexp 8 names its wildcard and has optional groups; find-my-way has neither (`*path`
 * and `{/*path}` throw there), its `*` is the rest of the path, the empty rest included.
 */
const WILD_PATHS: Record<AdapterName, { files: string; assets: string[] }> = {
  express: { files: 'files/*rest', assets: ['assets{/*path}'] },
  fastify: { files: 'files/*', assets: ['assets', 'assets/*'] },
};

function wildController(adapter: AdapterName): Type {
  @Controller('wild')
  @Cors({ origin: [WILD] })
  class WildController {
    @Get(WILD_PATHS[adapter].files)
    files() {
      return 'files';
    }

    @Get(WILD_PATHS[adapter].assets)
    assets() {
      return 'assets';
    }

    @All('any')
    any() {
      return 'any';
    }
  }
  return WildController;
}

@Controller('things')
class ThingsController {
  @Version('1')
  @Get()
  @Cors({ origin: [V1, BOTH] })
  v1() {
    return 'v1';
  }

  @Version('2')
  @Get()
  @Cors({ origin: [V2, BOTH], credentials: true, exposedHeaders: ['x-v2'], maxAge: 60 })
  v2() {
    return 'v2';
  }
}

const NON_URI: Array<{
  name: string;
  versioning: VersioningOptions;
  header: string;
  value: (version: string) => string;
}> = [
  {
    name: 'header versioning',
    versioning: { type: VersioningType.HEADER, header: 'X-API-Version' },
    header: 'X-API-Version',
    value: (v) => v,
  },
  {
    name: 'media-type versioning',
    versioning: { type: VersioningType.MEDIA_TYPE, key: 'v=' },
    header: 'Accept',
    value: (v) => `application/json;v=${v}`,
  },
];

const TA = 'https://tenant-a.example';
const TB = 'https://tenant-b.example';

@Controller({ path: 'tenant', host: 'a.localhost' })
@Cors({ origin: [TA] })
class TenantAController {
  @Get()
  read() {
    return 'a';
  }

  @Put()
  replace() {
    return 'a put';
  }
}

/**
 * Where the second host-bound controller lives. Express: at the first one's path, and Nest passes
 * a request for another host on to the next route. Fastify refuses a second route with the same
 * method and path at boot (FST_ERR_DUPLICATED_ROUTE; asserted below), so there it has a path of
 * its own; Fastify's way to share a path between hosts is its host constraint (the describe
 * after this one).
 */
const TENANT_B_PATH: Record<AdapterName, string> = { express: 'tenant', fastify: 'tenant-b' };

function tenantBController(path: string): Type {
  @Controller({ path, host: 'b.localhost' })
  @Cors({ origin: [TB], exposedHeaders: ['x-b'] })
  class TenantBController {
    @Get()
    read() {
      return 'b';
    }

    @Put()
    replace() {
      return 'b put';
    }
  }
  return TenantBController;
}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('global prefix + exclude, URI versioning, RouterModule, arrays, params, wildcards, @All', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [
            CorsModule.forRoot({ origin: [DEF], policies: { admin: { origin: [ADMIN] } } }),
            AdminModule,
            RouterModule.register([{ path: 'admin', module: AdminModule }]),
          ],
          controllers: [
            HealthController,
            CatsV1Controller,
            CatsV2Controller,
            NeutralController,
            ArraysController,
            ParamsController,
            wildController(adapter),
          ],
        },
        (a) => {
          a.setGlobalPrefix('api', { exclude: ['health'] });
          a.enableVersioning({ type: VersioningType.URI });
        },
        adapter,
      );
    });
    afterAll(() => app.close());

    it('a route excluded from the global prefix', async () => {
      await expectRoute(app, '/health', HEALTH, 'GET', 'healthy');
      // No route serves /api/health: the module defaults decide (cors-rules §2 item 11).
      const pre = await preflight(app, '/api/health', HEALTH, 'GET', 'x-custom');
      expect(pre.status).toBe(403);
      expect(acHeaders(pre)).toEqual({});
      const byDefaults = await preflight(app, '/api/health', DEF, 'GET', 'x-custom');
      expect(byDefaults.status).toBe(204);
      expect(byDefaults.headers['access-control-allow-origin']).toBe(DEF);
    });

    it('URI versions: each version gets its controller policy', async () => {
      await expectRoute(app, '/api/v1/cats', V1, 'GET', 'cats v1');
      await expectRoute(app, '/api/v2/cats', V2, 'GET', 'cats v2');
      await expectRoute(app, '/api/v1/cats/5', V1, 'PUT');
      await expectRoute(app, '/api/v2/cats/5', V2, 'PUT');
      const crossed = await preflight(app, '/api/v1/cats/5', V2, 'PUT');
      expect(crossed.status).toBe(403);
      expect(acHeaders(crossed)).toEqual({});
      const actual = await http(app).put('/api/v2/cats/5').set('Origin', V2).expect(200, 'v2 put');
      expect(actual.headers['access-control-allow-origin']).toBe(V2);
    });

    it('VERSION_NEUTRAL: no version segment', async () => {
      await expectRoute(app, '/api/neutral', NEUTRAL, 'GET', 'neutral');
    });

    it('RouterModule path, after the URI version', async () => {
      await expectRoute(app, '/api/v3/admin/users/9', ADMIN, 'GET', 'user');
      await expectRoute(app, '/api/v3/admin/users/9', ADMIN, 'DELETE');
      const pre = await preflight(app, '/api/v3/admin/users/9', ADMIN, 'DELETE');
      expect(listOf(pre.headers['access-control-allow-methods'])).toEqual(
        expect.arrayContaining(['GET', 'DELETE']),
      );
    });

    it('path arrays on the controller and on the route', async () => {
      for (const path of ['/api/dogs/a', '/api/dogs/b', '/api/hounds/a', '/api/hounds/b']) {
        await expectRoute(app, path, ARRAYS, 'GET', 'array');
      }
    });

    it('params', async () => {
      await expectRoute(app, '/api/params/x/sub/y', PARAMS, 'GET', 'params');
      // No route there: the module defaults decide, and they do not list PARAMS.
      const miss = await preflight(app, '/api/params/x/other/y', PARAMS, 'GET', 'x-custom');
      expect(miss.status).toBe(403);
      expect(acHeaders(miss)).toEqual({});
    });

    it('wildcards: the rest of the path, and an optional rest', async () => {
      await expectRoute(app, '/api/wild/files/a', WILD, 'GET', 'files');
      await expectRoute(app, '/api/wild/files/a/b/c.txt', WILD, 'GET', 'files');
      await expectRoute(app, '/api/wild/assets', WILD, 'GET', 'assets');
      await expectRoute(app, '/api/wild/assets/x/y', WILD, 'GET', 'assets');
    });

    it('wildcards: an empty rest is the route on Fastify, a 404 on Express', async () => {
      // path-to-regexp's `*rest` needs at least one character; find-my-way's `*` matches the empty
      // rest too. Either way the CORS answer is the one of what serves the path.
      if (adapter === 'fastify') {
        await expectRoute(app, '/api/wild/files/', WILD, 'GET', 'files');
      } else {
        const pre = await preflight(app, '/api/wild/files/', WILD, 'GET', 'x-custom');
        expect(pre.status).toBe(403);
        expect(acHeaders(pre)).toEqual({});
        const res = await get(app, '/api/wild/files/', DEF).expect(404);
        expect(res.headers['access-control-allow-origin']).toBe(DEF);
      }
    });

    it('@All(): every method the router registers it for', async () => {
      // Fastify registers @All() for its methods, which Nest 12 extends with SEARCH and the like.
      const extra = adapter === 'express' || NEST_MAJOR >= 12 ? ['SEARCH'] : [];
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', ...extra]) {
        await expectRoute(app, '/api/wild/any', WILD, method, 'any');
      }
      const res = await http(app).patch('/api/wild/any').set('Origin', WILD).expect(200, 'any');
      expect(res.headers['access-control-allow-origin']).toBe(WILD);
    });

    it('@All() and a method name the router does not know', async () => {
      // Express serves any method on an @All() route; Fastify registers it for its own list of
      // methods only (its supportedMethods, plus what Nest adds), so a made-up method is not
      // served there and its preflight is refused.
      const pre = await preflight(app, '/api/wild/any', WILD, 'X-CUSTOM', 'x-custom');
      if (adapter === 'express') {
        expect(pre.status).toBe(204);
        expect(pre.headers['access-control-allow-origin']).toBe(WILD);
        expect(listOf(pre.headers['access-control-allow-methods'])).toContain('X-CUSTOM');
      } else {
        expect(pre.status).toBe(403);
        expect(acHeaders(pre)).toEqual({});
      }
    });

    it('a version that does not exist gets the module defaults', async () => {
      const pre = await preflight(app, '/api/v9/cats', V1, 'GET', 'x-custom');
      expect(pre.status).toBe(403);
      expect(acHeaders(pre)).toEqual({});
      const res = await get(app, '/api/v9/cats', DEF).expect(404);
      expect(res.headers['access-control-allow-origin']).toBe(DEF);
    });
  });

  describe.each(NON_URI)('$name: two handlers at one path', ({ versioning, header, value }) => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        { imports: [CorsModule.forRoot({ origin: [DEF] })], controllers: [ThingsController] },
        (a) => a.enableVersioning(versioning),
        adapter,
      );
    });
    afterAll(() => app.close());

    const versioned = (version: string, origin: string) =>
      get(app, '/things', origin).set(header, value(version));

    it('the actual request gets the policy of the handler that serves it (first handler)', async () => {
      const res = await versioned('1', V1).expect(200, 'v1');
      expect(res.headers['access-control-allow-origin']).toBe(V1);
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers['access-control-expose-headers']).toBeUndefined();
    });

    it('the actual request gets the policy of the handler that serves it (second handler)', async () => {
      const res = await versioned('2', V2).expect(200, 'v2');
      expect(res.headers['access-control-allow-origin']).toBe(V2);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-expose-headers']).toBe('x-v2');
    });

    it("another handler's origin gets no Access-Control-* header", async () => {
      expect(acHeaders(await versioned('2', V1).expect(200, 'v2'))).toEqual({});
      expect(acHeaders(await versioned('1', V2).expect(200, 'v1'))).toEqual({});
    });

    it('a preflight (which carries no version) is approved only if every handler approves', async () => {
      const headerName = header.toLowerCase();
      // Each origin is allowed by one handler only: the real request may reach the other one.
      for (const origin of [V1, V2, EVIL]) {
        const refused = await preflight(app, '/things', origin, 'GET', headerName);
        expect({ origin, status: refused.status }).toEqual({ origin, status: 403 });
        expect(acHeaders(refused)).toEqual({});
      }
      // Allowed by both: the answer is what both accept (no credentials: v1 has none).
      const both = await preflight(app, '/things', BOTH, 'GET', headerName);
      expect(both.status).toBe(204);
      expect(both.headers['access-control-allow-origin']).toBe(BOTH);
      expect(both.headers['access-control-allow-credentials']).toBeUndefined();
      expect(both.headers['access-control-allow-methods']).toBe('GET');
      expect(both.headers['access-control-allow-headers']).toBe(headerName);
      // v1 sends no max-age: the browser's default (5 s) is the shorter one.
      expect(both.headers['access-control-max-age']).toBeUndefined();
    });
  });

  describe('@Controller({ host }): two host-bound controllers', () => {
    const bPath = `/${TENANT_B_PATH[adapter]}`;
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [CorsModule.forRoot({ origin: [DEF] })],
          controllers: [TenantAController, tenantBController(TENANT_B_PATH[adapter])],
        },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    it('the first host gets its policy', async () => {
      const res = await get(app, '/tenant', TA).set('Host', 'a.localhost').expect(200, 'a');
      expect(res.headers['access-control-allow-origin']).toBe(TA);
      expect(res.headers['access-control-expose-headers']).toBeUndefined();
    });

    it('the second host gets its policy (Express: the guard corrects the path table)', async () => {
      const res = await get(app, bPath, TB).set('Host', 'b.localhost').expect(200, 'b');
      expect(res.headers['access-control-allow-origin']).toBe(TB);
      expect(res.headers['access-control-expose-headers']).toBe('x-b');
      const put = await http(app)
        .put(bPath)
        .set('Host', 'b.localhost')
        .set('Origin', TB)
        .expect(200, 'b put');
      expect(put.headers['access-control-allow-origin']).toBe(TB);
    });

    it("the other host's origin gets no Access-Control-* header", async () => {
      const res = await get(app, bPath, TA).set('Host', 'b.localhost').expect(200, 'b');
      expect(acHeaders(res)).toEqual({});
    });

    it('a preflight is answered for the origin of either host-bound route', async () => {
      const a = await preflight(app, '/tenant', TA, 'PUT').set('Host', 'a.localhost');
      expect(a.status).toBe(204);
      expect(a.headers['access-control-allow-origin']).toBe(TA);
      const b = await preflight(app, bPath, TB, 'PUT').set('Host', 'b.localhost');
      expect(b.status).toBe(204);
      expect(b.headers['access-control-allow-origin']).toBe(TB);
    });

    it('a Host no controller at the path is bound to: a 404 decided by the module defaults', async () => {
      // On Express only a host no route accepts; on Fastify any other host (Nest answers it with
      // 404 there: it cannot pass the request on to another route).
      const hosts = adapter === 'express' ? ['c.localhost'] : ['b.localhost', 'c.localhost'];
      for (const host of hosts) {
        const res = await get(app, '/tenant', DEF).set('Host', host);
        expect({
          host,
          status: res.status,
          acao: res.headers['access-control-allow-origin'],
        }).toEqual({ host, status: 404, acao: DEF });
        const mine = await get(app, '/tenant', TA).set('Host', host);
        expect({ host, status: mine.status, ...acHeaders(mine) }).toEqual({ host, status: 404 });
        const pre = await preflight(app, '/tenant', TA, 'PUT').set('Host', host);
        expect({ host, status: pre.status, ...acHeaders(pre) }).toEqual({ host, status: 403 });
        const byDefaults = await preflight(app, '/tenant', DEF, 'PUT').set('Host', host);
        expect({ host, status: byDefaults.status }).toEqual({ host, status: 204 });
        expect(byDefaults.headers['access-control-allow-origin']).toBe(DEF);
      }
    });

    it('two host-bound controllers at one path: Express boots, Fastify refuses the duplicate route', async () => {
      const booted = makeApp(
        {
          imports: [CorsModule.forRoot({ origin: [DEF] })],
          controllers: [TenantAController, tenantBController('tenant')],
        },
        undefined,
        adapter,
      );
      if (adapter === 'express') {
        await (await booted).close();
      } else {
        await expect(booted).rejects.toMatchObject({ code: 'FST_ERR_DUPLICATED_ROUTE' });
      }
    });
  });
});

/**
 * Fastify's own way to give hosts different handlers at one path: the router's `host` constraint
 * (`@RouteConstraints()` of @nestjs/platform-fastify). Fastify only: Express has no route
 * constraints (its counterpart is `@Controller({ host })` above).
 */
@Controller('tenant')
class ConstrainedTenantController {
  @RouteConstraints({ host: 'a.localhost' })
  @Get()
  @Cors({ origin: [TA] })
  readA() {
    return 'a';
  }

  @RouteConstraints({ host: 'a.localhost' })
  @Put()
  @Cors({ origin: [TA] })
  replaceA() {
    return 'a put';
  }

  @RouteConstraints({ host: 'b.localhost' })
  @Get()
  @Cors({ origin: [TB], exposedHeaders: ['x-b'] })
  readB() {
    return 'b';
  }

  @RouteConstraints({ host: 'b.localhost' })
  @Put()
  @Cors({ origin: [TB], exposedHeaders: ['x-b'] })
  replaceB() {
    return 'b put';
  }
}

describe('fastify: @RouteConstraints({ host }): two handlers at one path, one per host', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await makeApp(
      {
        imports: [CorsModule.forRoot({ origin: [DEF] })],
        controllers: [ConstrainedTenantController],
      },
      undefined,
      'fastify',
    );
  });
  afterAll(() => app.close());

  it('the actual request gets the policy of the handler its Host runs', async () => {
    for (const [host, origin, body] of [
      ['a.localhost', TA, 'a put'],
      ['b.localhost', TB, 'b put'],
    ]) {
      const res = await http(app).put('/tenant').set('Host', host).set('Origin', origin);
      expect({ host, status: res.status, text: res.text }).toEqual({
        host,
        status: 200,
        text: body,
      });
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      const other = await http(app)
        .put('/tenant')
        .set('Host', host)
        .set('Origin', origin === TA ? TB : TA);
      expect({ host, ...acHeaders(other) }).toEqual({ host });
    }
  });

  it("a preflight is decided by the handler its Host runs, never by the other host's", async () => {
    // A preflight carries the Host of the real request: the router's host constraint is known.
    for (const [host, origin, other] of [
      ['a.localhost', TA, TB],
      ['b.localhost', TB, TA],
    ]) {
      const pre = await preflight(app, '/tenant', origin, 'PUT').set('Host', host);
      expect({
        host,
        origin,
        status: pre.status,
        acao: pre.headers['access-control-allow-origin'],
      }).toEqual({ host, origin, status: 204, acao: origin });
      const refused = await preflight(app, '/tenant', other, 'PUT').set('Host', host);
      expect({ host, other, status: refused.status, ...acHeaders(refused) }).toEqual({
        host,
        other,
        status: 403,
      });
    }
  });

  it('a Host no handler is constrained to: a 404 decided by the module defaults', async () => {
    const res = await get(app, '/tenant', DEF).set('Host', 'c.localhost').expect(404);
    expect(res.headers['access-control-allow-origin']).toBe(DEF);
    const pre = await preflight(app, '/tenant', TA, 'PUT').set('Host', 'c.localhost');
    expect({ status: pre.status, ...acHeaders(pre) }).toEqual({ status: 403 });
  });
});
