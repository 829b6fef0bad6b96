import { Test } from '@nestjs/testing';
import { CorsService } from 'nestjs-cors';
import { AppModule } from './app.module';

describe('AppModule with nestjs-cors (Nest 11, CommonJS)', () => {
  it('boots and merges @Cors over the module defaults, route by route', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const rows = app.get(CorsService).report();
    const row = (method: string, path: string) =>
      rows.find((r) => r.method === method && r.path === path);
    expect(row('GET', '/notes')?.policy).toMatchObject({
      origins: ['https://app.example.com'],
      credentials: true,
    });
    // Merged: the controller's origin and credentials, the route's maxAge.
    expect(row('PUT', '/notes/:id')?.policy).toMatchObject({
      origins: ['https://app.example.com'],
      credentials: true,
      maxAge: 600,
    });
    expect(row('DELETE', '/notes/:id')?.policy).toBeNull();
    await app.close();
  });
});
