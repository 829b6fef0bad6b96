/**
 * `npm run bench` — nestjs-cors vs no CORS vs `app.enableCors()` (the `cors` package on Express,
 * @fastify/cors on Fastify) vs a raw Express static-204 floor, side by side, on the Express and
 * the Fastify adapter (issues #4, #10).
 *
 *   npm run bench                       full run (~6½ min; Express only: < 5 min)
 *   npm run bench -- --quick            indicative run (~1½ min)
 *   npm run bench -- --adapter fastify  only one adapter's configurations (a, b; c–g are Express)
 *   npm run bench -- --json out.json    also write the results as JSON (or env BENCH_JSON)
 *   npm run bench -- --tool autocannon  force the load tool (or env BENCH_TOOL); default: wrk if installed
 *   npm run bench -- --wait-idle 120    first wait (up to 120 s) until no other process uses the CPUs
 *   npm run bench -- --only a,d         only these scenarios (a–g), plus what their ratios need;
 *                                       --duration S --rounds N --connections N to change the load
 *   npm run bench -- --profile get      CPU profile of the nestjs-cors server under one load
 *                                       (get | preflight | get-10k | get-1000r | adv-acrh | adv-origin
 *                                       | adv-get-origin; --variant bare|enableCors|nestjs-cors|
 *                                       noop-use|floor, or one of those with -fastify, e.g.
 *                                       nestjs-cors-fastify; --compare bare (or variant:load, e.g.
 *                                       nestjs-cors:get): also profile that and print where the extra
 *                                       µs per request go; --seconds N)
 *
 * Method (field notes §6): every server is its own process, pinned with `taskset -c 0`; the load
 * generator is pinned to core 1; all servers stay up together and the configurations alternate
 * round by round (order reversed every other round); a warm-up round is discarded; the table shows
 * medians and the spread ((max − min) / median) of the measured rounds; ratios are medians of the
 * per-round ratios. Readiness is polled, and each configuration is probed once (status and CORS
 * headers) before it is measured. During each run the server's own CPU use is read from /proc: a
 * saturated server uses ~100% of its core, less means something else took the core.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  allowedOrigin,
  hitPath,
  parseVariant,
  READY_PATH,
  variantName,
  VARIANTS as APP_VARIANTS,
} from './apps/config.js';
import { parseArgs, usageError } from './lib/args.js';
import {
  formatAllocations,
  formatSummary,
  summarize,
  summarizeAllocations,
} from './lib/cpuprofile.js';
import { closeLoad, hasCommand, pickTool, runLoad } from './lib/load.js';
import { summary } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BENCH = join(ROOT, 'bench');
const SCRATCH = join(BENCH, 'dist');
const SERVER = join(BENCH, 'apps', 'server.js');

const USAGE = `
Usage: npm run bench -- [options]

nestjs-cors vs no CORS vs app.enableCors() (the cors package; @fastify/cors on Fastify) vs a raw
Express floor, side by side, on Express and Fastify. Prints a table and the target ratios of both
adapters side by side; writes JSON to bench/dist/bench-results.json (or --json FILE). See
bench/README.md.

Run:
  --quick                 indicative run, ~1½ min (default: full run, ~6½ min)
  --only LIST             only these scenarios, comma-separated, a–g (e.g. --only b,e)
  --adapter A             express | fastify | both (default both): the configurations of (a) and
                          (b) on that adapter; c–g run on Express only
  --json FILE             write the JSON there instead (or env BENCH_JSON)
  --tool wrk|autocannon   the load tool (or env BENCH_TOOL); default: wrk if installed
  --wait-idle S           first wait up to S seconds until no other process uses the CPUs
  --build                 rebuild dist/ first even when it is up to date

Load:
  --duration S            seconds per measured run (default 3, quick 1)
  --rounds N              measured rounds (default 4, quick 2)
  --connections N         concurrent connections (default 50)
  --boot-samples N        boot samples per variant, scenario f (default 7, quick 2)
  --burst S               seconds of unmeasured load right before each measured run (default 0)
  --no-freeze             keep the servers not being measured running (default: SIGSTOP them)

Profile (CPU profile of one server under one load, then exit):
  --profile LOAD          get | preflight | get-10k | preflight-10k | get-1000r | adv-acrh
                          | adv-origin | adv-get-origin
  --variant V             bare | enableCors | nestjs-cors | noop-use | floor (default nestjs-cors),
                          or the Fastify app of one with -fastify: bare-fastify,
                          enableCors-fastify, nestjs-cors-fastify, noop-use-fastify,
                          floor-fastify (noop-use: bare + a no-op app.use() middleware;
                          floor-fastify: static CORS headers in the first onRequest hook)
  --compare V[:LOAD]      also profile variant V (under LOAD) and print where the extra µs go
  --seconds N             seconds of profiled load (default 10)
  --top N                 functions listed (default 20)
  --alloc                 also sample allocations (bytes/request per function and package) on
                          a second run of each server without the CPU profiler
                          profiles go to bench/dist/profiles/

  -h, --help              print this and exit

Examples:
  npm run bench -- --quick --only b
  npm run bench -- --profile get --compare bare
  npm run bench -- --profile get --variant nestjs-cors-fastify --compare bare-fastify
`;

const VARIANTS = [...APP_VARIANTS, 'floor'];
const args = parseArgs(process.argv.slice(2), {
  usage: USAGE,
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    adapter: { type: 'string', choices: ['express', 'fastify', 'both'] },
    json: { type: 'string' },
    tool: { type: 'string', choices: ['wrk', 'autocannon'] },
    'wait-idle': { type: 'number', min: 0 },
    build: { type: 'boolean' },
    duration: { type: 'number', integer: true, min: 1 },
    rounds: { type: 'number', integer: true, min: 1 },
    connections: { type: 'number', integer: true, min: 1 },
    'boot-samples': { type: 'number', integer: true, min: 1 },
    burst: { type: 'number', min: 0 },
    'no-freeze': { type: 'boolean' },
    profile: { type: 'string' },
    variant: { type: 'string', choices: VARIANTS },
    compare: { type: 'string' },
    seconds: { type: 'number', integer: true, min: 1 },
    top: { type: 'number', integer: true, min: 1 },
    alloc: { type: 'boolean' },
  },
});
for (const name of ['variant', 'compare', 'seconds', 'top', 'alloc']) {
  if (args[name] !== undefined && args.profile === undefined) {
    usageError(`run.js: --${name} applies only with --profile`);
  }
}
if (args.adapter !== undefined && args.profile !== undefined) {
  usageError('run.js: --adapter does not apply with --profile (pick the server with --variant)');
}
const quick = args.quick === true;
const jsonPath = args.json ?? process.env.BENCH_JSON;
/** `--only a,d`: just these scenarios (and the ones their ratios need). */
const only = args.only === undefined ? null : new Set(args.only.split(','));
const unknownScenarios = [...(only ?? [])].filter((id) => !/^[a-g]$/.test(id));
if (unknownScenarios.length > 0) {
  usageError(
    `run.js: --only takes scenarios a–g, comma-separated; unknown: ${unknownScenarios.map((id) => `'${id}'`).join(', ')}`,
  );
}
const wants = (scenario) => only === null || only.has(scenario);
/** `--adapter express|fastify`: that adapter's configurations only (default both). */
const adapterArg = args.adapter ?? 'both';
const wantsAdapter = (adapter) => adapterArg === 'both' || adapterArg === adapter;
/** c–g run on Express only. */
const wantsExpressOnly = (scenario) => wants(scenario) && wantsAdapter('express');
if (adapterArg === 'fastify' && only !== null && !only.has('a') && !only.has('b')) {
  usageError(
    `run.js: --adapter fastify runs scenarios a and b only (c–g are Express only); --only ${args.only} has neither`,
  );
}
const settings = {
  quick,
  duration: args.duration ?? (quick ? 1 : 3), // seconds per run (wrk: whole seconds)
  rounds: args.rounds ?? (quick ? 2 : 4), // measured rounds, after one discarded round
  discardRound: !quick, // full: a whole sequential round is discarded; quick: a parallel warm-up only
  connections: args.connections ?? 50,
  bootSamples: args['boot-samples'] ?? (quick ? 2 : 7),
  // Seconds of unmeasured load on the same server right before each measured run: a server that
  // idled while the others were measured is otherwise slower at first (heap shrunk, caches cold).
  burst: args.burst ?? 0,
  // SIGSTOP the servers not being measured (--no-freeze to keep them all running).
  freeze: args['no-freeze'] !== true,
};

