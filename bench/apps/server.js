/**
 * One bench server: `node bench/apps/server.js --variant V --routes N --origins N --port P`,
 * V one of bare | enableCors | nestjs-cors | noop-use (Express), the same with `-fastify`
 * (FastifyAdapter), floor (raw Express) or floor-fastify. With `--alloc-profile FILE`, SIGUSR2 starts V8's
 * sampling heap profiler (objects the GC already collected included: every allocation counts), and
 * the profile goes to FILE on exit. Listens on 127.0.0.1; exits cleanly on SIGTERM/SIGINT (so
 * that `--cpu-prof` writes its profile).
 */
import { writeFileSync } from 'node:fs';
import { setTimeout } from 'node:timers';
import { parseArgs } from '../lib/args.js';
import { VARIANTS } from './config.js';

const args = parseArgs(process.argv.slice(2), {
  usage: `
Usage: node bench/apps/server.js --variant V --port P [--routes N] [--origins N]

One bench server on 127.0.0.1, started by bench/run.js; exits cleanly on SIGTERM/SIGINT.

  --variant V     bare | enableCors | nestjs-cors | noop-use (Express), the same with
                  -fastify (bare-fastify, …: the FastifyAdapter), floor (raw Express) or
                  floor-fastify (required)
  --port P        port to listen on, 0 = any free one (required)
  --routes N      routes in the app (default 10)
  --origins N     exact origins in the CORS options (default 10)
  --alloc-profile FILE
                  on SIGUSR2, start sampling allocations (V8's sampling heap profiler, collected
                  objects included); write the profile to FILE on exit
  -h, --help      print this and exit
`,
  options: {
    variant: {
      type: 'string',
      required: true,
      choices: [...VARIANTS, 'floor'],
    },
    port: { type: 'number', required: true, integer: true, min: 0 },
    routes: { type: 'number', integer: true, min: 1 },
    origins: { type: 'number', integer: true, min: 1 },
    'alloc-profile': { type: 'string' },
  },
});
const variant = args.variant;
const routes = args.routes ?? 10;
const origins = args.origins ?? 10;
const port = args.port;

let close;
if (variant === 'floor') {
  const { createFloorApp } = await import('./floor.js');
  const server = createFloorApp({ origins }).listen(port, '127.0.0.1');
  close = () => new Promise((resolve) => server.close(() => resolve()));
} else {
  const { createApp } = await import('./nest-app.js');
  const app = await createApp({ variant, routes, origins });
  await app.listen(port, '127.0.0.1');
  close = () => app.close();
}

/** Allocation sampling (`--alloc-profile`): started by SIGUSR2, written on exit. */
let sampling;
const allocFile = args['alloc-profile'];
if (allocFile !== undefined) {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  process.on('SIGUSR2', () => {
    sampling ??= session
      .post('HeapProfiler.startSampling', {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      })
      .then(() => async () => {
        const { profile } = await session.post('HeapProfiler.stopSampling');
        writeFileSync(allocFile, JSON.stringify(profile));
      });
  });
}

let closing = false;
function stop() {
  if (closing) return;
  closing = true;
  const written = sampling === undefined ? Promise.resolve() : sampling.then((write) => write());
  written.then(
    () => {
      // Keep-alive connections of the load generator would hold close() open: do not wait long.
      setTimeout(() => process.exit(0), 500).unref();
      close().then(
        () => process.exit(0),
        () => process.exit(0),
      );
    },
    (error) => {
      process.stderr.write(`allocation profile not written: ${error?.stack ?? error}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
