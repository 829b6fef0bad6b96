/**
 * Route-aware preflights over real HTTP: the policy of the route serving (path, ACRM), the
 * methods listed, denials, `@All()` / `@Options()` paths, `preflightContinue`, what is not a
 * preflight, paths with CORS off, guards, and the router's matching rules.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  All,
  Controller,
  Delete,
  Get,
  Injectable,
  Module,
  Options,
  Post,
  Put,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { IncomingHttpHeaders } from 'node:http';
import { Cors, CorsModule } from '../../lib/index.js';
import {
  ADAPTERS,
  acHeaders,
  get,
  http,
  listenApp,
  listOf,
  makeApp,
  preflight,
  rawSocket,
  varyOf,
} from './helpers.js';

const APP = 'https://app.example';
const ADMIN = 'https://admin.example';
const OTHER = 'https://other.example';
const OPTS = 'https://opts.example';
const PUBLIC = 'https://anyone.example';
/** ACAH = the configured allowedHeaders (cors-rules §2 item 5). */
const CONFIGURED_HEADERS = ['content-type', 'x-request-id'];

const calls = { all: 0, options: 0, continued: 0, off: 0, guard: 0, protectedPut: 0 };

@Controller('items')
class ItemsController {
  @Get(':id')
  @Cors({ origin: '*' })
  read() {
    return 'item';
  }

  @Delete(':id')
  @Cors('admin')
  remove() {
    return 'removed';
  }

  @Put(':id')
  @Cors({ origin: [OTHER] })
  replace() {
    return 'replaced';
  }
}

@Controller('any')
class AnyController {
  @All()
  any() {
    calls.all++;
    return 'all';
  }
}

@Controller('opt')
class OptController {
  @Get()
  read() {
    return 'read';
  }

  @Post()
  create() {
    return 'created';
  }

  @Options()
  @Cors({ origin: [OPTS], exposedHeaders: ['x-opt'] })
  options() {
    calls.options++;
    return 'app-options';
  }
}

@Controller('cont')
@Cors({ preflightContinue: true })
class ContinueController {
  @Put()
  replace() {
    return 'replaced';
  }

  @Options()
  options() {
    calls.continued++;
    return 'continued';
  }
}

@Controller('off')
@Cors(false)
class OffController {
  @Get('x')
  x() {
    return 'x';
  }

  @Options('x')
  optionsX() {
    calls.off++;
    return 'off-options';
  }

  @Get('y')
  y() {
    return 'y';
  }
}

@Controller('legacy')
@Cors({ optionsSuccessStatus: 200, maxAge: 600 })
class LegacyController {
  @Put()
  replace() {
    return 'replaced';
  }
}

@Controller('narrow')
@Cors({ methods: ['GET', 'PUT'] })
class NarrowController {
  @Get()
  read() {
    return 'read';
  }

  @Put()
  replace() {
    return 'replaced';
  }

  @Delete()
  remove() {
    return 'removed';
  }
}

const ALL_CONTROLLERS = [
  ItemsController,
  AnyController,
  OptController,
  ContinueController,
  OffController,
  LegacyController,
  NarrowController,
];

@Injectable()
class AuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    calls.guard++;
    // Express's Request and Fastify's FastifyRequest both carry the headers.
    const req = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>();
    if (req.headers.authorization !== 'Bearer ok') throw new UnauthorizedException();
    return true;
  }
}

@Controller('protected')
class ProtectedController {
  @Put(':id')
  replace() {
    calls.protectedPut++;
    return 'replaced';
  }

  @Options(':id')
  options() {
    return 'app-options';
  }
}

@Module({
  imports: [CorsModule.forRoot({ origin: [APP], credentials: true })],
  controllers: [ProtectedController],
  providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
})
class ProtectedAppModule {}

const ACME = 'https://acme.example';
const predicate = { calls: 0, withoutRequest: 0 };

/** A multi-tenant origin predicate: it needs the request (its Host) to decide. */
function tenantOrigin(origin: string | undefined, req: Record<string, any>) {
  predicate.calls++;
  if (typeof req.headers !== 'object') predicate.withoutRequest++;
  return origin === ACME && String(req.headers?.host).startsWith('acme.');
}

@Controller('docs')
class DocsController {
  @Get()
  read() {
    return 'docs';
  }

