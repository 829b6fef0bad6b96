/**
 * (g) and (e), in process: ns per decision of the nestjs-cors middleware
 * (the module's mounted middleware) vs the `cors` package middleware (what
 * `app.enableCors()` mounts), on the same fake requests, with warm-up and alternating batches.
 * Run with --expose-gc (for the memory check). Prints one JSON object on stdout.
 */
import cors from 'cors';
import { parseArgs } from './lib/args.js';
import { summary } from './lib/stats.js';
import { makeAppModule } from './apps/nest-app.js';
import { allowedOrigin, corsOptions, hitPath } from './apps/config.js';
import { NestFactory } from '@nestjs/core';

const args = parseArgs(process.argv.slice(2), {
  usage: `
Usage: node --expose-gc bench/micro.js [--quick]

Scenarios (g) and (e) in process, run by bench/run.js: ns per decision of the nestjs-cors
middleware vs the cors package on the same fake requests; prints one JSON object on stdout.

  --quick         shorter batches and warm-up (indicative)
  -h, --help      print this and exit
`,
  options: { quick: { type: 'boolean' } },
});
const quick = args.quick === true;
const BATCH_NS = quick ? 4e6 : 10e6; // target time of one batch
const WARMUP_NS = quick ? 80e6 : 250e6; // warm-up per variant and case
const BATCHES = quick ? 7 : 15; // per variant, alternating
const MEMORY_OPS = quick ? 30_000 : 150_000;

/** A response stand-in: what both middlewares call (setHeader, getHeader, removeHeader, end). */
/**
 * A response stand-in with what both middlewares use (setHeader, getHeader, removeHeader, end) and,
 * like Node's, an `end()` that goes through `writeHead` (so a hook on `writeHead`, e.g. on-headers,
 * runs and is measured). Reused between operations: `reset()` also undoes any `writeHead` wrapper.
 */
function baseWriteHead(statusCode) {
  if (typeof statusCode === 'number') this.statusCode = statusCode;
  this.headersSent = true;
  return this;
}

class FakeRes {
  constructor() {
    this.statusCode = 200;
    this.headers = new Map();
    this.ended = false;
    this.headersSent = false;
    this.writeHead = baseWriteHead;
  }
  reset() {
    this.statusCode = 200;
    this.headers.clear();
    this.ended = false;
    this.headersSent = false;
    this.writeHead = baseWriteHead;
  }
  setHeader(name, value) {
    this.headers.set(name.toLowerCase(), value);
    return this;
  }
  getHeader(name) {
    return this.headers.get(name.toLowerCase());
  }
  hasHeader(name) {
    return this.headers.has(name.toLowerCase());
  }
  removeHeader(name) {
    this.headers.delete(name.toLowerCase());
  }
  end() {
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.ended = true;
  }
}

let sink = 0;
let redone = 0; // batches redone because the process lost its core
let disturbed = 0; // batches kept although still disturbed after 5 tries
function next() {
  sink++;
}

/** A loop with its own call-site feedback per (variant, case), so cases do not pollute each other. */
function makeLoop() {
  return new Function(
    'fn',
    'req',
    'ops',
    'FakeRes',
    'next',
    `const res = new FakeRes();
     const t0 = process.hrtime.bigint();
     for (let i = 0; i < ops; i++) {
       res.reset();
       fn(req, res, next);
       if (!res.ended) res.end(); // the app answers: headers go out
     }
     return Number(process.hrtime.bigint() - t0);`,
  );
}

function request(method, headers) {
  return { method, url: `${hitPath(10)}?q=1`, originalUrl: `${hitPath(10)}?q=1`, headers };
}

/** Measures variants [{name, fn}] on `req`: warm-up, calibrate, alternating batches. */
function measure(variants, req) {
  const loops = variants.map(() => makeLoop());
  const ops = variants.map((v, i) => {
    let n = 1000;
    let spent = 0;
    let total = 0;
    while (spent < WARMUP_NS) {
      const t = loops[i](v.fn, req, n, FakeRes, next);
      spent += t;
      total += n;
      if (t < 2e6) n *= 2;
    }
    return Math.max(100, Math.round((BATCH_NS * total) / spent));
  });
  const samples = variants.map(() => []);
  for (let b = 0; b < BATCHES; b++) {
    for (let k = 0; k < variants.length; k++) {
      const i = b % 2 === 0 ? k : variants.length - 1 - k;
      // A batch during which this process did not have its core (another process ran) is redone.
      for (let attempt = 0; ; attempt++) {
        const cpu0 = process.cpuUsage();
        const ns = loops[i](variants[i].fn, req, ops[i], FakeRes, next);
        const cpu = process.cpuUsage(cpu0);
        const share = ((cpu.user + cpu.system) * 1000) / ns;
        if (share >= 0.9 || attempt >= 5) {
          if (share < 0.9) disturbed++;
          else redone += attempt;
          samples[i].push(ns / ops[i]);
          break;
        }
      }
    }
  }
  return Object.fromEntries(variants.map((v, i) => [v.name, summary(samples[i])]));
}

