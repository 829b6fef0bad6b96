/**
 * Origin functions always lead to an answer (cors-rules §2 item 12): `true`/`false`, a thenable
 * settling to one, or the `cors`-style callback read as `cors` reads it, strictly. Anything else,
 * a throw, a rejection or silence past `originTimeout` is a denial and one error line naming
 * where the function was declared, rate-limited per rule. No timer for synchronous answers.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { CorsPolicy, DENIED, type OriginVerdict } from '../../lib/engine/cors-policy.js';
import { rateLimitedSink, type CorsErrorSink } from '../../lib/engine/errors.js';
import type {
  CorsOriginFunction,
  CorsPolicyOptions,
} from '../../lib/interfaces/cors-options.interface.js';

const ORIGIN = 'https://app.example';
const WHERE = 'policy "admin"';

type Callback = (err?: unknown, value?: unknown) => void;
type AnyOriginFunction = (origin: string | undefined, callback: Callback) => unknown;

/** A policy around `fn`, with a sink that captures its lines. */
function withFunction(
  fn: AnyOriginFunction,
  extra: CorsPolicyOptions = {},
  where = WHERE,
): { policy: CorsPolicy; lines: string[] } {
  const lines: string[] = [];
  const sink: CorsErrorSink = (m) => lines.push(m);
  const policy = CorsPolicy.compile({ origin: fn as CorsOriginFunction, ...extra }, where, sink);
  return { policy, lines };
}

