/**
 * (f) One boot sample, in a fresh process: ms from `NestFactory.create` to `app.init()` done for an
 * app of `--routes N` of `--variant`. Module import and controller building happen before the
 * clock starts. Prints { ms } on stdout.
 */
import { NestFactory } from '@nestjs/core';
import { parseArgs } from './lib/args.js';
import { corsOptions } from './apps/config.js';
import { makeAppModule } from './apps/nest-app.js';

const args = parseArgs(process.argv.slice(2), {
  usage: `
Usage: node bench/boot.js --variant V [--routes N] [--origins N]

One boot sample of scenario (f), run by bench/run.js: ms from NestFactory.create to app.init()
done, printed as JSON ({ "ms": … }) on stdout.

  --variant V     bare | enableCors | nestjs-cors (required)
  --routes N      routes in the app (default 1000)
  --origins N     exact origins in the CORS options (default 10)
  -h, --help      print this and exit
`,
  options: {
    variant: { type: 'string', required: true, choices: ['bare', 'enableCors', 'nestjs-cors'] },
    routes: { type: 'number', integer: true, min: 1 },
    origins: { type: 'number', integer: true, min: 1 },
  },
});
const variant = args.variant;
const routes = args.routes ?? 1000;
const origins = args.origins ?? 10;

const AppModule = await makeAppModule({ variant, routes, origins });
const t0 = process.hrtime.bigint();
const app = await NestFactory.create(AppModule, { logger: false });
if (variant === 'enableCors') app.enableCors(corsOptions(origins));
await app.init();
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
await app.close();
process.stdout.write(JSON.stringify({ ms }));
