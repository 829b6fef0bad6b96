/**
 * One app instance for the two-instance test (its own Node process): the built package, as an
 * app imports it (`nestjs-cors`, `nestjs-cors/redis`), on the adapter named by ADAPTER, with its
 * origins in the Redis at REDIS_SOCKET under ORIGINS_KEY. Plain JavaScript (decorators applied
 * as functions) so that it runs on dist/ without a compiler.
 *
 * It prints one JSON line per log line on stdout ({ t, level, message }), { check: true } each
 * time a periodic check of the source settles, and { ready: true, port } once it listens. Routes: GET/POST /items (CORS), POST /admin/origins
 * { origin } and DELETE /admin/origins?origin=… (through RedisOriginSource: 400 with the problem
 * codes when invalid), GET /admin/status (the source's status, the origins in force, RSS).
 */
import 'reflect-metadata';
import { Body, Controller, Delete, Get, HttpException, Module, Post, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { CorsConfigError, CorsModule, CorsService } from 'nestjs-cors';
import { RedisOriginSource } from 'nestjs-cors/redis';

const { REDIS_SOCKET, ORIGINS_KEY, POLL_MS, ADAPTER } = process.env;

const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const logger = Object.fromEntries(
  ['log', 'warn', 'error', 'debug', 'verbose', 'fatal'].map((level) => [
    level,
    (message) => print({ t: Date.now(), level, message: String(message) }),
  ]),
);

// The app's own client. Its errors while Redis is down are the app's business (here: none
// printed); the source reports outages itself, once.
const client = new Redis({ path: REDIS_SOCKET, maxRetriesPerRequest: 1 });
client.on('error', () => undefined);
const source = new RedisOriginSource({ client, key: ORIGINS_KEY, pollMs: Number(POLL_MS) });
// Each periodic check of the source, once it settled, as a line the test can await.
const version = source.version.bind(source);
source.version = () => version().finally(() => print({ check: true }));

class ItemsController {
  list() {
    return [];
  }
  create() {
    return {};
  }
}

class AdminController {
  constructor(cors) {
    this.cors = cors;
  }
  async add(body) {
    return { added: await write(() => source.add(body.origin)) };
  }
  async remove(origin) {
    return { removed: await write(() => source.remove(origin)) };
  }
  status() {
    const status = this.cors.originSourceStatus();
    return { status, origins: this.cors.origins().length, rss: process.memoryUsage().rss };
  }
}

/** A write through the source: an invalid origin is a 400 listing the problem codes. */
async function write(action) {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof CorsConfigError)) throw error;
    throw new HttpException({ codes: error.problems.map((p) => p.code) }, 400);
  }
}

const method = (target, key, ...decorators) => {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, key);
  for (const decorator of decorators) decorator(target.prototype, key, descriptor);
};
method(ItemsController, 'list', Get());
method(ItemsController, 'create', Post());
Controller('items')(ItemsController);
Body()(AdminController.prototype, 'add', 0);
method(AdminController, 'add', Post('origins'));
Query('origin')(AdminController.prototype, 'remove', 0);
method(AdminController, 'remove', Delete('origins'));
method(AdminController, 'status', Get('status'));
Reflect.defineMetadata('design:paramtypes', [CorsService], AdminController);
Controller('admin')(AdminController);

class AppModule {}
Module({
  imports: [
    CorsModule.forRoot({
      origin: ['https://static.example'],
      credentials: true,
      originSource: source,
    }),
  ],
  controllers: [ItemsController, AdminController],
})(AppModule);

const app =
  ADAPTER === 'fastify'
    ? await NestFactory.create(AppModule, new FastifyAdapter(), { logger })
    : await NestFactory.create(AppModule, { logger });
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
print({ ready: true, port: app.getHttpServer().address().port });
process.on('SIGTERM', () => client.disconnect());
