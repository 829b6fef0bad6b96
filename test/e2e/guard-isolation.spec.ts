/**
 * The guard is an application's own global guard, added only when a policy enforces: it never
 * touches controller metadata, so a controller class serving several applications in one process
 * (test suites do this) is enforced only where the module says so.
 */
import { describe, expect, it } from '@jest/globals';
import { Controller, Get } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import { GUARDS_METADATA } from '@nestjs/common/constants.js';
import { Cors, CorsModule } from '../../lib/index.js';
import { ADAPTERS, get, makeApp } from './helpers.js';

@Controller('notes')
class NotesController {
  @Get()
  list() {
    return 'notes';
  }
}

const APP = 'https://app.example';
const EVIL = 'https://evil.example';

@Controller('reports')
@Cors({ enforce: true })
class ReportsController {
  @Get()
  list() {
    return 'reports';
  }
}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('the guard of one application stays out of another', () => {
    it('enforces in the app with the module, and not in a later app without it', async () => {
      const withCors = await makeApp(
        { imports: [CorsModule.forRoot({ origin: [APP] })], controllers: [ReportsController] },
        undefined,
        adapter,
      );
      await get(withCors, '/reports', EVIL).expect(403);
      await get(withCors, '/reports', APP).expect(200, 'reports');

      const withoutCors = await makeApp({ controllers: [ReportsController] }, undefined, adapter);
      const res = await get(withoutCors, '/reports', EVIL).expect(200, 'reports');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();

      // The first application still enforces while both are up.
      await get(withCors, '/reports', EVIL).expect(403);
      await withoutCors.close();
      await withCors.close();
    });
  });

  describe('the guard is there only where a policy enforces', () => {
    it('no enforcing policy: no global guard, no metadata written', async () => {
      const app = await makeApp(
        { imports: [CorsModule.forRoot({ origin: [APP] })], controllers: [NotesController] },
        undefined,
        adapter,
      );
      expect(app.get(ApplicationConfig).getGlobalGuards()).toEqual([]);
      expect(Reflect.getMetadata(GUARDS_METADATA, NotesController.prototype.list)).toBeUndefined();
      await get(app, '/notes', EVIL).expect(200, 'notes');
      await app.close();
    });

    it('an enforcing policy: one global guard, still no metadata written', async () => {
      const app = await makeApp(
        { imports: [CorsModule.forRoot({ origin: [APP] })], controllers: [ReportsController] },
        undefined,
        adapter,
      );
      expect(app.get(ApplicationConfig).getGlobalGuards()).toHaveLength(1);
      expect(
        Reflect.getMetadata(GUARDS_METADATA, ReportsController.prototype.list),
      ).toBeUndefined();
      await app.close();
    });
  });
});