/** What one call does to a fresh response (for the denial checks). */
function probe(fn, req) {
  const res = new FakeRes();
  let nexted = false;
  fn(req, res, () => (nexted = true));
  if (!res.ended) res.end();
  return {
    status: nexted ? 'next' : res.statusCode,
    allowOrigin: res.getHeader('Access-Control-Allow-Origin') ?? null,
  };
}

async function nestHandler(origins, { source = false } = {}) {
  // The middleware itself, from the module's internal runtime (not part of the public API).
  const { CorsRuntime } = await import(new URL('../dist/cors.runtime.js', import.meta.url).href);
  const AppModule = await makeAppModule({ variant: 'nestjs-cors', routes: 10, origins, source });
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.init();
  return { app, fn: app.get(CorsRuntime).handler };
}

const nest10 = await nestHandler(10);
const nest10k = await nestHandler(10_000);
// The same origins, from an `originSource` (a live list) instead of the static `origin` option.
const nest10Source = await nestHandler(10, { source: true });
const nest10kSource = await nestHandler(10_000, { source: true });
const cors10 = cors(corsOptions(10));
const cors10k = cors(corsOptions(10_000));
const noop = (_req, _res, nextFn) => nextFn();

const ORIGIN = allowedOrigin(10);
const ORIGIN_10K = allowedOrigin(10_000);

function namesList(bytes) {
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += `${i === 0 ? '' : ', '}x-custom-header-${i}`;
  return s.slice(0, bytes);
}
const ACRH_8K = namesList(8192);
const ACRH_8K_JUNK = ' ,\t'.repeat(2731).slice(0, 8192);
const ORIGIN_5K = `https://${'a'.repeat(5120 - 'https://.example.com'.length)}.example.com`;
const ORIGIN_5K_DOTS = `https://${'a.'.repeat(2550)}com`.slice(0, 5120);
const ACRH_64K = namesList(65536);
const ORIGIN_64K = `https://${'a'.repeat(65536 - 'https://.example.com'.length)}.example.com`;

const preflightHeaders = (origin, acrh) => ({
  host: '127.0.0.1',
  origin,
  'access-control-request-method': 'PUT',
  'access-control-request-headers': acrh,
});

const cases = [
  {
    id: 'get',
    label: 'actual GET, allowed origin',
    req: request('GET', { host: '127.0.0.1', origin: ORIGIN }),
  },
  {
    id: 'get-no-origin',
    label: 'GET without Origin (same-origin)',
    req: request('GET', { host: '127.0.0.1' }),
  },
  {
    id: 'get-refused',
    label: 'actual GET, refused origin',
    req: request('GET', { host: '127.0.0.1', origin: 'https://evil.example.net' }),
  },
  {
    id: 'preflight',
    label: 'preflight, allowed',
    req: request('OPTIONS', preflightHeaders(ORIGIN, 'content-type')),
  },
  {
    id: 'get-10k',
    label: 'actual GET, 10,000 origins (last listed)',
    origins: 10_000,
    req: request('GET', { host: '127.0.0.1', origin: ORIGIN_10K }),
  },
  {
    id: 'preflight-10k',
    label: 'preflight, 10,000 origins (last listed)',
    origins: 10_000,
    req: request('OPTIONS', preflightHeaders(ORIGIN_10K, 'content-type')),
  },
];
const adversarial = [
  {
    id: 'adv-acrh-8k',
    label: 'preflight, 8 KiB ACRH (names)',
    req: request('OPTIONS', preflightHeaders(ORIGIN, ACRH_8K)),
    expect: 403,
  },
  {
    id: 'adv-acrh-8k-junk',
    label: 'preflight, 8 KiB ACRH (" ,\\t" junk)',
    req: request('OPTIONS', preflightHeaders(ORIGIN, ACRH_8K_JUNK)),
    expect: 403,
  },
  {
    id: 'adv-origin-5k',
    label: 'preflight, 5 KiB Origin',
    req: request('OPTIONS', preflightHeaders(ORIGIN_5K, 'content-type')),
    expect: 403,
  },
  {
    id: 'adv-origin-5k-dots',
    label: 'preflight, 5 KiB Origin (a.a.a…)',
    req: request('OPTIONS', preflightHeaders(ORIGIN_5K_DOTS, 'content-type')),
    expect: 403,
  },
  {
    id: 'adv-get-origin-5k',
    label: 'actual GET, 5 KiB Origin',
    req: request('GET', { host: '127.0.0.1', origin: ORIGIN_5K }),
    expect: 'no-acao',
  },
  {
    id: 'adv-acrh-64k',
    label: 'preflight, 64 KiB ACRH (scaling)',
    req: request('OPTIONS', preflightHeaders(ORIGIN, ACRH_64K)),
    expect: 403,
  },
  {
    id: 'adv-get-origin-64k',
    label: 'actual GET, 64 KiB Origin (scaling)',
    req: request('GET', { host: '127.0.0.1', origin: ORIGIN_64K }),
    expect: 'no-acao',
  },
];

