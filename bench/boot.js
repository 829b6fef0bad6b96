/**
 * (f) One boot sample, in a fresh process: ms from `NestFactory.create` to `app.init()` done for an
 * app of `--routes N` of `--variant`. Module import and controller building happen before the
 * clock starts. Prints { ms } on stdout.
 */
import { NestFactory } from '@nestjs/core';
import { parseArgs } from './lib/args.js';
import { corsOptions } from './apps/config.js';
import { makeAppModule } from './apps/nest-app.js';

const args = parseArgs(process.argv.slice(2));
const variant = String(args.variant);
const routes = Number(args.routes ?? 1000);
const origins = Number(args.origins ?? 10);

const AppModule = await makeAppModule({ variant, routes, origins });
const t0 = process.hrtime.bigint();
const app = await NestFactory.create(AppModule, { logger: false });
if (variant === 'enableCors') app.enableCors(corsOptions(origins));
await app.init();
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
await app.close();
process.stdout.write(JSON.stringify({ ms }));
