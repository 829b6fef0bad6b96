/**
 * `originSource` over real HTTP, with an in-memory source the test drives: live origins are
 * allowed next to the static list, reloaded on a notification and by the periodic check, invalid
 * entries are left out and logged once, a failed read keeps the last good list and is logged once
 * per outage, the boot waits for the first load (or starts with the static list when asked to).
 * The Redis source and several app instances are in test/redis/.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Post, type INestApplication } from '@nestjs/common';
import {
  Cors,
  CorsConfigError,
  CorsModule,
  CorsService,
  type CorsModuleOptions,
} from '../../lib/index.js';
import { ADAPTERS, makeApp, type AdapterName } from '../e2e/helpers.js';
import { allowed, LogCapture, memorySource, type MemorySourceOptions } from './support.js';

const STATIC = 'https://static.example';
const ADMIN = 'https://admin.example';
const NEW_STATIC = 'https://new-static.example';
const T1 = 'https://tenant-1.example';
const T2 = 'https://tenant-2.example';
const T3 = 'https://tenant-3.example';
const IN_FORCE = /live origins in force/;

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

@Cors('tenants')
@Controller('t')
class TenantsController {
  @Get()
  list() {
    return [];
  }
  @Post()
  create() {
    return {};
  }
  @Cors({ origin: [ADMIN] })
  @Get('static')
  staticList() {
    return [];
  }
  @Cors({ origin: [ADMIN] })
  @Post('static')
  staticCreate() {
    return {};
  }
}

@Cors({ credentials: true })
@Controller('private')
class PrivateController {
  @Get()
  list() {
    return [];
  }
  @Post()
  create() {
    return {};
  }
}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const controllers = [ItemsController, PrivateController];

/** Boots an app; `/t` (the `tenants` policy) is served when the options name that policy. */
async function boot(options: CorsModuleOptions, adapter: AdapterName) {
  const log = new LogCapture();
  const tenants = options.policies?.tenants === undefined ? [] : [TenantsController];
  app = await makeApp(
    { imports: [CorsModule.forRoot(options)], controllers: [...controllers, ...tenants] },
    (a) => a.useLogger(log),
    adapter,
  );
  return { app, log, cors: app.get(CorsService) };
}

/** Boots with a module-level memory source (credentials on, `STATIC` as the static list). */
async function bootWithSource(adapter: AdapterName, source: MemorySourceOptions = {}) {
  const memory = memorySource({ origins: [T1], ...source });
  const booted = await boot(
    { origin: [STATIC], credentials: true, originSource: memory.source },
    adapter,
  );
  return { ...booted, store: memory.store };
}

/** The error a boot throws. */
async function bootError(options: CorsModuleOptions, adapter: AdapterName): Promise<unknown> {
  return makeApp({ imports: [CorsModule.forRoot(options)], controllers }, undefined, adapter).then(
    () => new Error('the boot did not fail'),
    (e: unknown) => e,
  );
}

function codes(error: unknown): string[] {
  expect(error).toBeInstanceOf(CorsConfigError);
  return (error as CorsConfigError).problems.map((p) => p.code);
}

