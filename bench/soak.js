// `npm run soak [-- --seconds N]`: the sample API at saturation for N seconds (default 60) with a
// realistic mix (allowed, denied, preflights, credentialed, errors). Fails unless there are
// 0 transport errors, 0 unexpected answers, and RSS grows < 10 % after warm-up.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './lib/args.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const options = parseArgs(process.argv.slice(2), {
  usage: `
Usage: npm run soak [-- --seconds N] [--connections N]

The sample API at saturation with a realistic mix (allowed, denied, preflights, credentialed,
errors). Fails unless there are 0 transport errors, 0 unexpected answers, and RSS grows < 10 %
after warm-up.

  --seconds N       how long (default 60, or env SOAK_SECONDS)
  --connections N   concurrent connections (default 32)
  -h, --help        print this and exit
`,
  options: {
    seconds: { type: 'number', integer: true, min: 1 },
    connections: { type: 'number', integer: true, min: 1 },
  },
});
const seconds = options.seconds ?? Number(process.env.SOAK_SECONDS ?? 60);
const warmup = Math.min(10, Math.max(2, Math.round(seconds / 6)));
const concurrency = options.connections ?? 32;
const hasTaskset = spawnSync('taskset', ['-V']).status === 0;

console.log('Building the sample (tsc -p sample/tsconfig.json)…');
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
if (
  spawnSync(process.execPath, [tsc, '-p', 'sample/tsconfig.json'], { cwd: root, stdio: 'inherit' })
    .status !== 0
) {
  process.exit(1);
}

// The API in its own process, on core 0; the load from this process, on core 1.
const serverScript = `
  const { startSample } = await import(${JSON.stringify(new URL('../sample/dist/sample/src/sample.js', import.meta.url).href)});
  const s = await startSample({ apiPort: 0, playgroundPort: 0, envFile: false, quiet: true });
  process.send({ apiUrl: s.apiUrl, playgroundUrl: s.playgroundUrl });
`;
const command = hasTaskset ? 'taskset' : process.execPath;
const args = [
  ...(hasTaskset ? ['-c', '0', process.execPath] : []),
  '--input-type=module',
  '-e',
  serverScript,
];
const server = spawn(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
if (hasTaskset) spawnSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
const stop = () => server.kill('SIGTERM');
process.on('exit', stop);

const { apiUrl, playgroundUrl } = await new Promise((resolve, reject) => {
  server.once('message', resolve);
  server.once('exit', (code) => reject(new Error(`the sample exited (${code})`)));
});
const api = new URL(apiUrl.replace('localhost', '127.0.0.1'));
const ORIGIN = playgroundUrl;
const EVIL = 'https://evil.example';
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function send(method, path, headers, body) {
  return new Promise((resolve) => {
    const req = request(
      { host: api.hostname, port: api.port, method, path, headers, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
      },
    );
    req.on('error', (error) => resolve({ error }));
    req.end(body);
  });
}

// Log in once: the credentialed scenario sends the session cookie.
const login = await send(
  'POST',
  '/account/login',
  { origin: ORIGIN, 'content-type': 'application/json' },
  '{}',
);
const cookie = String(login.headers?.['set-cookie']?.[0] ?? '').split(';')[0];
if (login.status !== 200 || !cookie) throw new Error(`login failed: ${login.status}`);

const acao = (r) => r.headers['access-control-allow-origin'];
const SCENARIOS = [
  {
    name: 'allowed GET (public *)',
    send: () => send('GET', '/catalog/products', { origin: ORIGIN }),
    ok: (r) => r.status === 200 && acao(r) === '*',
  },
  {
    name: 'allowed GET, exposed header',
    send: () => send('GET', '/catalog/products/sku-1', { origin: ORIGIN }),
    ok: (r) =>
      r.status === 200 &&
      acao(r) === '*' &&
      r.headers['access-control-expose-headers'] === 'x-request-id',
  },
  {
    name: 'denied GET (admin)',
    send: () => send('GET', '/admin/users', { origin: ORIGIN }),
    ok: (r) => r.status === 200 && acao(r) === undefined && /origin/i.test(r.headers.vary ?? ''),
  },
  {
    name: 'preflight allowed',
    send: () =>
      send('OPTIONS', '/cart/items/sku-1', {
        origin: ORIGIN,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      }),
    ok: (r) => r.status === 204 && acao(r) === ORIGIN,
  },
  {
    name: 'preflight denied (header)',
    send: () =>
      send('OPTIONS', '/cart/items/sku-1', {
        origin: ORIGIN,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'x-coupon',
      }),
    ok: (r) => r.status === 403 && acao(r) === undefined,
  },
  {
    name: 'preflight denied (origin)',
    send: () =>
      send('OPTIONS', '/admin/users/7/role', {
        origin: EVIL,
        'access-control-request-method': 'PUT',
      }),
    ok: (r) => r.status === 403 && acao(r) === undefined,
  },
  {
    name: 'credentialed GET',
    send: () => send('GET', '/account/me', { origin: ORIGIN, cookie }),
    ok: (r) =>
      r.status === 200 &&
      acao(r) === ORIGIN &&
      r.headers['access-control-allow-credentials'] === 'true',
  },
  {
    name: 'JSON PUT',
    send: () =>
      send(
        'PUT',
        '/cart/items/sku-1',
        { origin: ORIGIN, 'content-type': 'application/json' },
        '{"quantity":2}',
      ),
    ok: (r) => r.status === 200 && acao(r) === ORIGIN,
  },
  {
    name: '401 from a guard',
    send: () => send('GET', '/orders', { origin: ORIGIN }),
    ok: (r) => r.status === 401 && acao(r) === ORIGIN,
  },
  {
    name: '404',
    send: () => send('GET', '/no/such/path', { origin: ORIGIN }),
    ok: (r) => r.status === 404 && acao(r) === ORIGIN,
  },
  {
    name: 'no Origin',
    send: () => send('GET', '/cart', {}),
    ok: (r) => r.status === 200 && acao(r) === undefined,
  },
];
const stats = SCENARIOS.map((s) => ({
  name: s.name,
  sent: 0,
  unexpected: 0,
  errors: 0,
  example: '',
}));

function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    const ps = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
    return Number(ps.stdout.trim());
  }
}
const samples = [];
const sampler = setInterval(
  () => samples.push({ t: (Date.now() - start) / 1000, rss: rssKiB(server.pid) }),
  1000,
);