/** Lets every pending promise callback run (no timers involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function isPromise(v: unknown): v is Promise<OriginVerdict> {
  return v instanceof Promise;
}

afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
});

describe('a synchronous answer', () => {
  it('true allows and false refuses, synchronously and silently', () => {
    const yes = withFunction(() => true);
    expect(yes.policy.checkOrigin(ORIGIN)).toBe(ORIGIN);
    const no = withFunction(() => false);
    expect(no.policy.checkOrigin(ORIGIN)).toBe(DENIED.notAllowed);
    expect([...yes.lines, ...no.lines]).toEqual([]);
  });

  it.each([
    ['the origin string', ORIGIN, `"${ORIGIN}"`],
    ['null', null, 'null'],
    ['0', 0, '0'],
    ['1', 1, '1'],
    ['a string', 'yes', '"yes"'],
    ['an object', { allowed: true }, 'an object'],
    ['an array', [ORIGIN], `["${ORIGIN}"]`],
  ])('returning %s is a denial and an error, at once (it used to hang)', (_, value, shown) => {
    const { policy, lines } = withFunction(() => value);
    const verdict = policy.checkOrigin(ORIGIN);
    expect(isPromise(verdict)).toBe(false);
    expect(verdict).toBe(DENIED.predicateInvalid);
    expect(lines).toEqual([
      `${WHERE}: the origin function returned ${shown}: return true or false (or a Promise of one), or return nothing and call the callback`,
    ]);
  });

  it('a throw is a denial; the error line has the message and where the function was declared', () => {
    const { policy, lines } = withFunction(
      () => {
        throw new Error('boom');
      },
      {},
      'UsersController.remove',
    );
    expect(policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    expect(lines).toEqual(['UsersController.remove: the origin function threw: boom']);
  });

  it('a thrown non-Error and control characters in a message are written safely', () => {
    const a = withFunction(() => {
      throw 'plain string';
    });
    expect(a.policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    expect(a.lines).toEqual([`${WHERE}: the origin function threw: "plain string"`]);
    const b = withFunction(() => {
      throw new Error('line1\nFAKE: injected');
    });
    b.policy.checkOrigin(ORIGIN);
    expect(b.lines).toEqual([`${WHERE}: the origin function threw: line1\\x0aFAKE: injected`]);
  });
});

describe('a thenable', () => {
  it('settling to true or false allows or refuses, silently', async () => {
    const yes = withFunction(async () => true);
    const pending = yes.policy.checkOrigin(ORIGIN);
    expect(isPromise(pending)).toBe(true);
    expect(await pending).toBe(ORIGIN);
    const no = withFunction(async () => false);
    expect(await no.policy.checkOrigin(ORIGIN)).toBe(DENIED.notAllowed);
    // A thenable that is not a native Promise works too.
    const custom = withFunction(() => ({ then: (resolve: (v: boolean) => void) => resolve(true) }));
    expect(await custom.policy.checkOrigin(ORIGIN)).toBe(ORIGIN);
    expect([...yes.lines, ...no.lines, ...custom.lines]).toEqual([]);
  });

  it('settling to anything else is a denial and an error', async () => {
    const str = withFunction(async () => ORIGIN);
    expect(await str.policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateInvalid);
    expect(str.lines).toEqual([
      `${WHERE}: the origin function's promise resolved to "${ORIGIN}": resolve to true or false, or call the callback`,
    ]);
    // undefined, and the callback was not called either.
    const nothing = withFunction(async () => undefined);
    expect(await nothing.policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateInvalid);
    expect(nothing.lines).toEqual([
      `${WHERE}: the origin function's promise resolved to undefined: resolve to true or false, or call the callback`,
    ]);
  });

  it('a rejection is a denial and an error with the reason', async () => {
    const a = withFunction(async () => {
      throw new Error('db down');
    });
    expect(await a.policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    expect(a.lines).toEqual([`${WHERE}: the origin function's promise rejected: db down`]);
    const b = withFunction(() => Promise.reject(undefined));
    expect(await b.policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    expect(b.lines).toEqual([`${WHERE}: the origin function's promise rejected: undefined`]);
  });
});

describe('the cors-style callback (the function returns nothing)', () => {
  /** A function answering `value` through the callback, a turn later. */
  const later = (value: unknown, err?: unknown) =>
    withFunction((_, cb) => {
      setImmediate(() => cb(err ?? null, value));
    });

  it('a synchronous callback answers synchronously', () => {
    const { policy } = withFunction((_, cb) => {
      cb(null, true);
    });
    expect(policy.checkOrigin(ORIGIN)).toBe(ORIGIN);
  });

  it.each<[string, unknown, OriginVerdict]>([
    ['true', true, ORIGIN],
    ['false', false, DENIED.notAllowed],
    ['the request origin', ORIGIN, ORIGIN],
    ['another origin', 'https://other.example', DENIED.notAllowed],
    ['the origin with a trailing slash (byte-equal only)', `${ORIGIN}/`, DENIED.notAllowed],
    ['a matching RegExp', /^https:\/\/app\.example$/, ORIGIN],
    ['a RegExp that does not match', /^https:\/\/other\./, DENIED.notAllowed],
    ['an array with a match', ['https://other.example', /^https:\/\/app\./], ORIGIN],
    ['an array without a match', ['https://other.example', /^https:\/\/x\./], DENIED.notAllowed],
    ['an empty array', [], DENIED.notAllowed],
  ])('%s', async (_, value, expected) => {
    const { policy, lines } = later(value);
    expect(await policy.checkOrigin(ORIGIN)).toBe(expected);
    expect(lines).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'null'],
    ['undefined (callback())', undefined, 'undefined'],
    ['0', 0, '0'],
    ['1', 1, '1'],
    ['an object', { origin: ORIGIN }, 'an object'],
    ['[true]', [true], '[true]'],
    ['an array holding a boolean next to a match', [ORIGIN, true], `["${ORIGIN}", true]`],
    ['an array holding null', [null], '[null]'],
  ])('%s is a denial and an error', async (_, value, shown) => {
    const { policy, lines } = later(value);
    expect(await policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateInvalid);
    expect(lines).toEqual([
      `${WHERE}: the origin function called back with ${shown}: give true, false, an origin, a RegExp, or an array of origins and RegExps`,
    ]);
  });

  it('callback(err) is a denial and an error with its message', async () => {
    const { policy, lines } = later(undefined, new Error('Not allowed by CORS'));
    expect(await policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    expect(lines).toEqual([
      `${WHERE}: the origin function called back with an error: Not allowed by CORS`,
    ]);
  });

  it("'*' allows any origin with ACAO * without credentials", async () => {
    const { policy, lines } = later('*');
    expect(await policy.checkOrigin(ORIGIN)).toBe('*');
    expect(lines).toEqual([]);
    const d = await policy.decide({ method: 'GET', headers: { origin: ORIGIN } });
    expect(d.headers['Access-Control-Allow-Origin']).toBe('*');
  });

  it("'*' with credentials is a denial and an error", async () => {
    const lines: string[] = [];
    const policy = CorsPolicy.compile(
      {
        credentials: true,
        origin: (_o, cb: Callback) => {
          setImmediate(() => cb(null, '*'));
        },
      },
      WHERE,
      (m) => lines.push(m),
    );
    expect(await policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateWildcard);
    expect(lines).toEqual([
      `${WHERE}: the origin function answered '*', which browsers refuse with credentials: answer true (or the request's origin) instead`,
    ]);
    const d = await policy.decide({ method: 'GET', headers: { origin: ORIGIN } });
    expect(d.allowed).toBe(false);
    expect(d.headers).toEqual({});
  });

  it('a global or sticky RegExp is tested without lastIndex state', async () => {
    for (const re of [/^https:\/\/app\.example$/g, /^https:\/\/app\.example$/y]) {
      const { policy } = withFunction((_, cb) => cb(null, re));
      for (let i = 0; i < 3; i++) expect(await policy.checkOrigin(ORIGIN)).toBe(ORIGIN);
      const list = withFunction((_, cb) => cb(null, [re]));
      for (let i = 0; i < 3; i++) expect(await list.policy.checkOrigin(ORIGIN)).toBe(ORIGIN);
      expect(re.lastIndex).toBe(0);
    }
  });
});

