/**
 * Diagnostics: the policy report, the boot table under `debug`, and one log line per denial
 * (with `debug: true`, or at Nest's debug level without it). Under both HTTP adapters.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Put, type INestApplication, type LoggerService } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Cors, CorsModule, CorsService, type CorsModuleOptions } from '../../lib/index.js';
import { ADAPTERS, get, preflight, type AdapterName } from './helpers.js';

const APP = 'https://app.example';
const EVIL = 'https://evil.example';

@Controller('notes')
class NotesController {
  @Get()
  list() {
    return [];
  }

  @Cors('admin')
  @Put(':id')
  update() {
    return 'ok';
  }
}

class CapturingLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];
  constructor(private readonly levels: string[]) {}
  private add(level: string, message: unknown) {
    if (this.levels.includes(level)) this.lines.push({ level, message: String(message) });
  }
  log(m: unknown) {
    this.add('log', m);
  }
  error(m: unknown) {
    this.add('error', m);
  }
  warn(m: unknown) {
    this.add('warn', m);
  }
  debug(m: unknown) {
    this.add('debug', m);
  }
  verbose(m: unknown) {
    this.add('verbose', m);
  }
}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** An app on `adapter` whose logs go to `logger` (the e2e helpers boot without a logger). */
async function start(
  adapter: AdapterName,
  options: CorsModuleOptions,
  logger: LoggerService | false,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [CorsModule.forRoot(options)],
    controllers: [NotesController],
  }).compile();
  const created =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger })
      : moduleRef.createNestApplication({ logger });
  app = created;
  await created.init();
  if (adapter === 'fastify') {
    await (created as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  }
  return created;
}

const OPTIONS: CorsModuleOptions = {
  origin: [APP],
  policies: { admin: { origin: ['https://admin.example'], credentials: true, maxAge: 60 } },
};

describe.each(ADAPTERS)('%s: diagnostics', (adapter) => {
  it('report(): every route with its source and effective policy', async () => {
    const started = await start(adapter, OPTIONS, false);
    const report = started.get(CorsService).report();
    expect(report).toEqual([
      {
        method: 'GET',
        path: '/notes',
        handler: 'NotesController.list',
        source: 'module',
        policy: expect.objectContaining({ origins: [APP], credentials: false, maxAge: undefined }),
      },
      {
        method: 'PUT',
        path: '/notes/:id',
        handler: 'NotesController.update',
        source: 'policy "admin"',
        policy: expect.objectContaining({
          origins: ['https://admin.example'],
          credentials: true,
          maxAge: 60,
        }),
      },
    ]);
  });

  it('debug: true prints the table at boot and logs each denial on one line', async () => {
    const logger = new CapturingLogger(['log']);
    const started = await start(adapter, { ...OPTIONS, debug: true }, logger);
    expect(logger.lines.some((l) => l.message.includes('CORS policy table'))).toBe(true);
    await preflight(started, '/notes/1', APP, 'PUT').expect(403);
    await get(started, '/notes', EVIL).expect(200);
    const denials = logger.lines.filter((l) => l.message.startsWith('CORS denied'));
    expect(denials.map((l) => l.message)).toEqual([
      `CORS denied preflight PUT /notes/1 from "${APP}" → NotesController.update: the Origin is not allowed by the policy (policy "admin")`,
      `CORS denied request GET /notes from "${EVIL}" → NotesController.list: the Origin is not allowed by the policy (module)`,
    ]);
  });

  it('without debug: true there is no denial line, whatever the log level', async () => {
    const everything = new CapturingLogger(['log', 'debug', 'verbose', 'warn', 'error']);
    const started = await start(adapter, OPTIONS, everything);
    await get(started, '/notes', EVIL).expect(200);
    await preflight(started, '/notes/1', EVIL, 'PUT').expect(403);
    expect(everything.lines.filter((l) => l.message.includes('CORS denied'))).toEqual([]);
  });

  it('same-origin requests are not denials and are not logged', async () => {
    const logger = new CapturingLogger(['log']);
    const started = await start(adapter, { ...OPTIONS, debug: true }, logger);
    const server = started.getHttpServer();
    await started.listen(0, '127.0.0.1');
    const { port } = server.address() as { port: number };
    const self = `http://127.0.0.1:${port}`;
    // A same-origin POST carries Origin; the policy does not list it, and need not.
    const res = await get(started, '/notes', self).set('Host', `127.0.0.1:${port}`).expect(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(logger.lines.filter((l) => l.message.startsWith('CORS denied'))).toEqual([]);
  });

  it('escapes quotes and backslashes inside the quoted origin', async () => {
    const logger = new CapturingLogger(['log']);
    const started = await start(adapter, { ...OPTIONS, debug: true }, logger);
    await get(started, '/notes', 'https://a"b\\c.example').expect(200);
    const denial = logger.lines.find((l) => l.message.startsWith('CORS denied'));
    expect(denial?.message).toContain('from "https://a\\x22b\\x5cc.example"');
  });
});
