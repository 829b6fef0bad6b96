/**
 * Merge order (module defaults ← controller @Cors ← route @Cors, key by key, arrays replaced),
 * @Cors(false), named policies and `routes: 'decorated'`, over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Delete, Get, Put, type INestApplication } from '@nestjs/common';
import { Cors, CorsModule } from '../../lib/index.js';
import { ADAPTERS, acHeaders, get, http, makeApp, preflight, varyOf } from './helpers.js';

const DEF = 'https://default.example';
const CTRL = 'https://ctrl.example';
const ADMIN = 'https://admin.example';
const ROUTE = 'https://route.example';

@Controller('plain')
class PlainController {
  @Get()
  index() {
    return 'plain';
  }

  @Get('off')
  @Cors(false)
  off() {
    return 'off';
  }

  @Get('route')
  @Cors({ exposedHeaders: ['x-route'] })
  route() {
    return 'route';
  }
}

@Controller('ctrl')
@Cors({ origin: [CTRL], maxAge: 200 })
class CtrlController {
  @Get()
  inherit() {
    return 'ctrl';
  }

  @Put()
  @Cors({ exposedHeaders: ['x-route'] })
  put() {
    return 'put';
  }

  @Get('off')
  @Cors(false)
  off() {
    return 'off';
  }

  @Get('named')
  @Cors('admin')
  named() {
    return 'named';
  }
}

@Controller('disabled')
@Cors(false)
class DisabledController {
  @Get()
  index() {
    return 'disabled';
  }

  @Get('on')
  @Cors({ origin: [ROUTE] })
  on() {
    return 'on';
  }

  @Get('admin')
  @Cors('admin')
  admin() {
    return 'admin';
  }
}

@Controller('admin')
@Cors('admin')
class AdminController {
  @Get()
  list() {
    return 'admin';
  }

  @Delete(':id')
  @Cors({ maxAge: 50 })
  remove() {
    return 'removed';
  }

  @Get('off')
  @Cors(false)
  off() {
    return 'off';
  }
}

@Controller('d')
class DecoratedRoutesController {
  @Get('bare')
  bare() {
    return 'bare';
  }

  @Get('default')
  @Cors()
  defaults() {
    return 'default';
  }

  @Get('named')
  @Cors('admin')
  named() {
    return 'named';
  }

  @Get('override')
  @Cors({ origin: [ROUTE] })
  override() {
    return 'override';
  }
}

@Controller('dc')
@Cors()
class DecoratedController {
  @Get()
  index() {
    return 'dc';
  }
}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('merge order and @Cors(false) (routes: all)', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [
            CorsModule.forRoot({
              origin: [DEF],
              credentials: true,
              exposedHeaders: ['x-default'],
              maxAge: 100,
              policies: { admin: { origin: [ADMIN], exposedHeaders: ['x-admin'] } },
            }),
          ],
          controllers: [PlainController, CtrlController, DisabledController, AdminController],
        },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    describe('module defaults only', () => {
      it('an undecorated route gets the module defaults', async () => {
        const res = await get(app, '/plain', DEF).expect(200, 'plain');
        expect(res.headers['access-control-allow-origin']).toBe(DEF);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(res.headers['access-control-expose-headers']).toBe('x-default');
        expect(varyOf(res)).toContain('origin');
      });

      it('a preflight of an undecorated route carries the module maxAge', async () => {
        const res = await preflight(app, '/plain', DEF, 'GET', 'x-anything').expect(204);
        expect(res.headers['access-control-allow-origin']).toBe(DEF);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(res.headers['access-control-max-age']).toBe('100');
        expect(res.headers['access-control-allow-headers']).toBe('x-anything');
      });

      it('another origin is refused: no Access-Control-* header, Vary: Origin, handler runs', async () => {
        const res = await get(app, '/plain', CTRL).expect(200, 'plain');
        expect(acHeaders(res)).toEqual({});
        expect(varyOf(res)).toContain('origin');
      });
    });

    describe('route @Cors over module defaults', () => {
      it('replaces an array key (exposedHeaders) instead of concatenating it', async () => {
        const res = await get(app, '/plain/route', DEF).expect(200, 'route');
        expect(res.headers['access-control-expose-headers']).toBe('x-route');
        expect(res.headers['access-control-allow-origin']).toBe(DEF);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
      });

      it('@Cors(false) on a route: no CORS header for an origin the defaults allow', async () => {
        const res = await get(app, '/plain/off', DEF).expect(200, 'off');
        expect(acHeaders(res)).toEqual({});
      });

      it('@Cors(false) on a route: its preflight is not answered by the module', async () => {
        const res = await preflight(app, '/plain/off', DEF, 'GET', 'x-a');
        expect(res.status).toBe(404);
        expect(acHeaders(res)).toEqual({});
      });
    });

    describe('module defaults ← controller @Cors ← route @Cors', () => {
      it('controller origin replaces the module origin list (not concatenated)', async () => {
        const denied = await get(app, '/ctrl', DEF).expect(200, 'ctrl');
        expect(acHeaders(denied)).toEqual({});
        expect(varyOf(denied)).toContain('origin');
      });

      it('keys the controller does not set come from the module', async () => {
        const res = await get(app, '/ctrl', CTRL).expect(200, 'ctrl');
        expect(res.headers['access-control-allow-origin']).toBe(CTRL);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(res.headers['access-control-expose-headers']).toBe('x-default');
      });

      it('controller maxAge overrides the module maxAge', async () => {
        const res = await preflight(app, '/ctrl', CTRL, 'GET', 'x-a').expect(204);
        expect(res.headers['access-control-max-age']).toBe('200');
        expect(res.headers['access-control-allow-origin']).toBe(CTRL);
      });

      it('a route key overrides the controller, the other controller keys stay', async () => {
        const res = await http(app).put('/ctrl').set('Origin', CTRL).expect(200, 'put');
        expect(res.headers['access-control-allow-origin']).toBe(CTRL);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(res.headers['access-control-expose-headers']).toBe('x-route');
        const pre = await preflight(app, '/ctrl', CTRL, 'PUT').expect(204);
        expect(pre.headers['access-control-max-age']).toBe('200');
        expect(pre.headers['access-control-allow-origin']).toBe(CTRL);
      });

      it('the route under the controller still refuses the module origin', async () => {
        const res = await preflight(app, '/ctrl', DEF, 'PUT');
        expect(res.status).toBe(403);
        expect(acHeaders(res)).toEqual({});
      });

      it('@Cors(false) on a route under a controller @Cors({...}) switches it off', async () => {
        const res = await get(app, '/ctrl/off', CTRL).expect(200, 'off');
        expect(acHeaders(res)).toEqual({});
      });

      it("a route @Cors('admin') under a controller @Cors({...}) expands the policy's keys at route level", async () => {
        const admin = await get(app, '/ctrl/named', ADMIN).expect(200, 'named');
        expect(admin.headers['access-control-allow-origin']).toBe(ADMIN);
        expect(admin.headers['access-control-expose-headers']).toBe('x-admin');
        expect(admin.headers['access-control-allow-credentials']).toBe('true');
        const ctrl = await get(app, '/ctrl/named', CTRL).expect(200);
        expect(acHeaders(ctrl)).toEqual({});
        // maxAge is not a key of "admin": the controller's value stays.
        const pre = await preflight(app, '/ctrl/named', ADMIN, 'GET', 'x-a').expect(204);
        expect(pre.headers['access-control-max-age']).toBe('200');
      });
    });

    describe('controller @Cors(false)', () => {
      it('switches every undecorated route of the controller off', async () => {
        const res = await get(app, '/disabled', DEF).expect(200, 'disabled');
        expect(acHeaders(res)).toEqual({});
        const pre = await preflight(app, '/disabled', DEF, 'GET', 'x-a');
        expect(pre.status).toBe(404);
        expect(acHeaders(pre)).toEqual({});
      });

      it('a route @Cors({...}) re-enables its route over the module defaults', async () => {
        const res = await get(app, '/disabled/on', ROUTE).expect(200, 'on');
        expect(res.headers['access-control-allow-origin']).toBe(ROUTE);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(res.headers['access-control-expose-headers']).toBe('x-default');
        const def = await get(app, '/disabled/on', DEF).expect(200);
        expect(acHeaders(def)).toEqual({});
        const pre = await preflight(app, '/disabled/on', ROUTE, 'GET', 'x-a').expect(204);
        expect(pre.headers['access-control-allow-origin']).toBe(ROUTE);
        expect(pre.headers['access-control-max-age']).toBe('100');
      });

      it("a route @Cors('admin') re-enables its route with the named policy", async () => {
        const res = await get(app, '/disabled/admin', ADMIN).expect(200, 'admin');
        expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
        expect(res.headers['access-control-expose-headers']).toBe('x-admin');
        const def = await get(app, '/disabled/admin', DEF).expect(200);
        expect(acHeaders(def)).toEqual({});
      });
    });

    describe("controller @Cors('admin')", () => {
      it('applies the named policy (over the module defaults) to its routes', async () => {
        const res = await get(app, '/admin', ADMIN).expect(200, 'admin');
        expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(res.headers['access-control-expose-headers']).toBe('x-admin');
        const def = await get(app, '/admin', DEF).expect(200);
        expect(acHeaders(def)).toEqual({});
        const pre = await preflight(app, '/admin', ADMIN, 'GET', 'x-a').expect(204);
        expect(pre.headers['access-control-max-age']).toBe('100');
      });

      it('a route @Cors({ maxAge }) merges over the named policy', async () => {
        const pre = await preflight(app, '/admin/7', ADMIN, 'DELETE').expect(204);
        expect(pre.headers['access-control-allow-origin']).toBe(ADMIN);
        expect(pre.headers['access-control-allow-credentials']).toBe('true');
        expect(pre.headers['access-control-max-age']).toBe('50');
        expect(pre.headers['access-control-allow-methods']).toContain('DELETE');
        const denied = await preflight(app, '/admin/7', DEF, 'DELETE');
        expect(denied.status).toBe(403);
        expect(acHeaders(denied)).toEqual({});
        const actual = await http(app).delete('/admin/7').set('Origin', ADMIN).expect(200);
        expect(actual.headers['access-control-expose-headers']).toBe('x-admin');
      });

      it('@Cors(false) on a route under a named controller policy', async () => {
        const res = await get(app, '/admin/off', ADMIN).expect(200, 'off');
        expect(acHeaders(res)).toEqual({});
      });
    });

    it('an unknown path (404) gets the module defaults', async () => {
      const res = await get(app, '/nowhere', DEF).expect(404);
      expect(res.headers['access-control-allow-origin']).toBe(DEF);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
    });
  });

  describe("routes: 'decorated'", () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [
            CorsModule.forRoot({
              origin: [DEF],
              exposedHeaders: ['x-default'],
              routes: 'decorated',
              policies: { admin: { origin: [ADMIN] } },
            }),
          ],
          controllers: [DecoratedRoutesController, DecoratedController],
        },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    it('an undecorated route gets no CORS header at all', async () => {
      const res = await get(app, '/d/bare', DEF).expect(200, 'bare');
      expect(acHeaders(res)).toEqual({});
    });

    it('a preflight to an undecorated route is not answered by the module', async () => {
      const res = await preflight(app, '/d/bare', DEF, 'GET', 'x-a');
      expect(res.status).toBe(404);
      expect(acHeaders(res)).toEqual({});
    });

    it('an unknown path gets no CORS header', async () => {
      const res = await get(app, '/nowhere', DEF).expect(404);
      expect(acHeaders(res)).toEqual({});
    });

    it('a route @Cors() gets the module defaults', async () => {
      const res = await get(app, '/d/default', DEF).expect(200, 'default');
      expect(res.headers['access-control-allow-origin']).toBe(DEF);
      expect(res.headers['access-control-expose-headers']).toBe('x-default');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      const pre = await preflight(app, '/d/default', DEF, 'GET', 'x-a').expect(204);
      expect(pre.headers['access-control-allow-origin']).toBe(DEF);
    });

    it('a controller @Cors() gets the module defaults', async () => {
      const res = await get(app, '/dc', DEF).expect(200, 'dc');
      expect(res.headers['access-control-allow-origin']).toBe(DEF);
    });

    it("a route @Cors('admin') gets the named policy", async () => {
      const res = await get(app, '/d/named', ADMIN).expect(200, 'named');
      expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
      expect(res.headers['access-control-expose-headers']).toBe('x-default');
      const def = await get(app, '/d/named', DEF).expect(200);
      expect(acHeaders(def)).toEqual({});
    });

    it('a route @Cors({...}) merges over the module defaults', async () => {
      const res = await get(app, '/d/override', ROUTE).expect(200, 'override');
      expect(res.headers['access-control-allow-origin']).toBe(ROUTE);
      expect(res.headers['access-control-expose-headers']).toBe('x-default');
      const def = await get(app, '/d/override', DEF).expect(200);
      expect(acHeaders(def)).toEqual({});
    });
  });
});