describe('the first settlement wins', () => {
  it('a synchronous callback before a contrary return value or a throw', async () => {
    const a = withFunction((_, cb) => {
      cb(null, true);
      return false;
    });
    expect(a.policy.checkOrigin(ORIGIN)).toBe(ORIGIN);
    const b = withFunction((_, cb) => {
      cb(null, false);
      throw new Error('after the answer');
    });
    expect(b.policy.checkOrigin(ORIGIN)).toBe(DENIED.notAllowed);
    expect([...a.lines, ...b.lines]).toEqual([]);
  });

  it('a callback inside an async function, before its promise resolves to undefined', async () => {
    const { policy, lines } = withFunction(async (_, cb) => {
      await Promise.resolve();
      cb(null, true);
    });
    expect(await policy.checkOrigin(ORIGIN)).toBe(ORIGIN);
    await flush();
    expect(lines).toEqual([]);
  });

  it('a promise before a later callback', async () => {
    let late: Callback | undefined;
    const { policy, lines } = withFunction((_, cb) => {
      late = cb;
      return Promise.resolve(true);
    });
    expect(await policy.checkOrigin(ORIGIN)).toBe(ORIGIN);
    late?.(null, false);
    late?.(new Error('ignored'));
    await flush();
    expect(lines).toEqual([]);
  });

  it('the first of two callbacks; a later rejection is handled and ignored', async () => {
    const { policy, lines } = withFunction((_, cb) => {
      cb(null, false);
      cb(null, true);
      return Promise.reject(new Error('late'));
    });
    expect(policy.checkOrigin(ORIGIN)).toBe(DENIED.notAllowed);
    await flush();
    expect(lines).toEqual([]);
  });
});

