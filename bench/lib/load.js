/**
 * The load generator: Debian's `wrk` when it is installed, else autocannon (a devDependency),
 * run in its own process so that it can be pinned to its own core.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./autocannon-worker.js', import.meta.url));

export function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Which tool to use: `wrk` if present (and not `BENCH_TOOL=autocannon`), else autocannon. */
export function pickTool(preferred) {
  if (preferred === 'autocannon') return { name: 'autocannon', version: autocannonVersion() };
  if (hasCommand('wrk')) {
    const out = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
    const version = /wrk\s+(\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? '?';
    return { name: 'wrk', version };
  }
  if (preferred === 'wrk') throw new Error('BENCH_TOOL=wrk but wrk is not installed');
  return { name: 'autocannon', version: autocannonVersion() };
}

function autocannonVersion() {
  const out = spawnSync(
    process.execPath,
    ['-e', "process.stdout.write(require('autocannon/package.json').version)"],
    {
      encoding: 'utf8',
    },
  );
  if (out.status !== 0) throw new Error('neither wrk nor autocannon is installed (npm install)');
  return out.stdout;
}

function run(cmd, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Lua long-bracket string (the values are ASCII and never contain "]==]"). */
function lua(value) {
  return `[==[${value}]==]`;
}

/**
 * wrk's Lua scripts (method and headers of each load) live in one temporary directory of this
 * process, made on first use and removed by closeLoad() and at exit (signals included, where the
 * caller exits from its handler): a run leaves no file behind.
 */
let scriptDir;
/** One script per distinct request, written once and reused by every run of that request. */
const scripts = new Map();

function wrkScript(method, headers) {
  const lines = [`wrk.method = ${lua(method)}`];
  for (const [name, value] of Object.entries(headers))
    lines.push(`wrk.headers[ ${lua(name)} ] = ${lua(value)}`);
  const text = `${lines.join('\n')}\n`;
  let path = scripts.get(text);
  if (path === undefined) {
    if (scriptDir === undefined) {
      scriptDir = mkdtempSync(join(tmpdir(), 'nestjs-cors-bench-'));
      process.once('exit', removeScripts);
    }
    path = join(scriptDir, `load-${scripts.size}.lua`);
    writeFileSync(path, text);
    scripts.set(text, path);
  }
  return path;
}

function removeScripts() {
  if (scriptDir !== undefined) rmSync(scriptDir, { recursive: true, force: true });
  scriptDir = undefined;
  scripts.clear();
}

/**
 * One load run. `pin`: the `taskset` prefix (e.g. ['taskset', '-c', '1']) or [].
 * Returns { rps, requests, non2xx, errors, seconds }.
 */
export async function runLoad(tool, { url, method, headers, duration, connections, pin }) {
  if (tool.name === 'wrk') {
    const script = wrkScript(method, headers);
    const args = [
      '-t1',
      `-c${connections}`,
      `-d${duration}s`,
      '--timeout',
      '5s',
      '-s',
      script,
      url,
    ];
    const [cmd, ...pre] = pin.length > 0 ? [...pin, 'wrk'] : ['wrk'];
    const out = await run(cmd, [...pre, ...args], (duration + 30) * 1000);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const requests = Number(/(\d+) requests in ([\d.]+)(m?s)/.exec(out)?.[1]);
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
    if (!Number.isFinite(rps)) throw new Error(`could not read wrk output:\n${out}`);
    return { rps, requests, non2xx, errors };
  }
  return autocannonJob(pin, { url, method, headers, duration, connections });
}

let worker;
let nextId = 0;
const pending = new Map();

/** One load on the shared autocannon process (started, pinned, on first use). */
function autocannonJob(pin, job) {
  if (worker === undefined) {
    const [cmd, ...pre] = pin.length > 0 ? [...pin, process.execPath] : [process.execPath];
    worker = spawn(cmd, [...pre, WORKER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    worker.on('message', ({ id, result, error }) => {
      const p = pending.get(id);
      pending.delete(id);
      if (error) p?.reject(new Error(`autocannon failed: ${error}`));
      else p?.resolve(result);
    });
    worker.on('exit', (code) => {
      for (const p of pending.values()) p.reject(new Error(`autocannon worker exited (${code})`));
      pending.clear();
      worker = undefined;
    });
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.send({ id, job });
  });
}

/** Stops the autocannon process, if one was started, and removes wrk's scripts. */
export function closeLoad() {
  if (worker !== undefined && worker.connected) worker.disconnect();
  removeScripts();
}