const out = {
  config: { batches: BATCHES, batchNs: BATCH_NS, warmupNs: WARMUP_NS },
  cases: {},
  adversarial: {},
};

// An `originSource`'s origins cost an actual request what the same static list costs.
out.originSource = {};
for (const [id, staticFn, sourceFn, origin] of [
  ['get', nest10.fn, nest10Source.fn, ORIGIN],
  ['get-10k', nest10k.fn, nest10kSource.fn, ORIGIN_10K],
]) {
  const req = request('GET', { host: '127.0.0.1', origin });
  const r = measure(
    [
      { name: 'static', fn: staticFn },
      { name: 'originSource', fn: sourceFn },
    ],
    req,
  );
  out.originSource[id] = {
    ...r,
    probe: { static: probe(staticFn, req), originSource: probe(sourceFn, req) },
  };
}

// Harness cost: a middleware that only calls next(), on the same loop.
out.harnessNs = measure([{ name: 'noop', fn: noop }], cases[0].req).noop.median;

for (const c of cases) {
  const big = c.origins === 10_000;
  const r = measure(
    [
      { name: 'nestjs-cors', fn: big ? nest10k.fn : nest10.fn },
      { name: 'cors', fn: big ? cors10k : cors10 },
    ],
    c.req,
  );
  out.cases[c.id] = {
    label: c.label,
    'nestjs-cors': r['nestjs-cors'],
    cors: r.cors,
    probe: {
      'nestjs-cors': probe(big ? nest10k.fn : nest10.fn, c.req),
      cors: probe(big ? cors10k : cors10, c.req),
    },
  };
}

for (const c of adversarial) {
  const r = measure(
    [
      { name: 'nestjs-cors', fn: nest10.fn },
      { name: 'cors', fn: cors10 },
    ],
    c.req,
  );
  const p = probe(nest10.fn, c.req);
  const denied =
    c.expect === 403 ? p.status === 403 && p.allowOrigin === null : p.allowOrigin === null;
  out.adversarial[c.id] = {
    label: c.label,
    'nestjs-cors': r['nestjs-cors'],
    cors: r.cors,
    probe: p,
    denied,
  };
}

// Memory: heap after GC, before and after many adversarial decisions.
if (typeof globalThis.gc === 'function') {
  const reqs = adversarial.filter((c) => !c.id.includes('64k')).map((c) => c.req);
  const run = () => {
    for (let i = 0; i < MEMORY_OPS; i++) nest10.fn(reqs[i % reqs.length], new FakeRes(), next);
  };
  run(); // warm (lazy caches, JIT)
  globalThis.gc();
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  run();
  globalThis.gc();
  globalThis.gc();
  const after = process.memoryUsage().heapUsed;
  out.memory = {
    ops: MEMORY_OPS,
    heapBefore: before,
    heapAfter: after,
    deltaBytes: after - before,
  };
}

await nest10.app.close();
await nest10k.app.close();
out.sink = sink > 0;
out.redoneBatches = redone;
out.disturbedBatches = disturbed;
process.stdout.write(JSON.stringify(out));
