/**
 * Hostile `Origin` values, the way CORS misconfiguration scanners probe (PortSwigger's research,
 * CORScanner, Corsy): against exact origins, subdomain and port patterns, anchored, flagged and
 * unanchored RegExps and reflection. Expected: a denial with no `Access-Control-*` header at all,
 * in the engine (`decide`) and over HTTP against a real Nest app (never a 5xx), on each HTTP
 * adapter.
 * cors-rules.md §1.5, §1.12, §2 items 2, 3, 8, 9.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import {
  acNames,
  ATTACK_CLASSES,
  attacksFor,
  bootApp,
  buildRequest,
  compile,
  decideFor,
  ENFORCE_POLICY,
  httpMeaningful,
  mapLimit,
  POLICIES,
  probeController,
  rawExchange,
  show,
  type OriginInput,
  type PolicyUnderTest,
  type RawResult,
  type RequestShape,
} from './support.js';
import { ADAPTERS, type AdapterName } from '../e2e/helpers.js';

const SHAPES: RequestShape[] = ['GET', 'PUT', 'OPTIONS', 'preflight'];

// ----- engine ----------------------------------------------------------------------------------

describe('hostile Origin values, engine: decide() denies with no Access-Control-* header', () => {
  for (const p of POLICIES) {
    describe(`policy "${p.name}"`, () => {
      const policy = compile(p.options);

      it('sanity: its legitimate origins are allowed (the suite is not vacuous)', async () => {
        for (const origin of p.legit) {
          for (const shape of SHAPES) {
            const d = await decideFor(policy, origin, shape);
            expect({ origin, shape, acao: d.headers['Access-Control-Allow-Origin'] }).toEqual({
              origin,
              shape,
              acao: origin,
            });
          }
        }
      });

      for (const cls of ATTACK_CLASSES) {
        const inputs = attacksFor(p, cls);
        if (inputs.length === 0) continue;
        it(`${cls}: ${inputs.length} inputs`, async () => {
          const failures: unknown[] = [];
          for (const input of inputs) {
            for (const shape of SHAPES) {
              const d = await decideFor(policy, input, shape);
              const leaked = acNames(d.headers);
              const statusOk = shape !== 'preflight' || d.status === 403;
              if (d.allowed || leaked.length > 0 || !statusOk) {
                failures.push({ input: show(input), shape, status: d.status, headers: d.headers });
              }
            }
          }
          expect(failures).toEqual([]);
        });
      }
    });
  }
});

/** The warnings logged at boot by `CorsModule.forRoot({ origin: [re] })` on `adapter`. */
async function bootWarnings(adapter: AdapterName, re: RegExp): Promise<string[]> {
  const warnings: string[] = [];
  const ignore = () => undefined;
  const logger: LoggerService = {
    log: ignore,
    error: ignore,
    debug: ignore,
    verbose: ignore,
    warn: (message: unknown) => {
      warnings.push(String(message));
    },
  };
  const { app } = await bootApp(
    adapter,
    { origin: [re] },
    [probeController('w', ['GET'], null)],
    logger,
  );
  await app.close();
  return warnings;
}

describe('hostile Origin values, engine: boundaries and configuration', () => {
  it('reflect: a valid 326-byte origin is echoed, 327 bytes are refused before any scan', async () => {
    const host = `${'a'.repeat(62)}b.`.repeat(4).slice(0, 249) + '.com';
    const longest = `${'s'.repeat(64)}://${host}:65535`;
    expect(longest).toHaveLength(326);
    const policy = compile({ origin: true });
    const ok = await decideFor(policy, longest, 'GET');
    expect(ok.headers['Access-Control-Allow-Origin']).toBe(longest);
    for (const tooLong of [`${longest}5`, `s${longest}`, `${longest.slice(0, -6)}:655355`]) {
      const d = await decideFor(policy, tooLong, 'GET');
      expect({ tooLong: tooLong.length, headers: d.headers }).toEqual({
        tooLong: tooLong.length,
        headers: {},
      });
    }
  });

  it('subdomain pattern: a 253-byte host matches, a 254-byte one does not', async () => {
    const policy = compile({ origin: ['https://*.example.com'] });
    const label = `${'a'.repeat(62)}b.`;
    const host253 = (label.repeat(4).slice(0, 253 - '.example.com'.length - 1) + 'c').concat(
      '.example.com',
    );
    expect(host253).toHaveLength(253);
    const ok = await decideFor(policy, `https://${host253}`, 'GET');
    expect(ok.allowed).toBe(true);
    const d = await decideFor(policy, `https://a${host253}`, 'GET');
    expect(d.headers).toEqual({});
  });

  it('a RegExp with g/y flags stays stateless: the same origin is allowed every time', async () => {
    const policy = compile({ origin: [/^https:\/\/app\.example\.com$/gy] });
    for (let i = 0; i < 5; i++) {
      const d = await decideFor(policy, 'https://app.example.com', i % 2 ? 'GET' : 'preflight');
      expect(d.headers['Access-Control-Allow-Origin']).toBe('https://app.example.com');
    }
  });
});

