/**
 * Diagnostics: the policy report, the boot table under `debug`, and one log line per denial
 * (with `debug: true`, or at Nest's debug level without it).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Put, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cors, CorsModule, CorsService, type CorsModuleOptions } from '../../lib/index.js';
import { get, preflight } from './helpers.js';

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

async function start(options: CorsModuleOptions, logger: LoggerService | false) {
  const moduleRef = await Test.createTestingModule({
    imports: [CorsModule.forRoot(options)],
    controllers: [NotesController],
  }).compile();
  app = moduleRef.createNestApplication({ logger });
  await app.init();
  return app;
}

const OPTIONS: CorsModuleOptions = {
  origin: [APP],
  policies: { admin: { origin: ['https://admin.example'], credentials: true, maxAge: 60 } },
};

describe('diagnostics', () => {
  it('report(): every route with its source and effective policy', async () => {
    const started = await start(OPTIONS, false);
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
    const started = await start({ ...OPTIONS, debug: true }, logger);
    expect(logger.lines.some((l) => l.message.includes('CORS policy table'))).toBe(true);
    await preflight(started, '/notes/1', APP, 'PUT').expect(403);
    await get(started, '/notes', EVIL).expect(200);
    const denials = logger.lines.filter((l) => l.message.startsWith('CORS denied'));
    expect(denials.map((l) => l.message)).toEqual([
      `CORS denied preflight PUT /notes/1 from "${APP}" → NotesController.update: the Origin is not allowed by the policy (policy "admin")`,
      `CORS denied request GET /notes from "${EVIL}" → NotesController.list: the Origin is not allowed by the policy (module)`,
    ]);
  });

  it("without debug, denials go to Nest's debug level only", async () => {
    const quiet = new CapturingLogger(['log', 'debug']);
    const started = await start(OPTIONS, quiet);
    started.useLogger(quiet);
    await get(started, '/notes', EVIL).expect(200);
    const denial = quiet.lines.find((l) => l.message.startsWith('CORS denied'));
    expect(denial?.level).toBe('debug');
  });
});
