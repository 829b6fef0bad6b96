// `npm start`: compiles the sample (and the library source it imports) with the project's
// TypeScript into sample/dist/, then runs it in this process. Ctrl-C stops everything.
// On Express by default; `npm start -- --fastify` (or `ADAPTER=fastify npm start`) runs the same
// app on Fastify (sample/src/main.ts reads the arguments).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));

console.log('Building the sample (tsc -p sample/tsconfig.json)…');
const build = spawnSync(process.execPath, [tsc, '-p', 'sample/tsconfig.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) {
  console.error('The sample did not compile; see the errors above.');
  process.exit(build.status ?? 1);
}

await import('./dist/sample/src/main.js');
