/**
 * The `nestjs-cors/redis` entry point (dist/, which `npm test` builds first): it resolves by the
 * package name with import and require, and the core entry loads nothing of it (an app without
 * Redis never loads ioredis or the Redis source).
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = process.cwd();
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function runNode(flag: string, script: string): string {
  return execFileSync(process.execPath, [flag, '-e', script], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
}

/** Every module file the core entry loads (relative imports followed), and the packages it names. */
function coreGraph(): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(/^\s*(?:import|export)\b[^'"]*['"]([^'"]+)['"]/gm)) {
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else packages.add(specifier);
    }
  };
  visit(join(root, 'dist/index.js'));
  return { files, packages };
}

describe('nestjs-cors/redis', () => {
  it('is an exports entry with its types, and ioredis is an optional peer', () => {
    expect(manifest.exports['./redis']).toEqual({
      types: './dist/redis/index.d.ts',
      default: './dist/redis/index.js',
    });
    expect(manifest.peerDependencies.ioredis).toBe('>=5.0.0');
    expect(manifest.peerDependenciesMeta.ioredis).toEqual({ optional: true });
    expect(manifest.dependencies.ioredis).toBeUndefined();
  });

  it('resolves by the package name with import and with require', () => {
    const imported = runNode(
      '--input-type=module',
      "const m = await import('nestjs-cors/redis'); console.log(typeof m.RedisOriginSource, Object.keys(m).join())",
    );
    expect(imported).toBe('function RedisOriginSource');
    const required = runNode(
      '--no-warnings',
      "console.log(typeof require('nestjs-cors/redis').RedisOriginSource)",
    );
    expect(required).toBe('function');
  });

  it('the core entry loads neither the Redis source nor ioredis', () => {
    const { files, packages } = coreGraph();
    expect(files.size).toBeGreaterThan(10);
    expect([...files].filter((f) => f.includes(`${join('dist', 'redis')}`))).toEqual([]);
    expect([...packages].filter((p) => p.includes('redis'))).toEqual([]);
  });

  it('the Redis source needs ioredis only for its types (it works on the client it is given)', () => {
    const text = readFileSync(join(root, 'dist/redis/redis-origin-source.js'), 'utf8');
    expect(text).not.toMatch(/from ['"]ioredis['"]/);
    const types = readFileSync(join(root, 'dist/redis/redis-origin-source.d.ts'), 'utf8');
    expect(types).toMatch(/from 'ioredis'/);
  });
});