describe.each(ADAPTERS)('originSource (%s)', (adapter) => {
  it('allows the live origins next to the static list; origins() and the report show both', async () => {
    const { app, cors } = await bootWithSource(adapter);
    expect(await allowed(app, STATIC)).toBe(true);
    expect(await allowed(app, T1)).toBe(true);
    expect(await allowed(app, T2)).toBe(false);
    expect(cors.origins()).toEqual([STATIC, T1]);
    const items = cors.report().find((r) => r.path === '/items' && r.method === 'GET');
    expect(items?.policy?.origins).toEqual([STATIC, T1]);
    expect(cors.originSourceStatus()).toMatchObject({
      source: 'memory store',
      origins: 1,
      version: '1',
      skipped: [],
      failingSince: undefined,
    });
  });

  it('reloads on a notification: an added origin is allowed, a removed one refused', async () => {
    const { app, log, store, cors } = await bootWithSource(adapter);
    store.write([T1, T2]);
    const added = log.next(/live origins in force \(notify/);
    store.notify();
    expect((await added).message).toMatch(/2 live origins in force \(notify, version 2;/);
    expect(await allowed(app, T2)).toBe(true);
    store.write([T2]);
    const removed = log.next(IN_FORCE);
    store.notify();
    await removed;
    expect(await allowed(app, T1)).toBe(false);
    expect(await allowed(app, T2)).toBe(true);
    expect(cors.origins()).toEqual([STATIC, T2]);
  });

  it('the periodic check picks up an unannounced change, and loads nothing while the version stays', async () => {
    const { app, log, store } = await bootWithSource(adapter, { pollMs: 50 });
    store.write([T1, T3]);
    await log.next(/live origins in force \(poll, version 2;/);
    expect(await allowed(app, T3)).toBe(true);
    const loads = store.loads;
    await store.checks(4);
    expect(store.loads).toBe(loads);
    expect(log.matching(IN_FORCE)).toHaveLength(2); // the boot and the change
  });

  it('without version(), the periodic check loads and swaps in only a changed list', async () => {
    const { app, log, store } = await bootWithSource(adapter, { pollMs: 50, versioned: false });
    store.write([T3]);
    await log.next(/1 live origins in force \(poll;/);
    expect(await allowed(app, T3)).toBe(true);
    expect(await allowed(app, T1)).toBe(false);
    await store.checks(4);
    expect(log.matching(IN_FORCE)).toHaveLength(2);
  });

  it('leaves an invalid entry out and logs it once while it stays; the valid ones apply', async () => {
    const { app, log, store, cors } = await bootWithSource(adapter);
    store.write([T1, 'https://*.com', 'null', T2, 'tenant-4.example']);
    const applied = log.next(IN_FORCE);
    store.notify();
    expect((await applied).message).toMatch(/^module \(memory store\): 2 live origins in force/);
    expect(await allowed(app, T2)).toBe(true);
    expect(await allowed(app, 'null')).toBe(false);
    const leftOut = log.matching(/left out/, 'warn').map((l) => l.message);
    expect(leftOut).toEqual([
      'module (memory store): left out "https://*.com": origin pattern "https://*.com" spans a public suffix: anyone can register a name under it',
      'module (memory store): left out "null": origin \'null\' with credentials lets any sandboxed page or file read credentialed responses',
      expect.stringMatching(
        /^module \(memory store\): left out "tenant-4.example": origin "tenant-4.example" has no scheme/,
      ),
    ]);
    expect(cors.originSourceStatus()?.skipped.map((p) => [p.code, p.value, p.where])).toEqual([
      ['public-suffix-wildcard-with-credentials', 'https://*.com', 'module (originSource)'],
      ['null-with-credentials', 'null', 'module (originSource)'],
      ['origin-without-scheme', 'tenant-4.example', 'module (originSource)'],
    ]);
    // A later version with the same bad entries: the new origin applies, nothing is logged again.
    store.write([T1, 'https://*.com', 'null', T2, 'tenant-4.example', T3]);
    const next = log.next(IN_FORCE);
    store.notify();
    await next;
    expect(await allowed(app, T3)).toBe(true);
    expect(log.matching(/left out/)).toHaveLength(3);
    expect(cors.origins()).toEqual([STATIC, T1, T2, T3]);
  });

  it('a failed read keeps the last good list and is logged once per outage', async () => {
    const { app, log, store, cors } = await bootWithSource(adapter, { pollMs: 50 });
    store.failure = new Error('connection refused');
    await log.next(/cannot read the origin source/);
    await store.checks(3);
    const outage = log.matching(/cannot read the origin source/, 'warn');
    expect(outage.map((l) => l.message)).toEqual([
      'module (memory store): cannot read the origin source (connection refused); keeping the last good list (version 1) until it answers',
    ]);
    expect(await allowed(app, T1)).toBe(true);
    expect(cors.originSourceStatus()).toMatchObject({ lastError: 'connection refused' });
    expect(cors.originSourceStatus()?.failingSince).toBeInstanceOf(Date);
    // The store answers again, with another list.
    store.write([T2]);
    const back = log.next(/the origin source answers again after \d+ ms/);
    const applied = log.next(/1 live origins in force \(poll, version 2;/);
    store.failure = undefined;
    await back;
    await applied;
    expect(await allowed(app, T1)).toBe(false);
    expect(await allowed(app, T2)).toBe(true);
    expect(cors.originSourceStatus()).toMatchObject({
      failingSince: undefined,
      lastError: undefined,
    });
    // A second outage is logged again, once.
    store.failure = new Error('connection reset');
    await log.next(/cannot read the origin source \(connection reset\)/);
    await store.checks(3);
    expect(log.matching(/cannot read the origin source/)).toHaveLength(2);
  });

  it('an empty list applies only when the source resolves one, never because a read failed', async () => {
    const { app, log, store, cors } = await bootWithSource(adapter);
    store.failure = new Error('timeout');
    const failed = log.next(/cannot read the origin source/);
    store.notify();
    await failed;
    expect(cors.origins()).toEqual([STATIC, T1]);
    store.failure = undefined;
    store.write([]);
    const emptied = log.next(/0 live origins in force/);
    store.notify();
    await emptied;
    expect(await allowed(app, T1)).toBe(false);
    expect(await allowed(app, STATIC)).toBe(true);
    expect(cors.origins()).toEqual([STATIC]);
  });

  it('a load that hangs past timeoutMs counts as a failed read', async () => {
    const { app, log, store } = await bootWithSource(adapter, { timeoutMs: 100 });
    store.hang = true;
    const failed = log.next(
      /cannot read the origin source \(load\(\) did not answer within 100 ms\)/,
    );
    store.notify();
    await failed;
    expect(await allowed(app, T1)).toBe(true);
  });

  it('a named policy takes its own live origins; the other routes keep theirs', async () => {
    const { source, store } = memorySource({ origins: [T1] });
    const { app, cors, log } = await boot(
      {
        origin: [STATIC],
        policies: { tenants: { origin: [ADMIN], credentials: true, originSource: source } },
      },
      adapter,
    );
    expect(await allowed(app, T1, '/t')).toBe(true);
    expect(await allowed(app, ADMIN, '/t')).toBe(true);
    expect(await allowed(app, T1, '/items')).toBe(false);
    // An inline origin over the named policy replaces its origins, live ones included.
    expect(await allowed(app, T1, '/t/static')).toBe(false);
    expect(await allowed(app, ADMIN, '/t/static')).toBe(true);
    expect(cors.origins('tenants')).toEqual([ADMIN, T1]);
    expect(cors.origins()).toEqual([STATIC]);
    expect(cors.originSourceStatus()).toBeUndefined();
    expect(cors.originSourceStatus('tenants')).toMatchObject({ origins: 1 });
    expect(() => cors.origins('nope')).toThrow(/unknown policy/);
    store.write([T2]);
    const next = log.next(/^policy "tenants" \(memory store\): 1 live origins in force/);
    store.notify();
    await next;
    expect(await allowed(app, T2, '/t')).toBe(true);
    expect(await allowed(app, T2, '/items')).toBe(false);
  });

  it('setOrigins replaces the static part; the live origins stay added to it', async () => {
    const { source, store } = memorySource({ origins: [T1] });
    const { app, cors, log } = await boot(
      { origin: [STATIC], policies: { tenants: { origin: [ADMIN], originSource: source } } },
      adapter,
    );
    cors.setOrigins([NEW_STATIC], 'tenants');
    expect(cors.origins('tenants')).toEqual([NEW_STATIC, T1]);
    expect(await allowed(app, ADMIN, '/t')).toBe(false);
    expect(await allowed(app, T1, '/t')).toBe(true);
    expect(() => cors.setOrigins('*', 'tenants')).toThrow(CorsConfigError);
    expect(() => cors.setOrigins(true, 'tenants')).toThrow(/takes a list of origins/);
    expect(cors.origins('tenants')).toEqual([NEW_STATIC, T1]);
    // A reload keeps the static part set by setOrigins.
    store.write([T2]);
    const next = log.next(IN_FORCE);
    store.notify();
    await next;
    expect(cors.origins('tenants')).toEqual([NEW_STATIC, T2]);
    expect(cors.origins()).toEqual([STATIC]);
    cors.setOrigins(false, 'tenants');
    expect(cors.origins('tenants')).toEqual([T2]);
  });

  it('with no static origin, only the live origins are allowed (never the default "*")', async () => {
    const { source } = memorySource({ origins: [T1] });
    const { app, cors } = await boot({ originSource: source }, adapter);
    expect(await allowed(app, T1)).toBe(true);
    expect(await allowed(app, T2)).toBe(false);
    expect(cors.origins()).toEqual([T1]);
  });

  it('an entry one policy of the same origins refuses is left out for all of them', async () => {
    // /private merges credentials over the module's origins: 'null' is invalid there.
    const { source } = memorySource({ origins: ['null', T1], onBootFailure: 'static' });
    const { app, cors, log } = await boot({ origin: [STATIC], originSource: source }, adapter);
    expect(await allowed(app, T1, '/private')).toBe(true);
    expect(await allowed(app, T1, '/items')).toBe(true);
    expect(await allowed(app, 'null', '/items')).toBe(false);
    expect(cors.originSourceStatus()?.skipped.map((p) => p.code)).toEqual([
      'null-with-credentials',
    ]);
    expect(log.matching(/left out "null"/)).toHaveLength(1);
  });

  it('requests never touch the source: only notifications and the periodic check do', async () => {
    const { app, store } = await bootWithSource(adapter, { pollMs: 60_000 });
    const before = { loads: store.loads, versionChecks: store.versionChecks };
    for (let i = 0; i < 20; i++) {
      expect(await allowed(app, T1)).toBe(true);
      expect(await allowed(app, T2)).toBe(false);
    }
    expect({ loads: store.loads, versionChecks: store.versionChecks }).toEqual(before);
  });

  it('closing the app unsubscribes and closes the source', async () => {
    const { store } = await bootWithSource(adapter);
    expect(store.listeners.size).toBe(1);
    await app!.close();
    app = undefined;
    expect(store.listeners.size).toBe(0);
    expect(store.unsubscribed).toBe(1);
    expect(store.closed).toBe(1);
  });

  describe('boot', () => {
    it('fails when the first load fails, saying how to start without the store', async () => {
      const { source, store } = memorySource();
      store.failure = new Error('connect ECONNREFUSED');
      const error = await bootError({ origin: [STATIC], originSource: source }, adapter);
      expect(codes(error)).toEqual(['origin-source-unavailable']);
      expect((error as Error).message).toContain(
        "module: originSource (memory store): the first load failed: connect ECONNREFUSED. The boot waits for the store; to start with the static origins only and keep retrying, set onBootFailure: 'static' on the source",
      );
      expect(store.closed).toBe(1);
    });

    it('fails when the first list holds an invalid entry, listing each', async () => {
      const { source, store } = memorySource({ origins: [T1, 'https://x.example/path', 42] });
      const error = await bootError({ originSource: source }, adapter);
      expect(codes(error)).toEqual(['origin-has-path', 'invalid-origin-item']);
      expect((error as CorsConfigError).problems[0].where).toBe('module (originSource)');
      expect(store.closed).toBe(1);
    });

    it("with onBootFailure: 'static', starts with the static list, logs an error, then adds the live origins", async () => {
      const memory = memorySource({ origins: [T1], onBootFailure: 'static', pollMs: 50 });
      memory.store.failure = new Error('connect ENOENT');
      const { app, log, cors } = await boot(
        { origin: [STATIC], originSource: memory.source },
        adapter,
      );
      expect(log.matching(/the first load failed/, 'error').map((l) => l.message)).toEqual([
        "module (memory store): the first load failed (connect ENOENT); starting with the static origins only (onBootFailure: 'static'), retrying every 50 ms",
      ]);
      expect(await allowed(app, STATIC)).toBe(true);
      expect(await allowed(app, T1)).toBe(false);
      expect(cors.originSourceStatus()?.failingSince).toBeInstanceOf(Date);
      memory.store.failure = undefined;
      await log.next(IN_FORCE);
      expect(await allowed(app, T1)).toBe(true);
      expect(log.matching(/cannot read the origin source/)).toEqual([]);
    });

    it("with onBootFailure: 'static' and no static origin, nothing is allowed until the store answers", async () => {
      const memory = memorySource({ onBootFailure: 'static' });
      memory.store.failure = new Error('down');
      const { app } = await boot({ originSource: memory.source }, adapter);
      expect(await allowed(app, T1)).toBe(false);
      expect(await allowed(app, 'https://anything.example')).toBe(false);
    });

    it('refuses originSource where it cannot work, each problem where it was declared', async () => {
      @Controller('inline')
      @Cors({ originSource: memorySource().source } as never)
      class InlineController {
        @Get()
        get() {
          return [];
        }
      }
      const { source } = memorySource();
      const options: CorsModuleOptions = {
        origin: '*',
        originSource: source,
        paths: { '/docs': { originSource: source } as never },
        policies: {
          reflect: { origin: true, originSource: source },
          fn: { origin: () => true, originSource: source },
          broken: { originSource: {} as never },
          slow: { originSource: { ...source, pollMs: 10, onBootFailure: 'later' as never } },
          hooks: { originSource: { ...source, subscribe: 'yes' as never } },
        },
      };
      const error = await makeApp(
        { imports: [CorsModule.forRoot(options)], controllers: [InlineController] },
        undefined,
        adapter,
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      const problems = (error as CorsConfigError).problems.map((p) => `${p.where}: ${p.code}`);
      expect(problems.sort()).toEqual(
        [
          'module: origin-source-needs-list',
          'policy "reflect": origin-source-needs-list',
          'policy "fn": origin-source-needs-list',
          'policy "broken": invalid-origin-source',
          'policy "slow": invalid-origin-source',
          'policy "slow": invalid-origin-source',
          'policy "hooks": invalid-origin-source',
          'paths["/docs"]: origin-source-inline',
          'InlineController: origin-source-inline',
        ].sort(),
      );
    });
  });
});
