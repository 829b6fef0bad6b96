/**
 * One bench server: `node bench/apps/server.js --variant bare|enableCors|nestjs-cors|floor
 * --routes N --origins N --port P`. Listens on 127.0.0.1; exits cleanly on SIGTERM/SIGINT (so
 * that `--cpu-prof` writes its profile).
 */
import { setTimeout } from 'node:timers';
import { parseArgs } from '../lib/args.js';

const args = parseArgs(process.argv.slice(2), {
  usage: `
Usage: node bench/apps/server.js --variant V --port P [--routes N] [--origins N]

One bench server on 127.0.0.1, started by bench/run.js; exits cleanly on SIGTERM/SIGINT.

  --variant V     bare | enableCors | nestjs-cors | floor (required)
  --port P        port to listen on, 0 = any free one (required)
  --routes N      routes in the app (default 10)
  --origins N     exact origins in the CORS options (default 10)
  -h, --help      print this and exit
`,
  options: {
    variant: {
      type: 'string',
      required: true,
      choices: ['bare', 'enableCors', 'nestjs-cors', 'floor'],
    },
    port: { type: 'number', required: true, integer: true, min: 0 },
    routes: { type: 'number', integer: true, min: 1 },
    origins: { type: 'number', integer: true, min: 1 },
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

let closing = false;
function stop() {
  if (closing) return;
  closing = true;
  // Keep-alive connections of the load generator would hold close() open: do not wait long.
  setTimeout(() => process.exit(0), 500).unref();
  close().then(
    () => process.exit(0),
    () => process.exit(0),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
