/**
 * The README's multi-tenant recipe ("Origin lists shared by several instances"), as it is written
 * there, on a real Redis: the tenant table is the source of truth, `resync()` initialises the
 * store, `create()` validates before writing, and every change reaches the app through Redis.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Post, type INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { CorsConfigError, CorsModule } from '../../lib/index.js';
import { RedisOriginSource } from '../../lib/redis/index.js';
import { ADAPTERS, makeApp } from '../e2e/helpers.js';
import { allowed, LogCapture } from '../live/support.js';
import { connect, redisTarget, subscribers, uniqueKey, type RedisTarget } from './support.js';

/** The tenant table (an in-memory stand-in for the app's database). */
class TenantRepository {
  readonly rows = new Map<string, { name: string; origin: string }>();
  async insert(row: { name: string; origin: string }) {
    this.rows.set(row.name, row);
    return { id: row.name, ...row };
  }
  async delete(id: string) {
    const row = this.rows.get(id)!;
    this.rows.delete(id);
    return row;
  }
  async allOrigins() {
    return [...this.rows.values()].map((r) => r.origin);
  }
}

let target: RedisTarget;
let redis: Redis;
let tenantOrigins: RedisOriginSource;

// README: multi-tenant recipe
@Injectable()
export class TenantService {
  constructor(private readonly db: TenantRepository) {}

  async create(name: string, domain: string) {
    const origin = tenantOrigins.canonical(domain); // CorsConfigError before anything is written
    const tenant = await this.db.insert({ name, origin });
    await tenantOrigins.add(origin); // every replica allows it within milliseconds
    return tenant;
  }

  async remove(id: string) {
    const tenant = await this.db.delete(id);
    await tenantOrigins.remove(tenant.origin);
  }

  /** A release step or a scheduled job (and after Redis lost its data): the database wins. */
  async resync() {
    await tenantOrigins.replace(await this.db.allOrigins());
  }
}
// end README

@Controller('items')
class ItemsController {
  @Get()
  list() {
    return [];
  }
  @Post()
  create() {
    return {};
  }
}

beforeAll(async () => {
  target = await redisTarget();
  redis = connect(target.options);
});

afterAll(async () => {
  redis?.disconnect();
  await target?.release();
});

describe.each(ADAPTERS)('README: a multi-tenant recipe (%s)', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await tenantOrigins?.close();
  });

  it('the tenant table drives the list every instance allows', async () => {
    tenantOrigins = new RedisOriginSource({ client: redis, key: uniqueKey('cors:tenant-origins') });
    const db = new TenantRepository();
    const tenants = new TenantService(db);
    await db.insert({ name: 'acme', origin: 'https://acme.example' });
    await tenants.resync(); // before the first boot: the store is given its list
    const log = new LogCapture();
    app = await makeApp(
      {
        imports: [
          CorsModule.forRoot({
            origin: ['https://app.example.com'],
            credentials: true,
            originSource: tenantOrigins,
          }),
        ],
        controllers: [ItemsController],
      },
      (a) => a.useLogger(log),
      adapter,
    );
    expect(await allowed(app, 'https://acme.example')).toBe(true);
    expect(await allowed(app, 'https://app.example.com')).toBe(true);
    await subscribers(redis, tenantOrigins.channel, 1);

    const created = log.next(/2 live origins in force/);
    expect(await tenants.create('shop', 'HTTPS://Shop.Example')).toEqual({
      id: 'shop',
      name: 'shop',
      origin: 'https://shop.example',
    });
    await created;
    expect(await allowed(app, 'https://shop.example')).toBe(true);

    await expect(tenants.create('evil', 'https://*.com')).rejects.toThrow(CorsConfigError);
    expect([...db.rows.keys()]).toEqual(['acme', 'shop']);

    const removed = log.next(/1 live origins in force/);
    await tenants.remove('acme');
    await removed;
    expect(await allowed(app, 'https://acme.example')).toBe(false);

    // Redis lost its data (and missed a tenant meanwhile): the app keeps its list; resync()
    // from the table restores the store, the missed tenant included.
    await redis.del(tenantOrigins.key, tenantOrigins.versionKey);
    await db.insert({ name: 'late', origin: 'https://late.example' });
    expect(await tenantOrigins.initialized()).toBe(false);
    expect(await allowed(app, 'https://shop.example')).toBe(true);
    const restored = log.next(/2 live origins in force/);
    await tenants.resync();
    await restored;
    expect(await allowed(app, 'https://shop.example')).toBe(true);
    expect(await allowed(app, 'https://late.example')).toBe(true);
  });
});
