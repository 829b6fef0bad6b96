/**
 * The browser caches a preflight answer per URL for every method it lists, with that answer's
 * headers, credentials mode and max-age. So an answer must never list a method whose own policy
 * would refuse what is cached (found in Chromium: a PATCH preflight listing PUT let a later PUT
 * with a header PUT's policy refuses through without a preflight).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Patch, Post, Put, type INestApplication } from '@nestjs/common';
import { Cors, CorsModule } from '../../lib/index.js';
import { ADAPTERS, listOf, makeApp, preflight } from './helpers.js';

const APP = 'https://app.example';

@Controller('docs')
class DocsController {
  @Cors({ allowedHeaders: ['content-type'] })
  @Put(':id')
  replace() {}

  @Cors({ allowedHeaders: ['content-type', 'x-extra'], maxAge: 600 })
  @Patch(':id')
  patch() {}

  @Cors({ allowedHeaders: ['content-type', 'x-extra', 'x-more'] })
  @Post(':id')
  post() {}

  @Cors({ credentials: true })
  @Get(':id')
  read() {}
}

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('an answer lists only methods whose policies accept what the browser caches', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await makeApp(
        {
          imports: [CorsModule.forRoot({ origin: [APP] })],
          controllers: [DocsController],
        },
        undefined,
        adapter,
      );
    });
    afterAll(() => app.close());

    it('a PATCH answer allowing x-extra lists POST (allows it too) but not PUT (refuses it)', async () => {
      const res = await preflight(app, '/docs/1', APP, 'PATCH', 'x-extra').expect(204);
      expect(res.headers['access-control-allow-headers']).toBe('content-type, x-extra');
      const methods = listOf(res.headers['access-control-allow-methods']);
      expect(methods).toContain('PATCH');
      expect(methods).toContain('POST');
      expect(methods).not.toContain('PUT');
    });

    it('PUT with x-extra is refused by its own preflight', async () => {
      const res = await preflight(app, '/docs/1', APP, 'PUT', 'x-extra');
      expect(res.status).toBe(403);
    });

    it('a non-credentialed answer may list a credentialed route, never the reverse', async () => {
      const put = await preflight(app, '/docs/1', APP, 'PUT', 'content-type').expect(204);
      expect(listOf(put.headers['access-control-allow-methods'])).toContain('GET');
      const get = await preflight(app, '/docs/1', APP, 'GET', 'content-type').expect(204);
      expect(get.headers['access-control-allow-credentials']).toBe('true');
      expect(listOf(get.headers['access-control-allow-methods'])).toEqual(['GET']);
    });
  });
});