  @Delete()
  remove() {
    return 'removed';
  }

  @Put()
  @Cors({ maxAge: 10 })
  replace() {
    return 'replaced';
  }
}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('route-aware preflights', () => {
    let app: INestApplication;
    let port: number;

    beforeAll(async () => {
      ({ app, port } = await listenApp(
        {
          imports: [
            CorsModule.forRoot({
              origin: [APP],
              allowedHeaders: ['content-type', 'x-request-id'],
              policies: { admin: { origin: [ADMIN], credentials: true } },
            }),
          ],
          controllers: ALL_CONTROLLERS,
        },
        undefined,
        adapter,
      ));
    });
    afterAll(() => app.close());
    beforeEach(() => {
      for (const key of Object.keys(calls)) calls[key as keyof typeof calls] = 0;
    });

    describe('each method of one path gets its own policy', () => {
      it('DELETE (admin-only, credentials) is allowed for the admin origin', async () => {
        const res = await preflight(app, '/items/1', ADMIN, 'DELETE', 'content-type').expect(204);
        expect(res.text).toBe('');
        expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(listOf(res.headers['access-control-allow-headers'])).toEqual(CONFIGURED_HEADERS);
        const methods = listOf(res.headers['access-control-allow-methods']);
        expect(methods).toContain('DELETE');
        // GET's policy ('*') allows the admin origin but is not credentialed: listing GET would
        // let the browser reuse this credentialed answer for GETs. PUT's refuses the origin.
        expect(methods).not.toContain('GET');
        expect(methods).not.toContain('PUT');
        expect(methods).not.toContain('PATCH');
        expect(res.headers['access-control-expose-headers']).toBeUndefined();
        expect(varyOf(res)).toEqual(
          expect.arrayContaining([
            'origin',
            'access-control-request-method',
            'access-control-request-headers',
          ]),
        );
      });

      it('DELETE is refused for any other origin: 403, no Access-Control-* header', async () => {
        for (const origin of [PUBLIC, APP, OTHER]) {
          const res = await preflight(app, '/items/1', origin, 'DELETE');
          expect(res.status).toBe(403);
          expect(acHeaders(res)).toEqual({});
        }
      });

      it("GET (origin '*') is allowed for any origin, listing only the methods allowing it", async () => {
        const res = await preflight(app, '/items/1', PUBLIC, 'GET', 'x-request-id').expect(204);
        expect(res.headers['access-control-allow-origin']).toBe('*');
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
        expect(listOf(res.headers['access-control-allow-headers'])).toEqual(CONFIGURED_HEADERS);
        const methods = listOf(res.headers['access-control-allow-methods']);
        expect(methods).toContain('GET');
        expect(methods).not.toContain('DELETE');
        expect(methods).not.toContain('PUT');
      });

      it('PUT gets its own origin list', async () => {
        const res = await preflight(app, '/items/1', OTHER, 'PUT', 'content-type').expect(204);
        expect(res.headers['access-control-allow-origin']).toBe(OTHER);
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
        const methods = listOf(res.headers['access-control-allow-methods']);
        expect(methods).toContain('PUT');
        expect(methods).toContain('GET');
        expect(methods).not.toContain('DELETE');
        const admin = await preflight(app, '/items/1', ADMIN, 'PUT');
        expect(admin.status).toBe(403);
        expect(acHeaders(admin)).toEqual({});
      });

      it('a method the path does not serve → 403, no Access-Control-* header', async () => {
        for (const method of ['PATCH', 'POST', 'delete']) {
          const res = await preflight(app, '/items/1', ADMIN, method);
          expect(res.status).toBe(403);
          expect(acHeaders(res)).toEqual({});
        }
      });

      it('a header the policy does not allow → 403, no Access-Control-* header', async () => {
        const res = await preflight(app, '/items/1', OTHER, 'PUT', 'content-type,x-evil');
        expect(res.status).toBe(403);
        expect(acHeaders(res)).toEqual({});
      });

      it('the policy methods narrow Access-Control-Allow-Methods and refuse other methods', async () => {
        const res = await preflight(app, '/narrow', APP, 'PUT').expect(204);
        expect(listOf(res.headers['access-control-allow-methods'])).toEqual(['GET', 'PUT']);
        const del = await preflight(app, '/narrow', APP, 'DELETE');
        expect(del.status).toBe(403);
        expect(acHeaders(del)).toEqual({});
      });

      it('optionsSuccessStatus and maxAge of the route policy', async () => {
        const res = await preflight(app, '/legacy', APP, 'PUT').expect(200);
        expect(res.text).toBe('');
        expect(res.headers['access-control-allow-origin']).toBe(APP);
        expect(res.headers['access-control-max-age']).toBe('600');
      });
    });

    describe('paths where the app has its own OPTIONS handling', () => {
      it('@All(): the module answers the preflight, the handler does not run', async () => {
        const res = await preflight(app, '/any', APP, 'PUT', 'content-type').expect(204);
        expect(res.text).toBe('');
        expect(res.headers['access-control-allow-origin']).toBe(APP);
        expect(listOf(res.headers['access-control-allow-methods'])).toContain('PUT');
        expect(calls.all).toBe(0);
      });

      it('@All(): a refused preflight is 403 and the handler does not run either', async () => {
        const res = await preflight(app, '/any', PUBLIC, 'PUT');
        expect(res.status).toBe(403);
        expect(acHeaders(res)).toEqual({});
        expect(calls.all).toBe(0);
      });

      it('@All(): OPTIONS without ACRM reaches the handler with actual-request headers', async () => {
        const res = await http(app).options('/any').set('Origin', APP).expect(200, 'all');
        expect(calls.all).toBe(1);
        expect(res.headers['access-control-allow-origin']).toBe(APP);
        expect(res.headers['access-control-allow-methods']).toBeUndefined();
        expect(res.headers['access-control-max-age']).toBeUndefined();
      });

      it('@Options(): the module answers the preflight, the app handler does not run', async () => {
        const res = await preflight(app, '/opt', APP, 'POST', 'content-type').expect(204);
        expect(res.text).toBe('');
        expect(res.headers['access-control-allow-origin']).toBe(APP);
        expect(listOf(res.headers['access-control-allow-methods'])).toContain('POST');
        expect(calls.options).toBe(0);
      });

      it('@Options(): OPTIONS without ACRM reaches the handler, with the OPTIONS route policy', async () => {
        const res = await http(app).options('/opt').set('Origin', OPTS).expect(200, 'app-options');
        expect(calls.options).toBe(1);
        expect(res.headers['access-control-allow-origin']).toBe(OPTS);
        expect(res.headers['access-control-expose-headers']).toBe('x-opt');
        expect(res.headers['access-control-allow-methods']).toBeUndefined();
        expect(res.headers['access-control-allow-headers']).toBeUndefined();
        expect(res.headers['access-control-max-age']).toBeUndefined();
        expect(varyOf(res)).toContain('origin');
        // The GET/POST policy's origin is not the OPTIONS route's.
        const app2 = await http(app).options('/opt').set('Origin', APP).expect(200, 'app-options');
        expect(acHeaders(app2)).toEqual({});
        expect(calls.options).toBe(2);
      });

      it('OPTIONS with ACRM but without Origin is not a preflight: the app answers', async () => {
        const res = await http(app)
          .options('/opt')
          .set('Access-Control-Request-Method', 'POST')
          .expect(200, 'app-options');
        expect(calls.options).toBe(1);
        expect(acHeaders(res)).toEqual({});
      });

      it('preflightContinue: the module sets the headers, then the app handler answers', async () => {
        const res = await preflight(app, '/cont', APP, 'PUT', 'x-request-id').expect(
          200,
          'continued',
        );
        expect(calls.continued).toBe(1);
        expect(res.headers['access-control-allow-origin']).toBe(APP);
        expect(listOf(res.headers['access-control-allow-methods'])).toContain('PUT');
        expect(listOf(res.headers['access-control-allow-headers'])).toEqual(CONFIGURED_HEADERS);
      });

      it('preflightContinue: a refused preflight is still 403 and never reaches the app', async () => {
        const res = await preflight(app, '/cont', PUBLIC, 'PUT');
        expect(res.status).toBe(403);
        expect(acHeaders(res)).toEqual({});
        expect(calls.continued).toBe(0);
      });
    });

    describe('paths where no route has CORS on', () => {
      it("the app's own @Options() handler answers, without CORS headers", async () => {
        const res = await preflight(app, '/off/x', APP, 'GET', 'x-request-id').expect(
          200,
          'off-options',
        );
        expect(calls.off).toBe(1);
        expect(acHeaders(res)).toEqual({});
      });

      it("otherwise Nest's 404, without CORS headers", async () => {
        const res = await preflight(app, '/off/y', APP, 'GET', 'x-request-id');
        expect(res.status).toBe(404);
        expect(acHeaders(res)).toEqual({});
      });
    });

    // Express: case-insensitive, optional trailing slash. Fastify (find-my-way): case-sensitive,
    // strict trailing slash, so `/items/1/` and `/ITEMS/1` are paths no route serves there: they
    // get the module defaults (cors-rules §2 item 11: origin APP, no credentials), not a route's
    // policy. Each adapter's own matching is asserted, the preflight following the router.
    describe("the router's matching rules", () => {
      it('a trailing slash on a dynamic path', async () => {
        if (adapter === 'express') {
          const res = await preflight(app, '/items/1/', ADMIN, 'DELETE').expect(204);
          expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
          expect(res.headers['access-control-allow-credentials']).toBe('true');
        } else {
          const res = await preflight(app, '/items/1/', ADMIN, 'DELETE');
          expect(res.status).toBe(403);
          expect(acHeaders(res)).toEqual({});
          const defaults = await preflight(app, '/items/1/', APP, 'DELETE').expect(204);
          expect(defaults.headers['access-control-allow-origin']).toBe(APP);
          expect(defaults.headers['access-control-allow-credentials']).toBeUndefined();
        }
      });

      it('another case on a dynamic path', async () => {
        if (adapter === 'express') {
          const res = await preflight(app, '/ITEMS/1', ADMIN, 'DELETE').expect(204);
          expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
        } else {
          const res = await preflight(app, '/ITEMS/1', ADMIN, 'DELETE');
          expect(res.status).toBe(403);
          expect(acHeaders(res)).toEqual({});
          const defaults = await preflight(app, '/ITEMS/1', APP, 'DELETE').expect(204);
          expect(defaults.headers['access-control-allow-origin']).toBe(APP);
          expect(defaults.headers['access-control-allow-credentials']).toBeUndefined();
        }
      });

      it('a trailing slash and another case on a static path (module answers, not the app)', async () => {
        // The route-served path lists only the methods it serves (GET, POST under the module
        // defaults); a path no route serves lists the default methods (cors-rules §2 item 11).
        const exact = await preflight(app, '/opt', APP, 'POST').expect(204);
        expect(listOf(exact.headers['access-control-allow-methods'])).not.toContain('DELETE');
        for (const path of ['/opt/', '/OPT', '/Opt/']) {
          const res = await preflight(app, path, APP, 'POST').expect(204);
          expect(res.headers['access-control-allow-origin']).toBe(APP);
          const methods = listOf(res.headers['access-control-allow-methods']);
          // Express serves these paths with the /opt routes; Fastify serves none of them.
          if (adapter === 'express')
            expect(methods).toEqual(listOf(exact.headers['access-control-allow-methods']));
          else expect(methods).toContain('DELETE');
        }
        expect(calls.options).toBe(0);
      });

      it('the query string is ignored', async () => {
        const res = await preflight(app, '/items/1?x=1&y=/z', ADMIN, 'DELETE').expect(204);
        expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
        const refused = await preflight(app, '/items/1?x=1', PUBLIC, 'DELETE');
        expect(refused.status).toBe(403);
        const opt = await preflight(app, '/opt?a=b', APP, 'POST').expect(204);
        expect(opt.headers['access-control-allow-origin']).toBe(APP);
        expect(calls.options).toBe(0);
      });

      it('HEAD is served by the GET route', async () => {
        const res = await preflight(app, '/items/1', PUBLIC, 'HEAD', 'x-request-id').expect(204);
        expect(res.headers['access-control-allow-origin']).toBe('*');
      });

      it('an absolute-form request-target (as a proxy may forward it) is the same path', async () => {
        const send = (origin: string) =>
          rawSocket(
            port,
            `OPTIONS http://127.0.0.1:${port}/any HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
              `Origin: ${origin}\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n`,
          );
        const refused = await send(PUBLIC);
        expect(calls.all).toBe(0);
        expect(refused.status).toBe(403);
        expect(acHeaders(refused)).toEqual({});
        const allowed = await send(APP);
        expect(calls.all).toBe(0);
        expect(allowed.status).toBe(204);
        expect(allowed.headers['access-control-allow-origin']).toBe(APP);
      });

      it('the actual requests match the same way', async () => {
        if (adapter === 'express') {
          const res = await http(app).delete('/ITEMS/1/?q=1').set('Origin', ADMIN).expect(200);
          expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
          const get1 = await get(app, '/Items/1/', PUBLIC).expect(200);
          expect(get1.headers['access-control-allow-origin']).toBe('*');
        } else {
          // No Fastify route serves these paths: Nest's 404, decorated with the module defaults.
          const res = await http(app).delete('/ITEMS/1/?q=1').set('Origin', ADMIN).expect(404);
          expect(acHeaders(res)).toEqual({});
          expect(varyOf(res)).toContain('origin');
          const get1 = await get(app, '/Items/1/', PUBLIC).expect(404);
          expect(acHeaders(get1)).toEqual({});
          const defaults = await get(app, '/Items/1/', APP).expect(404);
          expect(defaults.headers['access-control-allow-origin']).toBe(APP);
          // The exact paths are served by their routes.
          const exact = await http(app).delete('/items/1?q=1').set('Origin', ADMIN).expect(200);
          expect(exact.headers['access-control-allow-origin']).toBe(ADMIN);
          const get2 = await get(app, '/items/1', PUBLIC).expect(200);
          expect(get2.headers['access-control-allow-origin']).toBe('*');
        }
      });
    });
  });

  describe('preflights never reach app guards', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp({ imports: [ProtectedAppModule] }, undefined, adapter);
    });
    afterAll(() => app.close());
    beforeEach(() => {
      for (const key of Object.keys(calls)) calls[key as keyof typeof calls] = 0;
    });

    it('a preflight without credentials is answered 204 and the 401 guard never runs', async () => {
      const res = await preflight(app, '/protected/1', APP, 'PUT', 'authorization').expect(204);
      expect(res.headers['access-control-allow-origin']).toBe(APP);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-headers']).toBe('authorization');
      expect(calls.guard).toBe(0);
    });

    it('a refused preflight is 403 (not 401) and the guard never runs', async () => {
      const res = await preflight(app, '/protected/1', OTHER, 'PUT');
      expect(res.status).toBe(403);
      expect(acHeaders(res)).toEqual({});
      expect(calls.guard).toBe(0);
    });

    it('the actual request does go through the guard', async () => {
      const denied = await http(app).put('/protected/1').set('Origin', APP).expect(401);
      expect(denied.headers['access-control-allow-origin']).toBe(APP);
      expect(calls.guard).toBe(1);
      expect(calls.protectedPut).toBe(0);
      await http(app)
        .put('/protected/1')
        .set('Origin', APP)
        .set('Authorization', 'Bearer ok')
        .expect(200, 'replaced');
      expect(calls.protectedPut).toBe(1);
    });
  });

  describe('an origin predicate on a preflight', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [CorsModule.forRoot({ origin: tenantOrigin })],
          controllers: [DocsController],
        },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());
    beforeEach(() => {
      predicate.calls = 0;
      predicate.withoutRequest = 0;
    });

    it('decides the answering policy with the request', async () => {
      const res = await preflight(app, '/docs', ACME, 'PUT').set('Host', 'acme.localhost');
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(ACME);
      expect(res.headers['access-control-max-age']).toBe('10');
      const other = await preflight(app, '/docs', ACME, 'PUT').set('Host', 'globex.localhost');
      expect(other.status).toBe(403);
      expect(acHeaders(other)).toEqual({});
    });

    it('is called once per preflight, always with the request', async () => {
      await preflight(app, '/docs', ACME, 'PUT').set('Host', 'acme.localhost').expect(204);
      expect(predicate.withoutRequest).toBe(0);
      expect(predicate.calls).toBe(1);
    });

    it('Access-Control-Allow-Methods lists the other methods its policy allows for this request', async () => {
      const res = await preflight(app, '/docs', ACME, 'PUT').set('Host', 'acme.localhost');
      expect(listOf(res.headers['access-control-allow-methods'])).toEqual(
        expect.arrayContaining(['DELETE', 'PUT']),
      );
    });
  });
});