describe('originTimeout', () => {
  it('no answer within the default 3000 ms is a denial and an error; one timer, cleared', async () => {
    jest.useFakeTimers();
    const { policy, lines } = withFunction(() => new Promise(() => undefined));
    let settled: OriginVerdict | undefined;
    const pending = policy.checkOrigin(ORIGIN) as Promise<OriginVerdict>;
    void pending.then((v) => (settled = v));
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(2999);
    await flush();
    expect(settled).toBeUndefined();
    jest.advanceTimersByTime(1);
    expect(await pending).toBe(DENIED.predicateTimeout);
    expect(jest.getTimerCount()).toBe(0);
    expect(lines).toEqual([
      `${WHERE}: the origin function did not answer within 3000 ms (originTimeout)`,
    ]);
  });

  it('a callback that never comes times out too; a later answer is ignored', async () => {
    jest.useFakeTimers();
    let late: Callback | undefined;
    const { policy, lines } = withFunction(
      (_, cb) => {
        late = cb;
      },
      { originTimeout: 50 },
    );
    const pending = policy.checkOrigin(ORIGIN);
    jest.advanceTimersByTime(50);
    expect(await pending).toBe(DENIED.predicateTimeout);
    late?.(null, true);
    expect(lines).toEqual([
      `${WHERE}: the origin function did not answer within 50 ms (originTimeout)`,
    ]);
  });

  it('a real 1 ms timeout settles the verdict (awaited, no sleep)', async () => {
    const { policy, lines } = withFunction(() => new Promise(() => undefined), {
      originTimeout: 1,
    });
    expect(await policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateTimeout);
    expect(lines).toHaveLength(1);
  });

  it('the timer is cleared as soon as the function answers', async () => {
    jest.useFakeTimers();
    let resolve: ((v: boolean) => void) | undefined;
    const { policy } = withFunction(() => new Promise<boolean>((r) => (resolve = r)));
    const pending = policy.checkOrigin(ORIGIN);
    expect(jest.getTimerCount()).toBe(1);
    resolve?.(true);
    expect(await pending).toBe(ORIGIN);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('the timer does not keep the process alive (unref)', async () => {
    const spy = jest.spyOn(globalThis, 'setTimeout');
    let answer: Callback | undefined;
    const { policy } = withFunction((_, cb) => {
      answer = cb;
    });
    const pending = policy.checkOrigin(ORIGIN);
    expect(spy).toHaveBeenCalledTimes(1);
    const timer = spy.mock.results[0].value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    answer?.(null, true);
    expect(await pending).toBe(ORIGIN);
  });

  it('no timer at all for a synchronous answer', () => {
    jest.useFakeTimers();
    const answers: AnyOriginFunction[] = [
      () => true,
      () => false,
      () => 'nonsense',
      () => {
        throw new Error('x');
      },
      (_, cb) => cb(null, true),
      (_, cb) => cb(new Error('y')),
    ];
    for (const fn of answers) {
      const verdict = withFunction(fn).policy.checkOrigin(ORIGIN);
      expect(isPromise(verdict)).toBe(false);
      expect(jest.getTimerCount()).toBe(0);
    }
  });
});

describe('error lines are rate-limited per rule', () => {
  it('rateLimitedSink: the first at once, then one per interval saying how many were suppressed', () => {
    let now = 0;
    const lines: string[] = [];
    const sink = rateLimitedSink(
      (m) => lines.push(m),
      1000,
      () => now,
    );
    sink('a');
    now = 10;
    sink('b');
    now = 999;
    sink('c');
    expect(lines).toEqual(['a']);
    now = 1000;
    sink('d');
    expect(lines).toEqual([
      'a',
      'd (2 more errors of this origin function suppressed since the previous line)',
    ]);
    now = 1500;
    sink('e');
    now = 2000;
    sink('f');
    expect(lines[2]).toBe(
      'f (1 more error of this origin function suppressed since the previous line)',
    );
    now = 5000;
    sink('g');
    expect(lines[3]).toBe('g');
  });

  it('a sink that throws does not break the answer', () => {
    const policy = CorsPolicy.compile(
      {
        origin: () => {
          throw new Error('x');
        },
      },
      WHERE,
      () => {
        throw new Error('logger down');
      },
    );
    expect(policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
  });

  it('a flood of failing requests writes one line per 10 s', () => {
    jest.useFakeTimers();
    const { policy, lines } = withFunction(() => {
      throw new Error('boom');
    });
    for (let i = 0; i < 100; i++) expect(policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateError);
    expect(lines).toEqual([`${WHERE}: the origin function threw: boom`]);
    jest.advanceTimersByTime(9_999);
    policy.checkOrigin(ORIGIN);
    expect(lines).toHaveLength(1);
    jest.advanceTimersByTime(1);
    policy.checkOrigin(ORIGIN);
    expect(lines).toEqual([
      `${WHERE}: the origin function threw: boom`,
      `${WHERE}: the origin function threw: boom (100 more errors of this origin function suppressed since the previous line)`,
    ]);
    // Another policy's function has its own budget.
    const other = withFunction(
      () => {
        throw new Error('boom');
      },
      {},
      'policy "other"',
    );
    other.policy.checkOrigin(ORIGIN);
    expect(other.lines).toEqual(['policy "other": the origin function threw: boom']);
  });

  it('without a sink, errors go to console.error with a prefix', () => {
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const policy = CorsPolicy.compile({ origin: () => null as unknown as boolean }, WHERE);
    expect(policy.checkOrigin(ORIGIN)).toBe(DENIED.predicateInvalid);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0][0]).toMatch(
      /^\[nestjs-cors\] policy "admin": the origin function returned null/,
    );
  });
});

describe('one call per check, with the request readable through the callback', () => {
  it('calls the function once per check whatever it answers', async () => {
    let calls = 0;
    const fns: AnyOriginFunction[] = [
      () => (calls++, true),
      async () => (calls++, true),
      (_, cb) => {
        calls++;
        setImmediate(() => cb(null, true));
      },
      () => (calls++, 'nonsense'),
    ];
    for (const fn of fns) {
      const before = calls;
      await withFunction(fn).policy.checkOrigin(ORIGIN);
      expect(calls - before).toBe(1);
    }
  });

  it('the second argument is callable and reads through to the request', async () => {
    const request = { headers: { host: 'tenant.example' } };
    const { policy } = withFunction((origin, cbOrReq) => {
      const req = cbOrReq as unknown as typeof request;
      expect(typeof cbOrReq).toBe('function');
      expect('headers' in req).toBe(true);
      return req.headers.host === 'tenant.example';
    });
    expect(await policy.checkOrigin(ORIGIN, request)).toBe(ORIGIN);
  });

  it('decide() always settles, with the denial reason, for an answer that used to hang', async () => {
    const { policy } = withFunction(() => ORIGIN);
    const d = await policy.decide({ method: 'GET', headers: { origin: ORIGIN } });
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(DENIED.predicateInvalid.reason);
    expect(d.headers).toEqual({});
    const pre = await policy.decide({
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'PUT' },
    });
    expect(pre.status).toBe(403);
  });
});