const log = (msg) => process.stderr.write(`${msg}\n`);
const t0 = Date.now();
let waitedMs = 0; // spent in --wait-idle, not counted in the run's time
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;

// ---------------------------------------------------------------------------------------------
// Environment

const cpus = os.cpus();
const canPin = hasCommand('taskset') && cpus.length >= 2 && process.platform === 'linux';
const SERVER_PIN = canPin ? ['taskset', '-c', '0'] : [];
const LOAD_PIN = canPin ? ['taskset', '-c', '1'] : [];

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'))
      .version;
  } catch {
    return '?';
  }
}

/** Busy share of each CPU over `ms` (from /proc/stat), or null off Linux. */
async function cpuBusy(ms) {
  const read = () => {
    try {
      return readFileSync('/proc/stat', 'utf8')
        .split('\n')
        .filter((l) => /^cpu\d/.test(l))
        .map((l) => {
          const v = l.trim().split(/\s+/).slice(1).map(Number);
          const idle = v[3] + (v[4] ?? 0);
          return { idle, total: v.reduce((a, b) => a + b, 0) };
        });
    } catch {
      return null;
    }
  };
  const a = read();
  await sleep(ms);
  const b = read();
  if (a === null || b === null) return null;
  return b.map((x, i) => {
    const total = x.total - a[i].total;
    return total > 0 ? 1 - (x.idle - a[i].idle) / total : 0;
  });
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU seconds used so far by a process (utime + stime), or null. */
function processCpu(pid) {
  // schedstat: ns on CPU per thread (all of the process's threads: JS, GC helpers, libuv).
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* thread gone */
      }
    }
    if (ns > 0) return ns / 1e9;
  } catch {
    /* no schedstat: fall back to utime + stime */
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

function processRssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Build

function newestMtime(dir, ext) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (entry.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const index = join(ROOT, 'dist', 'index.js');
  const fresh =
    existsSync(index) &&
    statSync(index).mtimeMs >= newestMtime(join(ROOT, 'lib'), '.ts') &&
    newestMtime(join(ROOT, 'dist'), '.js') >= newestMtime(join(ROOT, 'lib'), '.ts');
  if (fresh && args.build !== true) return false;
  log('building dist/ (npm run build) ...');
  const r = spawnSync('npm', ['run', 'build'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error('npm run build failed');
  return true;
}

// ---------------------------------------------------------------------------------------------
// Processes

const children = new Set();
function killAll() {
  closeLoad();
  for (const child of children) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs `node script args` pinned to core 0 and returns its stdout parsed as JSON. */
function runNodeJson(script, scriptArgs, nodeFlags = []) {
  const [cmd, ...pre] = [...SERVER_PIN, process.execPath];
  const r = spawnSync(cmd, [...pre, ...nodeFlags, script, ...scriptArgs], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${relative(ROOT, script)} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

function httpRequest(port, { method, path, headers }, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers, agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function startServer(spec, nodeFlags = [], { pin = true, extraArgs = [] } = {}) {
  const port = await freePort();
  const [cmd, ...pre] = [...(pin ? SERVER_PIN : []), process.execPath];
  const argv = [
    ...pre,
    ...nodeFlags,
    SERVER,
    '--variant',
    spec.variant,
    '--routes',
    String(spec.routes),
    '--origins',
    String(spec.origins),
    '--port',
    String(port),
    ...extraArgs,
  ];
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  child.on('exit', () => {
    exited = true;
    children.delete(child);
  });
  // Poll for readiness.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`server ${spec.id} exited:\n${stderr}`);
    try {
      const r = await httpRequest(port, { method: 'GET', path: READY_PATH, headers: {} }, 500);
      if (r.status === 200) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline)
      throw new Error(`server ${spec.id} not ready after 60 s:\n${stderr}`);
    await sleep(25);
  }
  return { ...spec, port, child, pid: child.pid, stderr: () => stderr };
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGCONT'); // a frozen server handles SIGTERM only once it runs again
    server.child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// What is measured

/**
 * One server per load configuration (the three adversarial loads share one): each process's JIT
 * then only ever sees its own kind of request, the same for every variant.
 */
const SERVERS = [
  { id: 'a/bare', variant: 'bare', routes: 10, origins: 10 },
  { id: 'a/enableCors', variant: 'enableCors', routes: 10, origins: 10 },
  { id: 'a/nestjs-cors', variant: 'nestjs-cors', routes: 10, origins: 10 },
  { id: 'a/bare-fastify', variant: 'bare-fastify', routes: 10, origins: 10 },
  { id: 'a/nestjs-cors-fastify', variant: 'nestjs-cors-fastify', routes: 10, origins: 10 },
  { id: 'a/enableCors-fastify', variant: 'enableCors-fastify', routes: 10, origins: 10 },
  { id: 'a/noop-use-fastify', variant: 'noop-use-fastify', routes: 10, origins: 10 },
  { id: 'a/floor-fastify', variant: 'floor-fastify', routes: 10, origins: 10 },
  { id: 'b/enableCors', variant: 'enableCors', routes: 10, origins: 10 },
  { id: 'b/nestjs-cors', variant: 'nestjs-cors', routes: 10, origins: 10 },
  { id: 'b/floor', variant: 'floor', routes: 10, origins: 10 },
  { id: 'b/enableCors-fastify', variant: 'enableCors-fastify', routes: 10, origins: 10 },
  { id: 'b/nestjs-cors-fastify', variant: 'nestjs-cors-fastify', routes: 10, origins: 10 },
  { id: 'b/floor-fastify', variant: 'floor-fastify', routes: 10, origins: 10 },
  { id: 'c/enableCors@10k', variant: 'enableCors', routes: 10, origins: 10_000 },
  { id: 'c/nestjs-cors@10k', variant: 'nestjs-cors', routes: 10, origins: 10_000 },
  { id: 'd/bare@1000r', variant: 'bare', routes: 1000, origins: 10 },
  { id: 'd/nestjs-cors@1000r', variant: 'nestjs-cors', routes: 1000, origins: 10 },
  { id: 'e/nestjs-cors', variant: 'nestjs-cors', routes: 10, origins: 10 },
];

function namesList(bytes) {
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += `${i === 0 ? '' : ', '}x-custom-header-${i}`;
  return s.slice(0, bytes);
}
const ACRH_8K = namesList(8192);
const ORIGIN_5K = `https://${'a'.repeat(5120 - 'https://.example.com'.length)}.example.com`;

const get = (server) => ({
  method: 'GET',
  path: hitPath(server.routes),
  headers: { Origin: allowedOrigin(server.origins) },
});
const preflight = (server, origin = allowedOrigin(server.origins), acrh = 'content-type') => ({
  method: 'OPTIONS',
  path: hitPath(server.routes),
  headers: {
    Origin: origin,
    'Access-Control-Request-Method': 'PUT',
    'Access-Control-Request-Headers': acrh,
  },
});

/** Each load configuration: a server, a request, what its answer must look like. */
const CONFIGS = [
  { id: 'a/bare', scenario: 'a', server: 'a/bare', req: get, expect: { status: 200, acao: false } },
  {
    id: 'a/enableCors',
    scenario: 'a',
    server: 'a/enableCors',
    req: get,
    expect: { status: 200, acao: true },
  },
  {
    id: 'a/nestjs-cors',
    scenario: 'a',
    server: 'a/nestjs-cors',
    req: get,
    expect: { status: 200, acao: true },
  },
  {
    id: 'a/bare-fastify',
    scenario: 'a',
    server: 'a/bare-fastify',
    req: get,
    expect: { status: 200, acao: false },
  },
  {
    id: 'a/nestjs-cors-fastify',
    scenario: 'a',
    server: 'a/nestjs-cors-fastify',
    req: get,
    expect: { status: 200, acao: true },
  },
  {
    id: 'a/enableCors-fastify',
    scenario: 'a',
    server: 'a/enableCors-fastify',
    req: get,
    expect: { status: 200, acao: true },
  },
  {
    id: 'a/noop-use-fastify',
    scenario: 'a',
    server: 'a/noop-use-fastify',
    req: get,
    expect: { status: 200, acao: false },
  },
  {
    id: 'a/floor-fastify',
    scenario: 'a',
    server: 'a/floor-fastify',
    req: get,
    expect: { status: 200, acao: true },
  },
  {
    id: 'b/enableCors',
    scenario: 'b',
    server: 'b/enableCors',
    req: (s) => preflight(s),
    expect: { status: 204, acao: true },
  },
  {
    id: 'b/nestjs-cors',
    scenario: 'b',
    server: 'b/nestjs-cors',
    req: (s) => preflight(s),
    expect: { status: 204, acao: true },
  },
  {
    id: 'b/floor',
    scenario: 'b',
    server: 'b/floor',
    req: (s) => preflight(s),
    expect: { status: 204, acao: true },
  },
  {
    id: 'b/enableCors-fastify',
    scenario: 'b',
    server: 'b/enableCors-fastify',
    req: (s) => preflight(s),
    expect: { status: 204, acao: true },
  },
  {
    id: 'b/nestjs-cors-fastify',
    scenario: 'b',
    server: 'b/nestjs-cors-fastify',
    req: (s) => preflight(s),
    expect: { status: 204, acao: true },
  },
  {
    id: 'b/floor-fastify',
    scenario: 'b',
    server: 'b/floor-fastify',
    req: (s) => preflight(s),
    expect: { status: 204, acao: true },
  },
  {
    id: 'c/enableCors@10k',
    scenario: 'c',
    server: 'c/enableCors@10k',
    req: get,
    expect: { status: 200, acao: true },
  },
  {
    id: 'c/nestjs-cors@10k',
    scenario: 'c',
    server: 'c/nestjs-cors@10k',
    req: get,
    expect: { status: 200, acao: true },
  },
  {
    id: 'd/bare@1000r',
    scenario: 'd',
    server: 'd/bare@1000r',
    req: get,
    expect: { status: 200, acao: false },
  },
  {
    id: 'd/nestjs-cors@1000r',
    scenario: 'd',
    server: 'd/nestjs-cors@1000r',
    req: get,
    expect: { status: 200, acao: true },
  },
  {
    id: 'e/acrh-8k',
    scenario: 'e',
    server: 'e/nestjs-cors',
    req: (s) => preflight(s, undefined, ACRH_8K),
    expect: { status: 403, acao: false },
  },
  {
    id: 'e/origin-5k',
    scenario: 'e',
    server: 'e/nestjs-cors',
    req: (s) => preflight(s, ORIGIN_5K),
    expect: { status: 403, acao: false },
  },
  {
    id: 'e/get-origin-5k',
    scenario: 'e',
    server: 'e/nestjs-cors',
    req: (s) => ({ ...get(s), headers: { Origin: ORIGIN_5K } }),
    expect: { status: 200, acao: false },
  },
];

/** For --profile: the load of each name (on the server of `--variant`, default nestjs-cors). */
const PROFILES = {
  get: { routes: 10, origins: 10, req: get },
  preflight: { routes: 10, origins: 10, req: (s) => preflight(s) },
  'get-10k': { routes: 10, origins: 10_000, req: get },
  'preflight-10k': { routes: 10, origins: 10_000, req: (s) => preflight(s) },
  'get-1000r': { routes: 1000, origins: 10, req: get },
  'adv-acrh': { routes: 10, origins: 10, req: (s) => preflight(s, undefined, ACRH_8K) },
  'adv-origin': { routes: 10, origins: 10, req: (s) => preflight(s, ORIGIN_5K) },
  'adv-get-origin': {
    routes: 10,
    origins: 10,
    req: (s) => ({ ...get(s), headers: { Origin: ORIGIN_5K } }),
  },
};

// Checked before anything starts (a usage error exits 2).
if (args.profile !== undefined && !Object.hasOwn(PROFILES, args.profile)) {
  usageError(
    `run.js: --profile must be one of ${Object.keys(PROFILES).join(', ')}, got '${args.profile}'`,
  );
}
if (args.compare !== undefined) {
  const [otherVariant, otherLoad = args.profile] = args.compare.split(':');
  if (!VARIANTS.includes(otherVariant) || !Object.hasOwn(PROFILES, otherLoad)) {
    usageError(
      `run.js: --compare takes VARIANT or VARIANT:LOAD (variants: ${VARIANTS.join(', ')}; loads: ${Object.keys(PROFILES).join(', ')}), got '${args.compare}'`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Load rounds

/**
 * SIGSTOP every server but `active` (SIGCONT it): an idle server's own work (GC, memory reducer
 * after its load stopped, timers) then cannot run on core 0 while another one is measured.
 */
function freezeAllBut(servers, active) {
  for (const s of servers) {
    if (s.child.exitCode !== null) continue;
    try {
      s.child.kill(s === active || active === null ? 'SIGCONT' : 'SIGSTOP');
    } catch {
      /* gone */
    }
  }
}

async function loadOnce(tool, server, req, duration) {
  const cpuBefore = processCpu(server.pid);
  const wallBefore = process.hrtime.bigint();
  const r = await runLoad(tool, {
    url: `http://127.0.0.1:${server.port}${req.path}`,
    method: req.method,
    headers: req.headers,
    duration,
    connections: settings.connections,
    pin: LOAD_PIN,
  });
  const wall = Number(process.hrtime.bigint() - wallBefore) / 1e9;
  const cpuAfter = processCpu(server.pid);
  // The tool runs ~`duration` of its wall time at full load; startup is a few ms.
  r.serverCpu =
    cpuBefore === null || cpuAfter === null
      ? null
      : (cpuAfter - cpuBefore) / Math.min(wall, duration);
  // Server CPU per request: unlike req/s, barely moved by other processes taking the cores.
  r.cpuUsPerReq =
    cpuBefore === null || cpuAfter === null || !(r.requests > 0)
      ? null
      : ((cpuAfter - cpuBefore) * 1e6) / r.requests;
  return r;
}

async function probe(server, req, expect) {
  const r = await httpRequest(server.port, req);
  const acao = r.headers['access-control-allow-origin'] !== undefined;
  const ok = r.status === expect.status && acao === expect.acao;
  return {
    ok,
    status: r.status,
    acao,
    note: ok
      ? ''
      : `expected ${expect.status}${expect.acao ? ' with' : ' without'} ACAO, got ${r.status}${acao ? ' with' : ' without'} ACAO`,
  };
}

/** A saturated server uses its whole core; below this share, a run counts as disturbed. */
const CPU_OK = 0.9;
const retryBudget = { left: 0, used: [], deadline: 0 };

/** Waits (up to `seconds`) until no CPU is busier than 15% (our servers idle meanwhile). */
async function waitForIdle(seconds) {
  const deadline = Date.now() + seconds * 1000;
  let busy = await cpuBusy(300);
  while (busy && Math.max(...busy) > 0.15 && Date.now() < deadline) {
    await sleep(1000);
    busy = await cpuBusy(500);
  }
  return busy;
}

async function loadBench(tool) {
  const servers = {};
  const adapterOf = (c) =>
    parseVariant(SERVERS.find((spec) => spec.id === c.server).variant).adapter;
  // (c) and (d) compare with the Express configurations of (a).
  const needed = CONFIGS.filter(
    (c) =>
      (wants(c.scenario) && wantsAdapter(adapterOf(c))) ||
      (c.scenario === 'a' &&
        adapterOf(c) === 'express' &&
        (wantsExpressOnly('c') || wantsExpressOnly('d'))),
  );
  if (needed.length === 0) return undefined;
  retryBudget.left = quick ? 4 : 20;
  // Retries stop where they would push the run past its time: per configuration ~2.6 s (quick) or
  // ~16.5 s (full: 5 rounds of 3 s), plus boot, micro and warm-up (all 21 configurations: ~73 s
  // quick, ~6.9 min full; Express only, 13: 52 s, 4.75 min).
  retryBudget.deadline =
    t0 + waitedMs + (quick ? 18 + needed.length * 2.6 : 70 + needed.length * 16.5) * 1000;
  const specs = SERVERS.filter((spec) => needed.some((c) => c.server === spec.id));
  log(`[${elapsed()}] starting ${specs.length} servers (pinned: ${canPin ? 'core 0' : 'no'}) ...`);
  // Boot them on both cores at once, then pin every thread of each to core 0.
  const started = await Promise.all(specs.map((spec) => startServer(spec, [], { pin: false })));
  for (const server of started) {
    servers[server.id] = server;
    if (canPin)
      spawnSync('taskset', ['-a', '-p', '-c', '0', String(server.pid)], { stdio: 'ignore' });
  }
  const configs = needed.map((c) => ({
    ...c,
    srv: servers[c.server],
    request: c.req(servers[c.server]),
  }));
  for (const c of configs) c.probe = await probe(c.srv, c.request, c.expect);
  const bad = configs.filter((c) => !c.probe.ok);
  for (const c of bad) log(`  PROBE FAILED ${c.id}: ${c.probe.note}`);

  // Warm-up: every configuration briefly, in parallel batches (JIT, caches, connections).
  log(`[${elapsed()}] warm-up ...`);
  // Quick: threes, so each server gets ~0.3 s of CPU (its JIT warm) before the first measured round.
  const batch = quick ? 3 : Math.ceil(configs.length / 2);
  for (let i = 0; i < configs.length; i += batch) {
    await Promise.all(configs.slice(i, i + batch).map((c) => loadOnce(tool, c.srv, c.request, 1)));
  }
  const rssStart = servers['e/nestjs-cors'] ? processRssMb(servers['e/nestjs-cors'].pid) : null;

  const totalRounds = settings.rounds + (settings.discardRound ? 1 : 0);
  const runs = Object.fromEntries(configs.map((c) => [c.id, []]));
  let runsLeft = totalRounds * configs.length;
  for (let round = 0; round < totalRounds; round++) {
    const discarded = settings.discardRound && round === 0;
    log(`[${elapsed()}] round ${round + 1}/${totalRounds}${discarded ? ' (discarded)' : ''} ...`);
    const order = round % 2 === 0 ? configs : [...configs].reverse();
    for (const c of order) {
      runsLeft--;
      if (settings.freeze) freezeAllBut(Object.values(servers), c.srv);
      if (settings.burst > 0) await loadOnce(tool, c.srv, c.request, settings.burst);
      let r = await loadOnce(tool, c.srv, c.request, settings.duration);
      // A disturbed run (the server did not have its core) is redone, within a budget.
      let attempts = 1;
      while (
        !discarded &&
        r.serverCpu !== null &&
        r.serverCpu < CPU_OK &&
        retryBudget.left > 0 &&
        // only while the runs still to do fit in the time budget
        Date.now() + ((runsLeft + 1) * (settings.duration + 0.2) + (quick ? 1 : 5)) * 1000 <
          retryBudget.deadline
      ) {
        retryBudget.left--;
        retryBudget.used.push(c.id);
        log(`  ${c.id}: server had ${(r.serverCpu * 100).toFixed(0)}% of its core; retrying`);
        await waitForIdle(quick ? 1 : 5);
        r = await loadOnce(tool, c.srv, c.request, settings.duration);
        attempts++;
      }
      r.attempts = attempts;
      if (!discarded) runs[c.id].push(r);
    }
  }
  freezeAllBut(Object.values(servers), null);
  const rssEnd = servers['e/nestjs-cors'] ? processRssMb(servers['e/nestjs-cors'].pid) : null;
  await Promise.all(Object.values(servers).map(stopServer));
  const results = {};
  for (const c of configs) {
    const rs = runs[c.id];
    results[c.id] = {
      scenario: c.scenario,
      server: c.server,
      variant: c.srv.variant,
      routes: c.srv.routes,
      origins: c.srv.origins,
      request: {
        method: c.request.method,
        path: c.request.path,
        headers: Object.fromEntries(
          Object.entries(c.request.headers).map(([k, v]) => [
            k,
            v.length > 80 ? `<${v.length} bytes>` : v,
          ]),
        ),
      },
      probe: c.probe,
      rps: summary(rs.map((r) => r.rps)),
      rounds: rs.map((r) => r.rps),
      requests: rs.reduce((a, r) => a + r.requests, 0),
      non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      serverCpu: rs.map((r) => r.serverCpu),
      cpuUsPerReq: summary(rs.map((r) => r.cpuUsPerReq).filter((v) => v !== null)),
      cpuRounds: rs.map((r) => r.cpuUsPerReq),
      attempts: rs.map((r) => r.attempts),
    };
    // What the load tool saw must match the probe: all 2xx, or all non-2xx for a 403.
    const res = results[c.id];
    const want = c.expect.status >= 200 && c.expect.status < 300 ? 0 : res.requests;
    res.loadOk = res.non2xx === want && res.errors === 0;
    res.loadNote = res.loadOk
      ? ''
      : `load saw ${res.non2xx}/${res.requests} non-2xx (expected ${want}), ${res.errors} socket errors`;
  }
  return {
    results,
    rss: { server: 'e/nestjs-cors', afterWarmupMb: rssStart, endMb: rssEnd },
    retried: retryBudget.used,
  };
}

// ---------------------------------------------------------------------------------------------
// Boot (f) and micro (g, e)

function bootBench() {
  const variants = ['bare', 'nestjs-cors', 'enableCors'];
  const samples = Object.fromEntries(variants.map((v) => [v, []]));
  for (let i = 0; i < settings.bootSamples; i++) {
    for (const v of i % 2 === 0 ? variants : [...variants].reverse()) {
      samples[v].push(runNodeJson(join(BENCH, 'boot.js'), ['--variant', v, '--routes', '1000']).ms);
    }
  }
  const per = Object.fromEntries(variants.map((v) => [v, summary(samples[v])]));
  // Paired per-sample differences (same index ran back to back).
  const diffs = samples['nestjs-cors'].map((ms, i) => ms - samples.bare[i]);
  return { routes: 1000, samples, ...per, moduleCostMs: summary(diffs) };
}

function microBench() {
  return runNodeJson(join(BENCH, 'micro.js'), quick ? ['--quick'] : [], ['--expose-gc']);
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmtPct = (n) => (Number.isFinite(n) ? `${n.toFixed(1)}%` : 'n/a');
const fmtRatio = (r) =>
  r.n > 1
    ? `${r.median.toFixed(3)} [${r.min.toFixed(3)}–${r.max.toFixed(3)}]`
    : r.median.toFixed(3);

/** Per-round ratio a/b of req/s (rounds alternate, so each pair ran back to back). */
function pairedRatio(results, a, b) {
  const ra = results[a].rounds;
  const rb = results[b].rounds;
  return summary(ra.map((v, i) => v / rb[i]));
}

/** The same ratio from server CPU per request (b/a: > 1 means a is cheaper), per round. */
function pairedCpuRatio(results, a, b) {
  const ca = results[a].cpuRounds;
  const cb = results[b].cpuRounds;
  const v = ca.map((x, i) => (x === null || cb[i] === null ? null : cb[i] / x));
  return v.includes(null) ? null : summary(v);
}

function verdict(value, op, target) {
  const pass = op === '>=' ? value >= target : op === '<' ? value < target : value <= target;
  return pass ? 'PASS' : 'MISS';
}

function noiseNote(r, target) {
  if (r.n < 2) return '';
  return r.min < target && r.max >= target ? ' (within noise)' : '';
}

const COLUMNS = [
  'Scenario',
  'Variant / ratio',
  'Result',
  'Spread',
  'CPU/req',
  'Ratio (req/s) [range] · CPU-based',
  'Target',
  'Verdict',
];

function buildReport(load, boot, micro) {
  const rows = [];
  const targets = [];
  const R = load?.results;
  const has = (...ids) => R !== undefined && ids.every((id) => R[id] !== undefined);
  const row = (
    scenario,
    label,
    { result = '', spread = '', cpu = '', ratio = '', target = '', verdict: v = '' } = {},
  ) => rows.push([scenario, label, result, spread, cpu, ratio, target, v]);
  const check = (id) =>
    !R[id].probe.ok
      ? `PROBE FAILED: ${R[id].probe.note}`
      : !R[id].loadOk
        ? `LOAD CHECK FAILED: ${R[id].loadNote}`
        : '';
  const addValue = (scenario, label, id, note = '') =>
    row(scenario, label, {
      result: `${fmtInt(R[id].rps.median)} req/s`,
      spread: fmtPct(R[id].rps.spreadPct),
      cpu: Number.isFinite(R[id].cpuUsPerReq.median)
        ? `${R[id].cpuUsPerReq.median.toFixed(1)} µs`
        : 'n/a',
      ratio: check(id) || note,
    });
  const addTarget = (scenario, label, shown, op, target, pass, adapter = 'express') => {
    const t = `${{ '>=': '≥ ', '<=': '≤ ', '<': '< ', '=': '' }[op]}${target}`;
    row(scenario, label, { ratio: shown, target: t, verdict: pass });
    targets.push({ scenario, adapter, label, value: shown, target: t, verdict: pass });
  };
  const addInfo = (scenario, label, shown) =>
    row(scenario, label, { ratio: shown, target: 'info' });
  /**
   * The paired ratio a/b of req/s, with the CPU-based ratio beside it, and against `target` (if
   * any) its verdict (and the CPU-based verdict when it differs).
   */
  const ratioOf = (a, b, target) => {
    const r = pairedRatio(R, a, b);
    const c = pairedCpuRatio(R, a, b);
    const shown = `${fmtRatio(r)}${c ? ` · ${c.median.toFixed(3)}` : ''}`;
    if (target === undefined) return { rps: r, cpu: c, shown, verdict: 'info' };
    const v = verdict(r.median, '>=', target);
    const cv = c ? verdict(c.median, '>=', target) : v;
    const note = cv !== v ? ` (CPU-based: ${cv})` : noiseNote(r, target);
    return { rps: r, cpu: c, shown, verdict: `${v}${note}` };
  };
  /** A req/s ratio target, with the CPU-based ratio beside it (and its verdict when it differs). */
  const ratioTarget = (scenario, label, a, b, target, adapter = 'express') => {
    const x = ratioOf(a, b, target);
    addTarget(scenario, label, x.shown, '>=', target.toFixed(2), x.verdict, adapter);
  };
  /** Server CPU µs per request of `a` over `b`: median of the per-round differences. */
  const cpuOver = (a, b) => {
    const ca = R[a].cpuRounds;
    const cb = R[b].cpuRounds;
    if (ca.some((x) => x === null) || cb.some((x) => x === null)) return null;
    return summary(ca.map((x, i) => x - cb[i]));
  };
  const fmtUs = (x) => (x === null ? 'n/a' : `${x.median >= 0 ? '+' : ''}${x.median.toFixed(1)}`);

  // (a) and (b) on each adapter: the same rows, targets and side-by-side ratios.
  const ADAPTER_LABEL = { express: 'Express', fastify: 'Fastify' };
  const id = (scenario, kind, adapter) => `${scenario}/${variantName(kind, adapter)}`;
  const hasA = (ad) => has(...['bare', 'enableCors', 'nestjs-cors'].map((k) => id('a', k, ad)));
  const hasB = (ad) =>
    has(id('b', 'enableCors', ad), id('b', 'nestjs-cors', ad)) &&
    (ad !== 'express' || has('b/floor'));
  for (const ad of ['express', 'fastify']) {
    const on = ad === 'express' ? '' : ` — ${ADAPTER_LABEL[ad]}`;
    if (hasA(ad)) {
      const a = `(a) GET, allowed origin${on}`;
      addValue(a, 'bare (no CORS)', id('a', 'bare', ad));
      addValue(
        a,
        ad === 'fastify' ? 'enableCors (@fastify/cors)' : 'enableCors',
        id('a', 'enableCors', ad),
      );
      addValue(a, 'nestjs-cors', id('a', 'nestjs-cors', ad));
      const noop = id('a', 'noop-use', ad);
      if (has(noop)) addValue(a, 'bare + no-op app.use() (middie)', noop);
      const floorA = id('a', 'floor', ad);
      if (ad === 'fastify' && has(floorA)) {
        addValue(a, 'static CORS headers in the first onRequest hook (floor)', floorA);
      }
      ratioTarget(
        a,
        'nestjs-cors / bare',
        id('a', 'nestjs-cors', ad),
        id('a', 'bare', ad),
        0.97,
        ad,
      );
      ratioTarget(
        a,
        'nestjs-cors / enableCors',
        id('a', 'nestjs-cors', ad),
        id('a', 'enableCors', ad),
        1,
        ad,
      );
      if (has(noop)) {
        addInfo(
          a,
          'no-op app.use() / bare (middie alone)',
          ratioOf(noop, id('a', 'bare', ad)).shown,
        );
      }
      if (ad === 'fastify' && has(floorA)) {
        addInfo(a, 'floor / bare (the cheapest CORS)', ratioOf(floorA, id('a', 'bare', ad)).shown);
        addInfo(a, 'nestjs-cors / floor', ratioOf(id('a', 'nestjs-cors', ad), floorA).shown);
      }
      const over = (k) => fmtUs(cpuOver(id('a', k, ad), id('a', 'bare', ad)));
      const extra = [
        ...(has(noop) ? [['no-op use()', 'noop-use']] : []),
        ...(ad === 'fastify' && has(floorA) ? [['floor', 'floor']] : []),
      ];
      addInfo(
        a,
        `CPU µs/req over bare: nestjs-cors, enableCors${extra.map(([l]) => `, ${l}`).join('')}`,
        `${over('nestjs-cors')}, ${over('enableCors')}${extra.map(([, k]) => `, ${over(k)}`).join('')}`,
      );
    }
    if (hasB(ad)) {
      const b = `(b) preflight (PUT, content-type)${on}`;
      addValue(
        b,
        ad === 'fastify' ? 'enableCors (@fastify/cors)' : 'enableCors',
        id('b', 'enableCors', ad),
      );
      addValue(b, 'nestjs-cors', id('b', 'nestjs-cors', ad));
      if (ad === 'express') addValue(b, 'raw Express static 204 (floor)', 'b/floor');
      const floorB = id('b', 'floor', ad);
      if (ad === 'fastify' && has(floorB)) {
        addValue(b, 'static 204 in the first onRequest hook (floor)', floorB);
      }
      ratioTarget(
        b,
        'nestjs-cors / enableCors',
        id('b', 'nestjs-cors', ad),
        id('b', 'enableCors', ad),
        1,
        ad,
      );
      if (ad === 'express') ratioTarget(b, 'nestjs-cors / floor', 'b/nestjs-cors', 'b/floor', 0.85);
      if (ad === 'fastify' && has(floorB)) {
        addInfo(b, 'nestjs-cors / floor', ratioOf(id('b', 'nestjs-cors', ad), floorB).shown);
      }
    }
  }
  // The target ratios of both adapters side by side (also in the JSON).
  const SIDE = [
    { label: 'GET: nestjs-cors / bare', scenario: 'a', a: 'nestjs-cors', b: 'bare', target: 0.97 },
    {
      label: 'GET: nestjs-cors / enableCors',
      scenario: 'a',
      a: 'nestjs-cors',
      b: 'enableCors',
      target: 1,
    },
    {
      label: 'preflight: nestjs-cors / enableCors',
      scenario: 'b',
      a: 'nestjs-cors',
      b: 'enableCors',
      target: 1,
    },
    // The floors: Express's answers preflights only; target on Express only.
    {
      label: 'preflight: nestjs-cors / floor',
      scenario: 'b',
      a: 'nestjs-cors',
      b: 'floor',
      target: { express: 0.85 },
    },
    { label: 'GET: nestjs-cors / floor', scenario: 'a', a: 'nestjs-cors', b: 'floor' },
    { label: 'GET: enableCors / bare', scenario: 'a', a: 'enableCors', b: 'bare' },
    { label: 'GET: floor / bare', scenario: 'a', a: 'floor', b: 'bare' },
    { label: 'GET: no-op app.use() / bare', scenario: 'a', a: 'noop-use', b: 'bare' },
  ];
  const sideBySide = [];
  for (const x of SIDE) {
    const targetOn = (ad) => (typeof x.target === 'number' ? x.target : x.target?.[ad]);
    const shownTarget = (t) => (t === undefined ? 'info' : `≥ ${t.toFixed(2)}`);
    const entry = {
      label: x.label,
      target:
        typeof x.target === 'object'
          ? Object.entries(x.target)
              .map(([ad, t]) => `${shownTarget(t)} (${ADAPTER_LABEL[ad]})`)
              .join(', ')
          : shownTarget(x.target),
    };
    let any = false;
    for (const ad of ['express', 'fastify']) {
      const ia = id(x.scenario, x.a, ad);
      const ib = id(x.scenario, x.b, ad);
      if (!has(ia, ib)) continue;
      any = true;
      const r = ratioOf(ia, ib, targetOn(ad));
      entry[ad] = { rps: r.rps, cpu: r.cpu, shown: r.shown, verdict: r.verdict };
    }
    if (any) sideBySide.push(entry);
  }
  for (const [k, label] of [
    ['nestjs-cors', 'GET: CPU µs/req over bare, nestjs-cors'],
    ['enableCors', 'GET: CPU µs/req over bare, enableCors'],
    ['floor', 'GET: CPU µs/req over bare, floor'],
    ['noop-use', 'GET: CPU µs/req over bare, no-op app.use()'],
  ]) {
    const entry = { label, target: 'info' };
    let any = false;
    for (const ad of ['express', 'fastify']) {
      if (!has(id('a', k, ad), id('a', 'bare', ad))) continue;
      any = true;
      const d = cpuOver(id('a', k, ad), id('a', 'bare', ad));
      entry[ad] = { cpuUs: d, shown: d === null ? 'n/a' : `${fmtUs(d)} µs`, verdict: 'info' };
    }
    if (any) sideBySide.push(entry);
  }
  if (has('a/enableCors', 'a/nestjs-cors', 'c/enableCors@10k', 'c/nestjs-cors@10k')) {
    const c = '(c) GET, 10,000 exact origins (last listed)';
    addValue(c, 'enableCors @10k', 'c/enableCors@10k');
    addValue(c, 'nestjs-cors @10k', 'c/nestjs-cors@10k');
    ratioTarget(c, 'nestjs-cors 10k / 10', 'c/nestjs-cors@10k', 'a/nestjs-cors', 0.98);
    const r = pairedRatio(R, 'c/enableCors@10k', 'a/enableCors');
    const cr = pairedCpuRatio(R, 'c/enableCors@10k', 'a/enableCors');
    addInfo(c, 'enableCors 10k / 10', `${fmtRatio(r)}${cr ? ` · ${cr.median.toFixed(3)}` : ''}`);
  }
  if (has('a/bare', 'a/nestjs-cors', 'd/bare@1000r', 'd/nestjs-cors@1000r')) {
    const d = '(d) GET, 1,000 routes (middle one hit)';
    addValue(d, 'bare @1000 routes', 'd/bare@1000r');
    addValue(d, 'nestjs-cors @1000 routes', 'd/nestjs-cors@1000r');
    addInfo(
      d,
      'nestjs-cors / bare @10 → @1000',
      `${fmtRatio(pairedRatio(R, 'a/nestjs-cors', 'a/bare'))} → ${fmtRatio(pairedRatio(R, 'd/nestjs-cors@1000r', 'd/bare@1000r'))}`,
    );
    // Overhead in µs per request (1 / req/s) over bare, @1000 routes minus @10, per round (the four
    // runs of a round ran back to back). Within noise: the median difference is no larger than the
    // half-range of the per-round differences, or than 2% of bare's µs/request at 1,000 routes.
    const overheadDiff = (perRound) => {
      const o10 = perRound('a/nestjs-cors', 'a/bare');
      const o1000 = perRound('d/nestjs-cors@1000r', 'd/bare@1000r');
      if (o10 === null || o1000 === null) return null;
      const diffs = o1000.map((v, i) => v - o10[i]);
      const s = summary(diffs);
      const tol = Math.max(
        s.n > 1 ? (s.max - s.min) / 2 : 0,
        0.02 * (1e6 / R['d/bare@1000r'].rps.median),
      );
      return { o10: summary(o10), o1000: summary(o1000), diff: s, tol, pass: s.median <= tol };
    };
    const byRps = overheadDiff((a, b) => R[a].rounds.map((v, i) => 1e6 / v - 1e6 / R[b].rounds[i]));
    const byCpu = overheadDiff((a, b) => {
      const ca = R[a].cpuRounds;
      const cb = R[b].cpuRounds;
      return ca.some((x) => x === null) || cb.some((x) => x === null)
        ? null
        : ca.map((x, i) => x - cb[i]);
    });
    const fmtO = (x) =>
      `@1000 ${x.o1000.median.toFixed(1)}, @10 ${x.o10.median.toFixed(1)}: Δ ${x.diff.median.toFixed(1)} µs`;
    let shown = fmtO(byRps);
    let note = '';
    if (byCpu) {
      shown += ` · ${fmtO(byCpu)}`;
      if (byCpu.pass !== byRps.pass)
        note = ` (CPU-based: ${byCpu.pass ? 'PASS' : 'MISS'}, noise ${byCpu.tol.toFixed(1)} µs)`;
    }
    addTarget(
      d,
      'overhead vs bare, µs/req (Δ: median of per-round @1000 − @10)',
      shown,
      '<=',
      `noise (${byRps.tol.toFixed(1)} µs)`,
      `${byRps.pass ? 'PASS' : 'MISS'}${note}`,
    );
  }
  if (has('e/acrh-8k', 'e/origin-5k', 'e/get-origin-5k')) {
    const e = '(e) adversarial headers (nestjs-cors)';
    for (const [id, label] of [
      ['e/acrh-8k', 'preflight, 8 KiB ACRH → 403'],
      ['e/origin-5k', 'preflight, 5 KiB Origin → 403'],
      ['e/get-origin-5k', 'GET, 5 KiB Origin → 200 without ACAO'],
    ]) {
      const res = R[id];
      addValue(e, label, id, `denied ✓ (${fmtInt(res.non2xx)}/${fmtInt(res.requests)} non-2xx)`);
    }
  }
  if (micro) {
    const e = '(e) adversarial headers (nestjs-cors)';
    const adv = Object.entries(micro.adversarial).filter(([id]) => !id.includes('64k'));
    const worst = Math.max(...adv.map(([, v]) => v['nestjs-cors'].median));
    const worstId = adv.find(([, v]) => v['nestjs-cors'].median === worst)[0];
    addTarget(
      e,
      'slowest decision, in process',
      `${(worst / 1000).toFixed(2)} µs (${worstId})`,
      '<',
      '50 µs',
      verdict(worst, '<', 50_000),
    );
    const allDenied = Object.values(micro.adversarial).every((v) => v.denied);
    const loadDenied = has('e/acrh-8k', 'e/origin-5k', 'e/get-origin-5k')
      ? ['e/acrh-8k', 'e/origin-5k', 'e/get-origin-5k'].every(
          (id) => R[id].probe.ok && R[id].loadOk,
        )
      : true;
    addTarget(
      e,
      'all adversarial requests denied',
      allDenied && loadDenied ? 'yes' : 'NO',
      '=',
      'yes',
      allDenied && loadDenied ? 'PASS' : 'MISS',
    );
    if (micro.memory) {
      const kb = micro.memory.deltaBytes / 1024;
      addTarget(
        e,
        `heap growth over ${fmtInt(micro.memory.ops)} decisions`,
        `${kb.toFixed(0)} KiB`,
        '<',
        '1024 KiB',
        verdict(kb, '<', 1024),
      );
    }
    if (load?.rss?.afterWarmupMb != null) {
      addInfo(
        e,
        'server RSS, after warm-up → end',
        `${load.rss.afterWarmupMb.toFixed(1)} → ${load.rss.endMb?.toFixed(1)} MB`,
      );
    }
    const s1 =
      micro.adversarial['adv-acrh-64k']['nestjs-cors'].median /
      micro.adversarial['adv-acrh-8k']['nestjs-cors'].median;
    const s2 =
      micro.adversarial['adv-get-origin-64k']['nestjs-cors'].median /
      micro.adversarial['adv-get-origin-5k']['nestjs-cors'].median;
    addTarget(
      e,
      'bounded work: time @64 KiB / @8 KiB ACRH, @64/@5 KiB Origin',
      `${s1.toFixed(2)}, ${s2.toFixed(2)}`,
      '<=',
      '1.5',
      verdict(Math.max(s1, s2), '<=', 1.5),
    );
  }
  if (boot) {
    const f = '(f) boot, 1,000 routes (create → init)';
    for (const v of ['bare', 'enableCors', 'nestjs-cors']) {
      row(f, v, { result: `${boot[v].median.toFixed(1)} ms`, spread: fmtPct(boot[v].spreadPct) });
    }
    const m = boot.moduleCostMs;
    addTarget(
      f,
      'module boot cost (nestjs-cors − bare)',
      `${m.median.toFixed(1)} ms [${m.min.toFixed(1)}–${m.max.toFixed(1)}]`,
      '<',
      '100 ms',
      verdict(m.median, '<', 100),
    );
  }
  if (micro) {
    const g = '(g) in process: CORS work per request (net ns)';
    const h = micro.harnessNs;
    for (const [id, v] of Object.entries(micro.cases)) {
      const n = v['nestjs-cors'].median - h;
      const c = v.cors.median - h;
      row(g, `${v.label}: nestjs-cors`, {
        result: `${fmtInt(n)} ns`,
        spread: fmtPct(v['nestjs-cors'].spreadPct),
      });
      row(g, `${v.label}: cors`, { result: `${fmtInt(c)} ns`, spread: fmtPct(v.cors.spreadPct) });
      addInfo(g, `${id}: nestjs-cors / cors (ns)`, `${(n / c).toFixed(3)}`);
    }
    for (const [id, v] of Object.entries(micro.originSource ?? {})) {
      const st = v.static.median - h;
      const so = v.originSource.median - h;
      row(g, `${id}: origins from originSource`, {
        result: `${fmtInt(so)} ns`,
        spread: fmtPct(v.originSource.spreadPct),
      });
      row(g, `${id}: the same origins, static`, {
        result: `${fmtInt(st)} ns`,
        spread: fmtPct(v.static.spreadPct),
      });
      addInfo(g, `${id}: originSource / static (ns)`, `${(so / st).toFixed(3)}`);
    }
  }
  return { rows, targets, sideBySide };
}

function renderTable(rows) {
  const all = [COLUMNS, ...rows];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  let last = '';
  const out = [line(COLUMNS), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`];
  for (const r of rows) {
    const shown = [...r];
    if (r[0] === last) shown[0] = '';
    last = r[0];
    out.push(line(shown));
  }
  return out.join('\n');
}

/** The side-by-side ratios: one row per ratio, a column per adapter. */
function renderSideBySide(entries) {
  const cell = (x) =>
    x === undefined ? '—' : x.verdict === 'info' ? x.shown : `${x.shown} ${x.verdict}`;
  const cols = ['Ratio', 'Target', 'Express', 'Fastify'];
  const rows = entries.map((e) => [e.label, e.target, cell(e.express), cell(e.fastify)]);
  const all = [cols, ...rows];
  const widths = cols.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [
    line(cols),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Profile mode

/** Profiles one variant under one load; returns { summary, rps, requests, text, dir }. */
async function profileOne(tool, name, p, variant, seconds) {
  const dir = join(SCRATCH, 'profiles', `${name}-${variant}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const server = await startServer(
    { id: `${variant}-profiled`, variant, routes: p.routes, origins: p.origins },
    ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100'],
  );
  const req = p.req(server);
  const pr = await httpRequest(server.port, req);
  log(
    `probe ${variant}: ${req.method} ${req.path} → ${pr.status}, ACAO ${pr.headers['access-control-allow-origin'] ?? '(none)'}`,
  );
  // Warm up (JIT) without looking, then profile only the measured window.
  await loadOnce(tool, server, req, 2);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const r = await loadOnce(tool, server, req, seconds);
  const toUs = Number(process.hrtime.bigint() / 1000n);
  await stopServer(server);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile written in ${dir}:\n${server.stderr()}`);
  const s = summarize(join(dir, file), { fromUs, toUs });
  const text = [
    `CPU profile: ${variant}, load "${name}" (${req.method} ${req.path}), ${tool.name}, ${seconds} s, ${fmtInt(r.rps)} req/s (profiler on), server CPU ${(r.serverCpu * 100).toFixed(0)}%, ${r.cpuUsPerReq?.toFixed(1)} µs CPU/req`,
    `file: ${relative(ROOT, join(dir, file))}`,
    formatSummary(s, { top: args.top ?? 20 }),
  ].join('\n');
  writeFileSync(join(dir, 'summary.txt'), `${text}\n`);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(s, null, 2));
  const alloc = args.alloc === true ? await allocOne(tool, name, p, variant, seconds, dir) : null;
  return {
    summary: s,
    requests: r.requests,
    text: alloc === null ? text : `${text}\n\n${alloc.text}`,
    dir,
    alloc,
  };
}

/**
 * `--alloc`: the same load on a fresh server (no CPU profiler) whose allocations are sampled
 * (V8's sampling heap profiler, collected objects included) over the measured window only.
 */
async function allocOne(tool, name, p, variant, seconds, dir) {
  const file = join(dir, 'alloc.heapprofile');
  const server = await startServer(
    { id: `${variant}-alloc`, variant, routes: p.routes, origins: p.origins },
    [],
    { extraArgs: ['--alloc-profile', file] },
  );
  const req = p.req(server);
  await loadOnce(tool, server, req, 2);
  server.child.kill('SIGUSR2');
  await sleep(200); // the sampler starts on the server's next turn
  const r = await loadOnce(tool, server, req, seconds);
  await stopServer(server);
  if (!existsSync(file)) throw new Error(`no allocation profile written:\n${server.stderr()}`);
  const a = summarizeAllocations(file, r.requests);
  const text = [
    `allocation profile: ${variant}, load "${name}", ${seconds} s, ${fmtInt(r.rps)} req/s (sampler on)`,
    `file: ${relative(ROOT, file)}`,
    formatAllocations(a, { top: args.top ?? 20 }),
  ].join('\n');
  writeFileSync(join(dir, 'alloc-summary.json'), JSON.stringify(a, null, 2));
  return { summary: a, text };
}

/** Where the extra bytes per request of `a` over `b` are allocated: per owner and function. */
function formatAllocDiff(a, b, aName, bName, top) {
  const lines = [
    `allocated per request: ${aName} ${a.perRequest.toFixed(0)} B, ${bName} ${b.perRequest.toFixed(0)} B, Δ ${(a.perRequest - b.perRequest).toFixed(0)} B`,
    `Δ bytes/request by owner (${aName} − ${bName}):`,
  ];
  const owners = new Map();
  for (const [run, sign] of [
    [a, 1],
    [b, -1],
  ]) {
    for (const o of run.byOwner)
      owners.set(o.owner, (owners.get(o.owner) ?? 0) + sign * o.perRequest);
  }
  for (const [o, d] of [...owners].sort((x, y) => Math.abs(y[1]) - Math.abs(x[1])).slice(0, 12)) {
    lines.push(`  ${d >= 0 ? '+' : ''}${d.toFixed(0).padStart(6)}  ${o}`);
  }
  const fns = new Map();
  for (const [run, sign] of [
    [a, 1],
    [b, -1],
  ]) {
    for (const f of run.functions) {
      const k = `${f.name} ${f.where}`;
      const e = fns.get(k) ?? { f, d: 0 };
      e.d += sign * f.perRequest;
      fns.set(k, e);
    }
  }
  lines.push('functions by Δ bytes/request:');
  for (const { f, d } of [...fns.values()].sort((x, y) => y.d - x.d).slice(0, top)) {
    lines.push(
      `  ${d >= 0 ? '+' : ''}${d.toFixed(0).padStart(6)}  ${f.name.slice(0, 36).padEnd(36)} ${f.where}`,
    );
  }
  return lines.join('\n');
}

/** Where the extra time of `a` over `b` goes: owned and self µs per request, per function. */
function formatDiff(a, b, aName, bName, top) {
  const per = (run) => {
    const m = new Map();
    for (const f of run.summary.functions) {
      m.set(`${f.name} ${f.where}`, {
        f,
        self: (f.selfMs * 1000) / run.requests,
        owned: (f.ownedMs * 1000) / run.requests,
      });
    }
    return m;
  };
  const pa = per(a);
  const pb = per(b);
  const keys = new Set([...pa.keys(), ...pb.keys()]);
  const rows = [...keys].map((k) => {
    const x = pa.get(k);
    const y = pb.get(k);
    const f = (x ?? y).f;
    return {
      name: f.name,
      where: f.where,
      category: f.category,
      self: (x?.self ?? 0) - (y?.self ?? 0),
      owned: (x?.owned ?? 0) - (y?.owned ?? 0),
    };
  });
  const busyA = (a.summary.busyMs * 1000) / a.requests;
  const busyB = (b.summary.busyMs * 1000) / b.requests;
  const netA = busyA - (a.summary.socketWriteMs * 1000) / a.requests;
  const netB = busyB - (b.summary.socketWriteMs * 1000) / b.requests;
  const lines = [
    `profiled CPU per request: ${aName} ${busyA.toFixed(1)} µs, ${bName} ${busyB.toFixed(1)} µs, Δ ${(busyA - busyB).toFixed(1)} µs (profiler on: absolute values inflated, differences indicative)`,
    `  without the socket write syscalls (kernel loopback work, which varies between runs by several µs): ${netA.toFixed(1)} µs, ${netB.toFixed(1)} µs, Δ ${(netA - netB).toFixed(1)} µs`,
    `Δ by owner (µs/request, ${aName} − ${bName}):`,
  ];
  const owners = new Map();
  for (const [run, sign] of [
    [a, 1],
    [b, -1],
  ]) {
    for (const o of run.summary.byOwner) {
      owners.set(o.owner, (owners.get(o.owner) ?? 0) + (sign * o.ms * 1000) / run.requests);
    }
  }
  for (const [o, us] of [...owners].sort((x, y) => Math.abs(y[1]) - Math.abs(x[1])).slice(0, 12)) {
    lines.push(`  ${us >= 0 ? '+' : ''}${us.toFixed(2).padStart(7)}  ${o}`);
  }
  lines.push(`functions by Δ owned µs/request (self + Node/V8 callees):`);
  for (const r of rows.sort((x, y) => y.owned - x.owned).slice(0, top)) {
    lines.push(
      `  ${r.owned >= 0 ? '+' : ''}${r.owned.toFixed(2).padStart(7)}  (self ${r.self >= 0 ? '+' : ''}${r.self.toFixed(2)})  ${r.name.slice(0, 36).padEnd(36)} ${r.where}`,
    );
  }
  lines.push(`functions by Δ self µs/request:`);
  for (const r of rows.sort((x, y) => y.self - x.self).slice(0, top)) {
    lines.push(
      `  ${r.self >= 0 ? '+' : ''}${r.self.toFixed(2).padStart(7)}  ${r.name.slice(0, 36).padEnd(36)} ${r.where}`,
    );
  }
  return lines.join('\n');
}

async function profileMode(tool) {
  const name = args.profile;
  const p = PROFILES[name];
  const variant = args.variant ?? 'nestjs-cors';
  const seconds = args.seconds ?? 10;
  const a = await profileOne(tool, name, p, variant, seconds);
  process.stdout.write(`${a.text}\n`);
  if (args.compare !== undefined) {
    // `--compare bare` (same load, another variant) or `--compare nestjs-cors:get` (another load).
    const [otherVariant, otherLoad = name] = args.compare.split(':');
    const q = PROFILES[otherLoad];
    const b = await profileOne(tool, otherLoad, q, otherVariant, seconds);
    const aName = `${variant}/${name}`;
    const bName = `${otherVariant}/${otherLoad}`;
    let diff = formatDiff(a, b, aName, bName, args.top ?? 20);
    if (a.alloc !== null && b.alloc !== null) {
      diff += `\n${formatAllocDiff(a.alloc.summary, b.alloc.summary, aName, bName, args.top ?? 20)}`;
    }
    process.stdout.write(`\n=== ${aName} vs ${bName} ===\n${diff}\n`);
    writeFileSync(join(a.dir, `diff-vs-${otherVariant}-${otherLoad}.txt`), `${diff}\n`);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const tool = pickTool(args.tool ?? process.env.BENCH_TOOL);
  mkdirSync(SCRATCH, { recursive: true });
  const built = ensureBuilt();

  const waitIdle = args['wait-idle'] ?? 0; // seconds
  const waitStart = Date.now();
  let busy = await cpuBusy(500);
  const idleDeadline = Date.now() + waitIdle * 1000;
  while (busy && Math.max(...busy) > 0.15 && Date.now() < idleDeadline) {
    log(
      `waiting for an idle machine (CPU busy ${busy.map((b) => `${(b * 100).toFixed(0)}%`).join(', ')}) ...`,
    );
    await sleep(2000);
    busy = await cpuBusy(1000);
  }
  waitedMs = waitIdle > 0 ? Date.now() - waitStart : 0;
  if (args.profile !== undefined) return profileMode(tool);
  const busyNote =
    busy && Math.max(...busy) > 0.15
      ? `WARNING: the machine was not idle at start (CPU busy ${busy.map((b) => `${(b * 100).toFixed(0)}%`).join(', ')}): numbers are unreliable`
      : '';
  if (busyNote) log(busyNote);

  const meta = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    tool: `${tool.name} ${tool.version}`,
    pinning: canPin
      ? 'servers on core 0 (taskset -c 0), load on core 1 (taskset -c 1)'
      : 'none (taskset missing or < 2 CPUs)',
    connections: settings.connections,
    duration: settings.duration,
    rounds: settings.rounds,
    warmup: settings.discardRound
      ? 'parallel warm-up, then 1 whole round discarded'
      : 'parallel warm-up (discarded)',
    node: process.version,
    nest: pkgVersion('@nestjs/core'),
    express: pkgVersion('express'),
    cors: pkgVersion('cors'),
    adapters: adapterArg === 'both' ? ['express', 'fastify'] : [adapterArg],
    fastify: pkgVersion('fastify'),
    platformFastify: pkgVersion('@nestjs/platform-fastify'),
    fastifyCors: pkgVersion('@fastify/cors'),
    middie: pkgVersion('@fastify/middie'),
    findMyWay: pkgVersion('find-my-way'),
    cpu: `${cpus.length} × ${cpus[0]?.model ?? '?'}`,
    os: `${os.type()} ${os.release()}`,
    busyAtStart: busy,
    builtNow: built,
  };
  if (wantsExpressOnly('f'))
    log(`[${elapsed()}] boot (f): ${settings.bootSamples} samples per variant ...`);
  const boot = wantsExpressOnly('f') ? bootBench() : undefined;
  if (wantsExpressOnly('g') || wantsExpressOnly('e')) log(`[${elapsed()}] micro (g, e) ...`);
  const micro = wantsExpressOnly('g') || wantsExpressOnly('e') ? microBench() : undefined;
  const load =
    only === null || [...only].some((s) => 'abcde'.includes(s)) ? await loadBench(tool) : undefined;
  meta.seconds = (Date.now() - t0 - waitedMs) / 1000;
  meta.waitedForIdleSeconds = waitedMs / 1000;

  const { rows, targets, sideBySide } = buildReport(load, boot, micro);
  const lowCpu = Object.entries(load?.results ?? {}).filter(([, r]) =>
    r.serverCpu.some((c) => c !== null && c < CPU_OK),
  );
  const header = [
    `nestjs-cors bench (${meta.mode}${quick ? ', indicative only: 1 s runs, 2 rounds' : ''}) — ${meta.date}`,
    `load: ${meta.tool}, ${meta.connections} connections, ${meta.duration} s × ${meta.rounds} measured rounds, alternating (${meta.warmup}); median of rounds, spread = (max − min) / median`,
    `pinning: ${meta.pinning}`,
    `machine: ${meta.cpu}, ${meta.os}; node ${meta.node}, @nestjs/core ${meta.nest}, express ${meta.express}, cors ${meta.cors}; fastify ${meta.fastify}, @nestjs/platform-fastify ${meta.platformFastify}, @fastify/cors ${meta.fastifyCors}, @fastify/middie ${meta.middie}, find-my-way ${meta.findMyWay}`,
    `apps: one server process per configuration; 10 routes (5 paths × GET+PUT) unless noted, hit /api/items{middle}/42; CORS options: 10 exact origins (request from the last), credentials, methods, allowedHeaders, exposedHeaders, maxAge 600; servers not being measured are paused (SIGSTOP)`,
    `adapters: ${meta.adapters.join(', ')}${wantsAdapter('fastify') ? ' (Fastify: new FastifyAdapter() with its defaults; enableCors = @fastify/cors; "no-op app.use()" = bare + one middleware that only calls next(), i.e. what going through middie costs; floor = bare + static CORS headers written by the adapter\'s first onRequest hook, no middie); (c)–(g) run on Express only' : ''}`,
  ];
  if (busyNote) header.push(busyNote);
  if (tool.name === 'autocannon') {
    header.push(
      'note: wrk is not installed, so autocannon (one Node process) generated the load; it can be the bottleneck for the fastest servers (the floor). `apt-get install wrk` for the reference method.',
    );
  }
  if (only !== null) header.push(`only scenarios: ${[...only].join(', ')}`);
  if (micro?.disturbedBatches > 0) {
    header.push(
      `WARNING: ${micro.disturbedBatches} in-process batch(es) ran without a whole core (machine busy)`,
    );
  }
  if (load?.retried.length > 0) {
    header.push(
      `note: ${load.retried.length} disturbed run(s) redone (${[...new Set(load.retried)].join(', ')})`,
    );
  }
  if (lowCpu.length > 0) {
    header.push(
      `WARNING: server CPU below ${CPU_OK * 100}% of its core in some kept runs (${lowCpu.map(([id]) => id).join(', ')}): another process took the core, or the load tool was the bottleneck`,
    );
  }
  const table = renderTable(rows);
  const misses = targets.filter((t) => t.verdict.startsWith('MISS'));
  const footer = `targets: ${targets.length - misses.length} PASS, ${misses.length} MISS${misses.length ? ` (${misses.map((m) => `${m.scenario.slice(0, 3)}${m.adapter === 'fastify' ? ' Fastify' : ''} ${m.label}`).join('; ')})` : ''} — total ${meta.seconds.toFixed(0)} s${waitedMs > 1000 ? ` (+ ${(waitedMs / 1000).toFixed(0)} s waiting for an idle machine)` : ''}`;
  const side =
    sideBySide.length === 0
      ? ''
      : `Express and Fastify side by side (ratio of req/s: median of per-round ratios [range] · CPU-based; verdict):\n${renderSideBySide(sideBySide)}\n\n`;
  process.stdout.write(`${header.join('\n')}\n\n${table}\n\n${side}${footer}\n`);

  const json = {
    meta,
    targets,
    sideBySide,
    table: rows,
    load: load?.results,
    rss: load?.rss,
    retried: load?.retried,
    boot,
    micro,
  };
  const outPath = jsonPath ?? join(SCRATCH, 'bench-results.json');
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(json, null, 2)}\n`);
  log(`JSON: ${outPath}`);
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (err) => {
    log(err?.stack ?? String(err));
    killAll();
    process.exit(1);
  },
);
