/**
 * The published package: every package lib/ imports is declared, and the exports map resolves
 * for `import` and `require` (Node ≥ 20.19 can require() an ESM package). Runs against dist/,
 * which `pretest` builds.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const root = process.cwd();
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Runs `script` in a fresh Node process at the package root (a consumer's view); its output. */
function runNode(flag: string, script: string): string {
  return execFileSync(process.execPath, [flag, '-e', script], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
}

/** `@scope/name/deep/path.js` → `@scope/name`; `name/deep` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

describe('package manifest', () => {
  it('declares every package that lib/ imports as a dependency or peer dependency', () => {
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const builtins = new Set(builtinModules);
    const imported = new Set<string>();
    for (const file of sourceFiles(join(root, 'lib'))) {
      const text = readFileSync(file, 'utf8');
      for (const [, specifier] of text.matchAll(/\bfrom\s+'([^'.][^']*)'/g)) {
        if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
        imported.add(packageOf(specifier));
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    expect([...imported].filter((name) => !declared.has(name))).toEqual([]);
  });

  it('has an exports map with types and default, and exports package.json', () => {
    expect(manifest.type).toBe('module');
    expect(manifest.exports['.'].types).toBe('./dist/index.d.ts');
    expect(manifest.exports['.'].default).toBe('./dist/index.js');
    expect(manifest.exports['./package.json']).toBe('./package.json');
    expect(manifest.files).toEqual(['dist']);
  });

  it('resolves and loads with import', () => {
    const out = runNode(
      '--input-type=module',
      "const m = await import('nestjs-cors'); console.log(typeof m.CorsModule.forRoot, typeof m.Cors, typeof m.CorsPolicy.compile)",
    );
    expect(out).toBe('function function function');
  });

  it('resolves and loads with require', () => {
    const out = runNode(
      '--no-warnings',
      "const m = require('nestjs-cors'); const p = require('nestjs-cors/package.json'); console.log(typeof m.CorsModule.forRoot, p.name)",
    );
    expect(out).toBe('function nestjs-cors');
  });
});
