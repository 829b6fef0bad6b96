/**
 * The module puts its guard on handlers through their metadata, and a controller class can serve
 * several applications in one process (test suites do this): the guard must act only in the
 * application whose module put it there.
 */
import { describe, expect, it } from '@jest/globals';
import { Controller, Get } from '@nestjs/common';
import { Cors, CorsModule } from '../../lib/index.js';
import { get, makeApp } from './helpers.js';

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

describe('the guard of one application stays out of another', () => {
  it('enforces in the app with the module, and not in a later app without it', async () => {
    const withCors = await makeApp({
      imports: [CorsModule.forRoot({ origin: [APP] })],
      controllers: [ReportsController],
    });
    await get(withCors, '/reports', EVIL).expect(403);
    await get(withCors, '/reports', APP).expect(200, 'reports');

    const withoutCors = await makeApp({ controllers: [ReportsController] });
    const res = await get(withoutCors, '/reports', EVIL).expect(200, 'reports');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();

    // The first application still enforces while both are up.
    await get(withCors, '/reports', EVIL).expect(403);
    await withoutCors.close();
    await withCors.close();
  });
});