// ----- HTTP ------------------------------------------------------------------------------------------

const HTTP_POLICIES: PolicyUnderTest[] = [...POLICIES, ENFORCE_POLICY];

function originLines(value: OriginInput): Array<[string, string]> {
  return (Array.isArray(value) ? value : [value]).map((v) => ['Origin', v]);
}

/**
 * Node answers 400 (bad bytes) or 431 (headers > 16 KiB) before any middleware runs (on Fastify,
 * through its own clientError handler, with the same statuses).
 */
const REJECTED_BY_NODE = new Set([400, 431]);

describe.each(ADAPTERS)('%s', (adapter) => {
  describe('hostile Origin values at boot: an unanchored RegExp is a warning', () => {
    it('an unanchored RegExp is a boot warning (the only protection of its users)', async () => {
      for (const re of [/example\.com/, /^https:\/\/example\.com/, /example\.com$/]) {
        const warnings = await bootWarnings(adapter, re);
        expect({ re: String(re), warned: warnings.some((w) => w.includes(String(re))) }).toEqual({
          re: String(re),
          warned: true,
        });
      }
    });

    it('a top-level alternation is unanchored too: ^a|b$ warns (it allows "a.evil.com")', async () => {
      // `^https://app\.example\.com|https://admin\.example\.com$` starts with ^ and ends with $,
      // but each alternative is anchored on one side only, so it matches
      // `https://app.example.com.evil.com` (cors-rules §2 item 2: an unanchored RegExp is a boot
      // warning; §2 item 8: every unsafe configuration is reported at boot).
      const re = /^https:\/\/app\.example\.com|https:\/\/admin\.example\.com$/;
      const d = await decideFor(
        compile({ origin: [re] }),
        'https://app.example.com.evil.com',
        'GET',
      );
      const warnings = await bootWarnings(adapter, re);
      expect({
        allowedByTheRegExp: d.allowed,
        warned: warnings.some((w) => w.includes(String(re))),
      }).toEqual({ allowedByTheRegExp: true, warned: true });
    });
  });

  describe('hostile Origin values over HTTP: a real Nest app denies, no Access-Control-*, no 5xx', () => {
    let app: INestApplication;
    let port: number;

    beforeAll(async () => {
      const policies = Object.fromEntries(HTTP_POLICIES.map((p) => [p.name, p.options]));
      ({ app, port } = await bootApp(
        adapter,
        { routes: 'decorated', debug: true, policies },
        HTTP_POLICIES.map((p) => probeController(p.name)),
      ));
    });

    afterAll(async () => {
      await app?.close();
    });

    async function exchange(
      p: PolicyUnderTest,
      input: OriginInput,
      kind: 'GET' | 'PUT' | 'preflight',
    ): Promise<RawResult> {
      const lines = originLines(input);
      if (kind === 'preflight') {
        lines.push(['Access-Control-Request-Method', 'PUT']);
        lines.push(['Access-Control-Request-Headers', 'content-type']);
      }
      const method = kind === 'preflight' ? 'OPTIONS' : kind;
      return rawExchange(port, buildRequest(method, `/${p.name}`, port, lines));
    }

    it('sanity: legitimate origins are allowed over HTTP', async () => {
      for (const p of HTTP_POLICIES) {
        for (const origin of p.legit) {
          const get = await exchange(p, origin, 'GET');
          const pre = await exchange(p, origin, 'preflight');
          expect({
            policy: p.name,
            origin,
            get: [get.status, get.headers['access-control-allow-origin']],
            pre: [pre.status, pre.headers['access-control-allow-origin']],
          }).toEqual({
            policy: p.name,
            origin,
            get: [200, [origin]],
            pre: [204, [origin]],
          });
        }
      }
    });

    for (const p of HTTP_POLICIES) {
      describe(`policy "${p.name}"`, () => {
        for (const cls of ATTACK_CLASSES) {
          const inputs = attacksFor(p, cls).filter((v) => httpMeaningful(p, v));
          if (inputs.length === 0) continue;
          it(`${cls}: ${inputs.length} inputs`, async () => {
            const kinds: Array<'GET' | 'PUT' | 'preflight'> =
              p.name === ENFORCE_POLICY.name ? ['GET', 'PUT', 'preflight'] : ['GET', 'preflight'];
            const jobs = inputs.flatMap((input) => kinds.map((kind) => ({ input, kind })));
            const results = await mapLimit(jobs, 16, async (job) => ({
              ...job,
              res: await exchange(p, job.input, job.kind),
            }));
            const failures: unknown[] = [];
            for (const { input, kind, res } of results) {
              const leaked = acNames(res.headers);
              // CR/LF bytes restructure the request on the wire (an early end of the header block
              // turns a preflight into a plain OPTIONS): only "no CORS header, no 5xx" is asserted.
              const restructured = typeof input === 'string' && /[\r\n]/.test(input);
              const expected =
                REJECTED_BY_NODE.has(res.status) || restructured
                  ? res.status
                  : kind === 'preflight' || p.options.enforce
                    ? 403
                    : 200;
              if (leaked.length > 0 || res.status !== expected || res.status >= 500) {
                failures.push({ input: show(input), kind, status: res.status, leaked });
              }
            }
            expect(failures).toEqual([]);
          });
        }
      });
    }

    it('several Origin lines, with mixed header-name case, are one joined value: denied', async () => {
      const p = POLICIES[0];
      const variants: Array<Array<[string, string]>> = [
        [
          ['Origin', 'https://example.com'],
          ['origin', 'https://example.com'],
        ],
        [
          ['ORIGIN', 'https://evil.com'],
          ['Origin', 'https://example.com'],
        ],
        [
          ['Origin', ''],
          ['oRiGiN', 'https://example.com'],
        ],
      ];
      for (const lines of variants) {
        for (const kind of ['GET', 'OPTIONS'] as const) {
          const all: Array<[string, string]> =
            kind === 'OPTIONS' ? [...lines, ['Access-Control-Request-Method', 'PUT']] : lines;
          const res = await rawExchange(port, buildRequest(kind, `/${p.name}`, port, all));
          expect({ lines, kind, status: res.status, leaked: acNames(res.headers) }).toEqual({
            lines,
            kind,
            status: kind === 'OPTIONS' ? 403 : 200,
            leaked: [],
          });
        }
      }
    });

    it('absolute-form targets and a Host naming the allowed origin change nothing: denied', async () => {
      const p = POLICIES[0];
      const failures: unknown[] = [];
      for (const target of [
        `http://example.com/${p.name}`,
        `https://example.com/${p.name}?x=1`,
        `http://127.0.0.1:${port}/${p.name}`,
      ]) {
        for (const origin of ['https://evil.com', 'https://example.com.evil.com', 'null']) {
          for (const kind of ['GET', 'OPTIONS'] as const) {
            const lines: Array<[string, string]> = [['Origin', origin]];
            if (kind === 'OPTIONS') lines.push(['Access-Control-Request-Method', 'PUT']);
            const raw = buildRequest(kind, target, port, lines)
              .toString('latin1')
              .replace(/^Host: .*$/m, 'Host: example.com');
            const res = await rawExchange(port, Buffer.from(raw, 'latin1'));
            const expected = kind === 'OPTIONS' ? 403 : 200;
            if (res.status !== expected || acNames(res.headers).length > 0) {
              failures.push({
                target,
                origin,
                kind,
                status: res.status,
                leaked: acNames(res.headers),
              });
            }
          }
        }
      }
      expect(failures).toEqual([]);
    });

    it('an Origin line folded onto the next line (obs-fold) is refused by Node, not a 5xx', async () => {
      const p = POLICIES[0];
      const raw = Buffer.from(
        `GET /${p.name} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://example.com\r\n .evil.com\r\nConnection: close\r\n\r\n`,
        'latin1',
      );
      const res = await rawExchange(port, raw);
      expect({ status: res.status, leaked: acNames(res.headers) }).toEqual({
        status: 400,
        leaked: [],
      });
    });
  });

  describe('hostile Origin values over HTTP: module defaults, a 404 path, and the denial log', () => {
    const p = POLICIES[0];
    // Every class, its first inputs: the route and 404 paths take the same middleware path.
    const sample: OriginInput[] = [
      ...ATTACK_CLASSES.flatMap((cls) =>
        attacksFor(p, cls)
          .filter((v) => httpMeaningful(p, v))
          .slice(0, 6),
      ),
      // Log forging: NEL (U+0085) is a line break to many log tools, CSI (U+009B) an escape.
      'https://evil.com\x85CORS allowed GET /m from "https://example.com"',
      'https://evil.com\x9b2J\x9b31m',
    ];
    const logged: string[] = [];
    const record = (message: unknown) => {
      logged.push(String(message));
    };
    const capture: LoggerService = {
      log: record,
      error: record,
      warn: record,
      debug: record,
      verbose: record,
    };
    let app: INestApplication;
    let results: Array<{ input: OriginInput; path: string; kind: string; res: RawResult }> = [];

    beforeAll(async () => {
      let port: number;
      ({ app, port } = await bootApp(
        adapter,
        { ...p.options, debug: true },
        [probeController('m', ['GET', 'PUT'], null)],
        capture,
      ));
      const jobs = sample.flatMap((input) =>
        ['/m', '/nowhere'].flatMap((path) =>
          (['GET', 'preflight'] as const).map((kind) => ({ input, path, kind })),
        ),
      );
      results = await mapLimit(jobs, 16, async (job) => {
        const lines = originLines(job.input);
        if (job.kind === 'preflight') lines.push(['Access-Control-Request-Method', 'PUT']);
        const method = job.kind === 'preflight' ? 'OPTIONS' : 'GET';
        return {
          ...job,
          res: await rawExchange(port, buildRequest(method, job.path, port, lines)),
        };
      });
    });

    afterAll(async () => {
      await app?.close();
    });

    it(`${sample.length} inputs on a module-default route and on a 404 path: no CORS header, no 5xx`, () => {
      const failures: unknown[] = [];
      for (const { input, path, kind, res } of results) {
        const restructured = typeof input === 'string' && /[\r\n]/.test(input);
        // A path no route serves gets the module defaults (cors-rules §2 item 11): the actual
        // request is Nest's 404, a refused preflight the module's 403.
        const expected =
          REJECTED_BY_NODE.has(res.status) || restructured
            ? res.status
            : kind === 'preflight'
              ? 403
              : path === '/nowhere'
                ? 404
                : 200;
        const leaked = acNames(res.headers);
        if (leaked.length > 0 || res.status !== expected) {
          failures.push({ input: show(input), path, kind, status: res.status, leaked });
        }
      }
      expect(failures).toEqual([]);
    });

    it('each denial is logged as one line: a hostile Origin or ACRM adds no line break nor control byte', async () => {
      // A method the path does not serve is logged with its name (the origin is allowed); HT and
      // Latin-1 bytes pass Node's header parser.
      const port = (app.getHttpServer().address() as { port: number }).port;
      for (const acrm of ['X\x85CORS-allowed', 'PUT\t/m from "https://example.com" ok']) {
        const res = await rawExchange(
          port,
          buildRequest('OPTIONS', '/m', port, [
            ['Origin', 'https://example.com'],
            ['Access-Control-Request-Method', acrm],
          ]),
        );
        expect({ acrm, status: res.status, leaked: acNames(res.headers) }).toEqual({
          acrm,
          status: 403,
          leaked: [],
        });
      }
      const denials = logged.filter((line) => line.startsWith('CORS denied'));
      expect(denials.length).toBeGreaterThan(sample.length);
      // CR, LF, VT, FF, NEL (U+0085), LS/PS and the other C0/C1 controls split or corrupt log lines
      // in common log pipelines and terminals.
      const isControl = (c: number) =>
        c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029;
      const broken = denials.filter((line) => [...line].some((ch) => isControl(ch.charCodeAt(0))));
      expect(broken.map((line) => JSON.stringify(line.slice(0, 160)))).toEqual([]);
    });
  });
});
