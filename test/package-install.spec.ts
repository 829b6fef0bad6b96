/**
 * The packed tarball, installed as a user installs it: `npm pack`, unpacked into a fresh app's
 * node_modules (its dependencies and peers linked from this repository's), then a small Nest app
 * written against the package name runs in its own Node process and answers real requests.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.cwd();
let dir: string;

/** The README quick start, in plain JS (decorators applied as functions), as a consumer's app. */
const APP = `
import 'reflect-metadata';
import { Controller, Delete, Get, Module, Put } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cors, CorsModule, CorsService } from 'nestjs-cors';
import { createRequire } from 'node:module';

class NotesController {
  list() { return []; }
  update() { return { ok: true }; }
  remove() {}
}
const method = (decorator, key) =>
  decorator(NotesController.prototype, key, Object.getOwnPropertyDescriptor(NotesController.prototype, key));
method(Get(), 'list');
method(Cors({ maxAge: 600 }), 'update');
method(Put(':id'), 'update');
method(Cors(false), 'remove');
method(Delete(':id'), 'remove');
Cors({ origin: 'https://app.example.com', credentials: true })(NotesController);
Controller('notes')(NotesController);
class AppModule {}
Module({
  imports: [CorsModule.forRoot({ origin: ['https://app.example.com', 'https://*.example.com'] })],
  controllers: [NotesController],
})(AppModule);

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const base = 'http://127.0.0.1:' + app.getHttpServer().address().port;
const ask = async (path, init) => {
  const res = await fetch(base + path, init);
  return { status: res.status, acao: res.headers.get('access-control-allow-origin'), maxAge: res.headers.get('access-control-max-age') };
};
const origin = 'https://app.example.com';
const out = {
  preflight: await ask('/notes/1', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT' } }),
  malformed: await ask('/notes/1', { method: 'PUT', headers: { origin, 'content-type': 'application/json' }, body: '{' }),
  refused: await ask('/notes', { headers: { origin: 'https://evil.example' } }),
  missing: await ask('/missing', { headers: { origin: 'https://blog.example.com' } }),
  report: app.get(CorsService).report().length,
  required: typeof createRequire(import.meta.url)('nestjs-cors').CorsModule,
};
await app.close();
console.log(JSON.stringify(out));
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nestjs-cors-install-'));
  const packed = execFileSync(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', dir],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const [{ filename }] = JSON.parse(packed) as { filename: string }[];
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, 'nestjs-cors'), { recursive: true });
  execFileSync('tar', [
    '-xzf',
    join(dir, filename),
    '-C',
    join(modules, 'nestjs-cors'),
    '--strip-components=1',
  ]);
  // Every other package (the peers, the package's own dependencies) from this repository.
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name === '.bin' || name === 'nestjs-cors' || name.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', name), join(modules, name));
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(join(dir, 'main.js'), APP);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the packed tarball, installed in a fresh app', () => {
  it('boots the quick start and answers as the README says', () => {
    const out = JSON.parse(
      execFileSync(process.execPath, ['main.js'], { cwd: dir, encoding: 'utf8' }).trim(),
    );
    expect(out).toEqual({
      preflight: { status: 204, acao: 'https://app.example.com', maxAge: '600' },
      malformed: { status: 400, acao: 'https://app.example.com', maxAge: null },
      refused: { status: 200, acao: null, maxAge: null },
      missing: { status: 404, acao: 'https://blog.example.com', maxAge: null },
      report: 3,
      required: 'function',
    });
  });
});
