/**
 * The published package: every package lib/ imports is declared, the exports map resolves for
 * `import` and `require` (Node ≥ 20.19 can require() an ESM package), and the packed file list
 * (`npm pack --dry-run`) ships what it should and nothing that points outside it. Runs against
 * dist/, which `pretest` builds.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';

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

/** The files `npm pack` would put in the tarball (no lifecycle scripts run, nothing written). */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  return pack.files.map((file) => file.path).sort();
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
    // lib/ ships too: the source maps in dist/ point to it (stack traces, "go to definition").
    expect(manifest.files).toEqual(['dist', 'lib']);
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

describe('packed file list (npm pack --dry-run)', () => {
  const files = packedFiles();
  const packed = new Set(files);

  it('ships the license, the readme, the manifest and the entry points', () => {
    for (const file of [
      'LICENSE',
      'README.md',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
    ]) {
      expect(files).toContain(file);
    }
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });

  it('ships no tests, sample, bench, build info or environment files', () => {
    const unwanted = files.filter(
      (file) =>
        /^(test|sample|bench|coverage|node_modules)\//.test(file) ||
        /(^|\/)\.env($|\.)|\.tsbuildinfo$|\.cpuprofile$/.test(file),
    );
    expect(unwanted).toEqual([]);
  });

  it('every source map it ships points only to files it ships', () => {
    const maps = files.filter((file) => file.endsWith('.map'));
    expect(maps).toEqual(expect.arrayContaining(['dist/index.js.map', 'dist/index.d.ts.map']));
    const dangling: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(readFileSync(join(root, map), 'utf8')) as {
        sources: string[];
        sourceRoot?: string;
      };
      expect(sources.length).toBeGreaterThan(0);
      for (const source of sources) {
        const target = posix.normalize(posix.join(posix.dirname(map), sourceRoot, source));
        if (!packed.has(target)) dangling.push(`${map} → ${target}`);
      }
    }
    expect(dangling).toEqual([]);
  });

  it('every sourceMappingURL in a shipped file names a map it ships', () => {
    const dangling: string[] = [];
    for (const file of files.filter((f) => /\.(js|d\.ts)$/.test(f))) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const [, url] of text.matchAll(/^\/\/# sourceMappingURL=(\S+)$/gm)) {
        const target = posix.normalize(posix.join(posix.dirname(file), url));
        if (!packed.has(target)) dangling.push(`${file} → ${target}`);
      }
    }
    expect(dangling).toEqual([]);
  });

  it('every compiled file in dist/ has its source in lib/ (no stale build output)', () => {
    const stale = files
      .filter((file) => file.startsWith('dist/') && file.endsWith('.js'))
      .filter((file) => !existsSync(join(root, 'lib', `${file.slice(5, -3)}.ts`)));
    // Left over from a file since deleted or moved in lib/: `tsc` never removes output.
    expect(stale).toEqual([]);
  });
});