console.log(
  `Soak: ${seconds} s, ${concurrency} connections, ${SCENARIOS.length} scenarios, against ${apiUrl}${hasTaskset ? ' (server on core 0, load on core 1)' : ''}`,
);
const start = Date.now();
const deadline = start + seconds * 1000;
let next = 0;
async function worker() {
  while (Date.now() < deadline) {
    const i = next++ % SCENARIOS.length;
    const result = await SCENARIOS[i].send();
    const s = stats[i];
    s.sent++;
    if (result.error) {
      s.errors++;
      s.example ||= String(result.error.message);
    } else if (!SCENARIOS[i].ok(result)) {
      s.unexpected++;
      s.example ||= `${result.status} ${JSON.stringify(result.headers)}`;
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
clearInterval(sampler);
stop();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const afterWarmup = samples.filter((s) => s.t >= warmup).map((s) => s.rss);
const base = median(afterWarmup.slice(0, 5));
const end = median(afterWarmup.slice(-5));
const growth = ((end - base) / base) * 100;
const total = stats.reduce((n, s) => n + s.sent, 0);
const errors = stats.reduce((n, s) => n + s.errors, 0);
const unexpected = stats.reduce((n, s) => n + s.unexpected, 0);

console.log(
  `\n${'scenario'.padEnd(32)}${'sent'.padStart(10)}${'unexpected'.padStart(12)}${'errors'.padStart(8)}`,
);
for (const s of stats) {
  console.log(
    `${s.name.padEnd(32)}${String(s.sent).padStart(10)}${String(s.unexpected).padStart(12)}${String(s.errors).padStart(8)}${s.example ? `  e.g. ${s.example.slice(0, 120)}` : ''}`,
  );
}
console.log(`\nrequests: ${total} in ${seconds} s (${Math.round(total / seconds)} req/s)`);
console.log(`transport errors: ${errors}, unexpected answers: ${unexpected}`);
console.log(
  `server RSS after ${warmup} s warm-up: ${(base / 1024).toFixed(1)} MiB, at the end: ${(end / 1024).toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %), peak ${(Math.max(...afterWarmup) / 1024).toFixed(1)} MiB`,
);
const clean = errors === 0 && unexpected === 0 && growth < 10 && total > 0;
console.log(clean ? 'SOAK CLEAN' : 'SOAK FAILED');
process.exit(clean ? 0 : 1);
