/**
 * Which origins a policy allows, compiled once. Immutable: a live update compiles a new rule and
 * a new policy around it (`CorsPolicy.withOrigins`), so a request never sees half a list.
 */
import type {
  CorsOriginFunction,
  CorsPolicyOptions,
} from '../interfaces/cors-options.interface.js';
import {
  defaultErrorSink,
  rateLimitedSink,
  type CorsErrorSink,
  type CorsProblemPlace,
  type ProblemList,
} from './errors.js';
import {
  MAX_ORIGIN_LENGTH,
  matchesPattern,
  parseOriginEntry,
  scanSerializedOrigin,
  type OriginEntryParse,
  type ParsedOriginEntry,
} from './origin.js';
import { describeValue } from './tokens.js';

/** Why a request was refused. Constant instances for the common cases: no allocation per request. */
export class CorsDenial {
  constructor(readonly reason: string) {}
}

export const DENIED = {
  noOrigin: new CorsDenial('the request has no Origin header'),
  tooLong: new CorsDenial(`the Origin is longer than ${MAX_ORIGIN_LENGTH} bytes`),
  malformed: new CorsDenial('the Origin is not a valid serialized origin'),
  nullOrigin: new CorsDenial("the Origin is 'null' and the policy does not list 'null'"),
  notAllowed: new CorsDenial('the Origin is not allowed by the policy'),
  /** The origin function threw, rejected, or called back with an error. */
  predicateError: new CorsDenial('the origin function failed'),
  /** The origin function did not settle within `originTimeout`. */
  predicateTimeout: new CorsDenial('the origin function did not answer in time'),
  /** The origin function answered something that is not an answer (a string returned, `null`…). */
  predicateInvalid: new CorsDenial('the origin function gave an invalid answer'),
  /** The origin function answered `'*'` for a policy with credentials. */
  predicateWildcard: new CorsDenial(
    "the origin function answered '*', which browsers refuse with credentials",
  ),
} as const;

/** An origin verdict: the `Access-Control-Allow-Origin` value to send, or a denial. */
export type OriginVerdict = string | CorsDenial;

export type OriginMode = 'any' | 'list' | 'reflect' | 'function' | 'none';

/** How long an origin function may take before the request is refused, by default (ms). */
export const DEFAULT_ORIGIN_TIMEOUT_MS = 3000;
/** The largest `originTimeout` accepted (ms). */
export const MAX_ORIGIN_TIMEOUT_MS = 60_000;

/** Run-time settings of an origin function: not what is allowed, but how it is called. */
export interface OriginRuntime {
  /** `originTimeout`, already validated. Default `DEFAULT_ORIGIN_TIMEOUT_MS`. */
  timeoutMs?: number;
  /** Where the function was declared, for error lines. Default: the compile place's text. */
  label?: string;
}

/** What a compiled rule holds besides its mode. */
interface RuleParts {
  readonly list: readonly string[];
  readonly exact: ReadonlySet<string>;
  readonly patterns: ReadonlySet<string>;
  readonly regexps: readonly RegExp[];
  readonly allowNull: boolean;
  readonly originFunction: CorsOriginFunction | undefined;
  /** Must a request origin be scanned (patterns, RegExps, reflect, a function)? */
  readonly needsScan: boolean;
}

const NO_PARTS: RuleParts = {
  list: [],
  exact: new Set(),
  patterns: new Set(),
  regexps: [],
  allowNull: false,
  originFunction: undefined,
  needsScan: false,
};

/** A verdict with the error line to report, if the answer was a mistake. */
type Outcome = readonly [OriginVerdict, string?];

export class OriginRule {
  /** Canonical configured origins and patterns, for reports. */
  readonly list: readonly string[];
  /** `originTimeout` in ms (used only by origin functions). */
  readonly timeoutMs: number;
  private readonly exact: ReadonlySet<string>;
  private readonly patterns: ReadonlySet<string>;
  private readonly regexps: readonly RegExp[];
  private readonly allowNull: boolean;
  private readonly originFunction: CorsOriginFunction | undefined;
  private readonly needsScan: boolean;
  /** Rate-limited: one rule, one budget of log lines. */
  private readonly report: CorsErrorSink;

  private constructor(
    readonly mode: OriginMode,
    private readonly credentials: boolean,
    parts: RuleParts,
    /** As given (not rate-limited): a rule compiled from this one gets its own budget. */
    readonly sink: CorsErrorSink,
    runtime: Required<OriginRuntime>,
  ) {
    this.list = parts.list;
    this.exact = parts.exact;
    this.patterns = parts.patterns;
    this.regexps = parts.regexps;
    this.allowNull = parts.allowNull;
    this.originFunction = parts.originFunction;
    this.needsScan = parts.needsScan;
    this.timeoutMs = runtime.timeoutMs;
    const label = runtime.label;
    const limited = rateLimitedSink(sink);
    this.report = (message) => limited(`${label}: ${message}`);
    Object.freeze(this);
  }

  /**
   * Compiles the `origin` option, recording problems at `where`. `sink` receives the errors of an
   * origin function at run time (default: `console.error`), rate-limited per rule.
   */
  static compile(
    origin: CorsPolicyOptions['origin'],
    credentials: boolean,
    where: CorsProblemPlace,
    problems: ProblemList,
    sink: CorsErrorSink = defaultErrorSink,
    runtime: OriginRuntime = {},
    parsed?: ParseCache,
  ): OriginRule {
    const settings: Required<OriginRuntime> = {
      timeoutMs: runtime.timeoutMs ?? DEFAULT_ORIGIN_TIMEOUT_MS,
      label: runtime.label ?? where.where,
    };
    const [mode, parts] = compileOrigin(origin, credentials, where, problems, parsed);
    return new OriginRule(mode, credentials, parts, sink, settings);
  }

  /**
   * A rule for a new `origin` value with the same credentials and run-time settings (live
   * updates). Problems are recorded at `where`; this rule is unchanged.
   */
  recompile(
    origin: CorsPolicyOptions['origin'],
    where: CorsProblemPlace,
    problems: ProblemList,
    cache: OriginRuleCache = new OriginRuleCache(),
  ): OriginRule {
    return cache.get(origin, this.credentials, this.timeoutMs, () =>
      OriginRule.compile(
        origin,
        this.credentials,
        where,
        problems,
        this.sink,
        { timeoutMs: this.timeoutMs, label: cache.label },
        cache.parsed,
      ),
    );
  }

  /**
   * The `Access-Control-Allow-Origin` value for `origin`, or why it is refused. Exact origins are
   * one Set lookup; nothing else runs on a malformed or oversized Origin. A returned Promise
   * always resolves (never rejects, never hangs past `originTimeout`).
   */
  check(origin: string | undefined, request?: object): OriginVerdict | Promise<OriginVerdict> {
    if (this.mode === 'any') return '*';
    if (origin === undefined) return DENIED.noOrigin;
    if (origin.length > MAX_ORIGIN_LENGTH) return DENIED.tooLong;
    if (origin === 'null') return this.allowNull ? 'null' : DENIED.nullOrigin;
    if (this.exact.has(origin)) return origin;
    if (!this.needsScan) return DENIED.notAllowed;
    if (!scanSerializedOrigin(origin)) return DENIED.malformed;
    if (this.mode === 'reflect') return origin;
    if (this.patterns.size > 0 && matchesPattern(origin, this.patterns)) return origin;
    for (const re of this.regexps) if (re.test(origin)) return origin;
    if (this.originFunction !== undefined) return this.callOriginFunction(origin, request);
    return DENIED.notAllowed;
  }

  /**
   * Calls the origin function once. Whatever it does is an answer: `true`/`false`, a thenable
   * settling to one, or (when it returns nothing) the `cors`-style callback; the first of those
   * to settle wins. Anything else, a throw, a rejection, or silence past `timeoutMs` is a denial
   * and an error line. A timer exists only while an answer is pending.
   */
  private callOriginFunction(
    origin: string,
    request: object | undefined,
  ): OriginVerdict | Promise<OriginVerdict> {
    const answer = new PendingAnswer(this.report);
    const callback = (err?: unknown, value?: unknown): void => {
      if (answer.verdict !== undefined) return;
      answer.settle(
        err
          ? failure('the origin function called back with an error', err)
          : callbackOutcome(origin, value, this.credentials),
      );
    };
    const argument = request === undefined ? callback : requestView(callback, request);
    let returned: unknown;
    try {
      returned = (this.originFunction as CorsOriginFunction)(origin, argument);
    } catch (e) {
      answer.settle(failure('the origin function threw', e));
    }
    if (isThenable(returned)) {
      // Handlers are attached even when the callback already answered: no unhandled rejection.
      Promise.resolve(returned).then(
        (v) => answer.settle(resolvedOutcome(origin, v)),
        (e) => answer.settle(failure("the origin function's promise rejected", e)),
      );
    } else if (returned !== undefined) {
      answer.settle(returnedOutcome(origin, returned));
    }
    return answer.verdict ?? answer.wait(this.timeoutMs);
  }
}

/** The answer of one origin-function call: settled once, by whichever outcome comes first. */
class PendingAnswer {
  verdict: OriginVerdict | undefined;
  private resolve: ((v: OriginVerdict) => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly report: CorsErrorSink) {}

  settle([verdict, error]: Outcome): void {
    if (this.verdict !== undefined) return; // the first settlement wins
    this.verdict = verdict;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (error !== undefined) this.report(error);
    this.resolve?.(verdict);
  }

  /** A promise of the verdict, refused after `timeoutMs` (the timer never holds the process). */
  wait(timeoutMs: number): Promise<OriginVerdict> {
    return new Promise<OriginVerdict>((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(
        () =>
          this.settle([
            DENIED.predicateTimeout,
            `the origin function did not answer within ${timeoutMs} ms (originTimeout)`,
          ]),
        timeoutMs,
      );
      this.timer.unref?.();
    });
  }
}

/** A failure: `what` happened (`the origin function threw`), with the error's message. */
function failure(what: string, error: unknown): Outcome {
  return [DENIED.predicateError, `${what}: ${errorText(error)}`];
}

/** What the function returned synchronously (neither a thenable nor undefined). */
function returnedOutcome(origin: string, returned: unknown): Outcome {
  if (returned === true) return [origin];
  if (returned === false) return [DENIED.notAllowed];
  return [
    DENIED.predicateInvalid,
    `the origin function returned ${describeAnswer(returned)}: return true or false (or a Promise of one), or return nothing and call the callback`,
  ];
}

/** What the returned thenable settled to. */
function resolvedOutcome(origin: string, value: unknown): Outcome {
  if (value === true) return [origin];
  if (value === false) return [DENIED.notAllowed];
  return [
    DENIED.predicateInvalid,
    `the origin function's promise resolved to ${describeAnswer(value)}: resolve to true or false, or call the callback`,
  ];
}

/**
 * A `cors`-style callback value, read as `cors` reads it, strictly: a boolean; a string equal to
 * the origin (`'*'`: any origin, refused with credentials); a RegExp tested on the origin; an
 * array of strings and RegExps (any match). Anything else is an error.
 */
function callbackOutcome(origin: string, value: unknown, credentials: boolean): Outcome {
  if (value === true) return [origin];
  if (value === false) return [DENIED.notAllowed];
  if (value === '*') {
    return credentials
      ? [
          DENIED.predicateWildcard,
          "the origin function answered '*', which browsers refuse with credentials: answer true (or the request's origin) instead",
        ]
      : ['*'];
  }
  const items = Array.isArray(value) ? value : [value];
  if (!items.every((item) => typeof item === 'string' || item instanceof RegExp)) {
    return [
      DENIED.predicateInvalid,
      `the origin function called back with ${describeAnswer(value)}: give true, false, an origin, a RegExp, or an array of origins and RegExps`,
    ];
  }
  for (const item of items as ReadonlyArray<string | RegExp>) {
    if (typeof item === 'string' ? item === origin : statelessTest(item, origin)) return [origin];
  }
  return [DENIED.notAllowed];
}

/** What the `origin` option means, with its problems recorded at `where`. */
function compileOrigin(
  origin: CorsPolicyOptions['origin'],
  credentials: boolean,
  where: CorsProblemPlace,
  problems: ProblemList,
  parsed: ParseCache | undefined,
): [OriginMode, RuleParts] {
  if (origin === undefined || origin === '*') {
    if (credentials && origin === undefined) {
      problems.error(
        where,
        'wildcard-with-credentials',
        "credentials: true needs an explicit origin (the default is '*', which browsers refuse with credentials)",
      );
    } else if (credentials) {
      problems.error(
        where,
        'wildcard-with-credentials',
        "origin '*' cannot be used with credentials: browsers refuse it; list the allowed origins",
        origin,
      );
    }
    return ['any', NO_PARTS];
  }
  if (typeof origin === 'function') {
    return ['function', { ...NO_PARTS, originFunction: origin, needsScan: true }];
  }
  if (origin === true) {
    if (credentials) {
      problems.warn(
        where,
        'reflect-with-credentials',
        'origin: true with credentials lets every site read credentialed responses; list the origins instead',
        origin,
      );
    }
    return ['reflect', { ...NO_PARTS, needsScan: true }];
  }
  if (origin === false) return ['none', NO_PARTS];
  if (typeof origin !== 'string' && !(origin instanceof RegExp) && !Array.isArray(origin)) {
    problems.error(
      where,
      'invalid-origin',
      `origin must be '*', true, false, an origin, a RegExp, a list of origins and RegExps, or a function; got ${describeValue(origin)}`,
      origin,
    );
    return ['none', NO_PARTS];
  }
  const items: readonly unknown[] = Array.isArray(origin) ? origin : [origin];
  if (items.length === 0) {
    problems.warn(
      where,
      'empty-origin-list',
      'origin is an empty list: no cross-origin request is allowed',
      origin,
    );
    return ['none', NO_PARTS];
  }
  const list = new ListBuilder(credentials, where, problems, parsed);
  for (const item of items) list.add(item);
  return ['list', list.parts()];
}

/** Compiles a list of origins, patterns and RegExps, one item at a time. */
class ListBuilder {
  private readonly exact = new Set<string>();
  private readonly patterns = new Set<string>();
  private readonly regexps: RegExp[] = [];
  /** Each configured origin once, in order (exact origins and patterns: their Sets say so). */
  private readonly display: string[] = [];
  /** RegExps and 'null' already in `display` (a handful: a Set over 100k would cost). */
  private readonly shown = new Set<string>();
  private allowNull = false;

  constructor(
    private readonly credentials: boolean,
    private readonly where: CorsProblemPlace,
    private readonly problems: ProblemList,
    private readonly parsed: ParseCache | undefined,
  ) {}

  add(item: unknown): void {
    const { where, problems } = this;
    if (item instanceof RegExp) {
      const warning = regexpWarning(item.source);
      if (warning)
        problems.warn(where, warning.code, `RegExp ${String(item)} ${warning.text}`, item);
      // g and y make test() stateful (lastIndex): keep a stateless copy.
      this.regexps.push(new RegExp(item.source, item.flags.replace(/[gy]/g, '')));
      this.show(String(item));
    } else if (typeof item !== 'string') {
      const what = typeof item === 'object' ? '' : `${typeof item} `;
      problems.error(
        where,
        'invalid-origin-item',
        `origin items must be strings or RegExps, got ${what}${describeValue(item)}`,
        item,
      );
    } else if (item === '*') {
      problems.error(
        where,
        'wildcard-in-origin-list',
        "'*' inside an origin list matches nothing: use origin: '*' alone",
        item,
      );
    } else {
      const parsed = this.parse(item);
      if (parsed.kind !== 'refused') this.addParsed(item, parsed);
      else problems.error(where, parsed.code, parsed.message, item);
    }
  }

  /** `item` parsed, from the cache when one is given. */
  private parse(item: string): OriginEntryParse {
    if (this.parsed === undefined) return parseOriginEntry(item);
    let parsed = this.parsed.get(item);
    if (parsed === undefined) this.parsed.set(item, (parsed = parseOriginEntry(item)));
    return parsed;
  }

  private show(text: string): void {
    if (this.shown.has(text)) return;
    this.shown.add(text);
    this.display.push(text);
  }

  parts(): RuleParts {
    return {
      list: this.display,
      exact: this.exact,
      patterns: this.patterns,
      regexps: this.regexps,
      allowNull: this.allowNull,
      originFunction: undefined,
      needsScan: this.patterns.size > 0 || this.regexps.length > 0,
    };
  }

  private addParsed(item: string, parsed: ParsedOriginEntry): void {
    const { where, problems, credentials } = this;
    const quoted = JSON.stringify(item);
    switch (parsed.kind) {
      case 'null':
        if (credentials) {
          problems.error(
            where,
            'null-with-credentials',
            "origin 'null' with credentials lets any sandboxed page or file read credentialed responses",
            item,
          );
        }
        this.allowNull = true;
        this.show('null');
        break;
      case 'file':
        if (credentials) {
          problems.error(
            where,
            'file-origin-with-credentials',
            `origin ${quoted}: file: pages send "Origin: null", which must never be allowed with credentials`,
            item,
          );
        } else {
          problems.warn(
            where,
            'file-origin',
            `origin ${quoted} never matches: file: pages send "Origin: null" (list 'null' to allow them)`,
            item,
          );
        }
        break;
      case 'exact':
        this.checkCleartext(item, parsed.cleartext);
        if (this.exact.has(parsed.origin)) break;
        this.exact.add(parsed.origin);
        this.display.push(parsed.origin);
        break;
      case 'pattern':
        if (parsed.publicSuffix) {
          const message = `origin pattern "${parsed.display}" spans a public suffix`;
          if (credentials) {
            problems.error(
              where,
              'public-suffix-wildcard-with-credentials',
              `${message}: anyone can register a name under it`,
              item,
            );
          } else {
            problems.warn(where, 'public-suffix-wildcard', message, item);
          }
        }
        this.checkCleartext(item, parsed.cleartext);
        if (this.patterns.has(parsed.key)) break;
        this.patterns.add(parsed.key);
        this.display.push(parsed.display);
        break;
      case 'any':
        break; // '*' was handled above
    }
  }

  /** `http:` (not loopback) with credentials: cookies over cleartext, a warning (§2 item 8). */
  private checkCleartext(item: string, cleartext: boolean): void {
    if (!cleartext || !this.credentials) return;
    this.problems.warn(
      this.where,
      'cleartext-origin-with-credentials',
      `origin ${JSON.stringify(item)} is http: with credentials: cookies and the responses travel unencrypted (use https:)`,
      item,
    );
  }
}

/**
 * The second argument of an origin function is the `cors`-style callback; its properties read
 * through to the request, so `(origin, req) => tenants.has(req.headers.host)` works too.
 */
function requestView(callback: (...args: any[]) => void, request: object): unknown {
  return new Proxy(callback, {
    get: (target, key) => (key in request ? Reflect.get(request, key) : Reflect.get(target, key)),
    has: (target, key) => key in request || key in target,
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  try {
    return typeof (value as PromiseLike<unknown>).then === 'function';
  } catch {
    return false; // a `then` getter that throws: not an answer (reported as returned)
  }
}

/** `re.test(origin)` without `lastIndex` state (the user's RegExp may be global or sticky). */
function statelessTest(re: RegExp, origin: string): boolean {
  if (!re.global && !re.sticky) return re.test(origin);
  re.lastIndex = 0;
  const matched = re.test(origin);
  re.lastIndex = 0;
  return matched;
}

/** An answer in an error line: arrays item by item, so `[true]` reads as such. */
function describeAnswer(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.slice(0, 10).map(describeAnswer).join(', ')}${value.length > 10 ? ', …' : ''}]`;
  }
  if (value instanceof RegExp) return String(value);
  if (value !== null && typeof value === 'object') return 'an object';
  return describeValue(value);
}

/** An error's message for one log line: control characters escaped, length capped. */
function errorText(error: unknown): string {
  let text: string;
  try {
    text = error instanceof Error ? error.message : describeValue(error);
  } catch {
    text = 'an error';
  }
  text = text.replace(
    /[^\x20-\x7e\x80-\uffff]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Parsed origin strings by their text, reused from one compile of a list to the next. */
export type ParseCache = Map<string, OriginEntryParse>;

/**
 * Policies merged from the same `origin` value share one compiled rule: compiled (and its
 * problems reported) once, and recognisable as the same decision. `label` says where the origins
 * of this cache are declared (`module`, `policy "admin"`), for the error lines of a function;
 * `parsed` keeps parsed strings across updates (a live list of 100k origins that changes by one
 * entry reparses one).
 */
export class OriginRuleCache {
  private readonly rules = new Map<unknown, Map<string, OriginRule>>();

  constructor(
    readonly label?: string,
    readonly parsed?: ParseCache,
  ) {}

  get(
    origin: unknown,
    credentials: boolean,
    timeoutMs: number,
    compile: () => OriginRule,
  ): OriginRule {
    let byRuntime = this.rules.get(origin);
    if (byRuntime === undefined) this.rules.set(origin, (byRuntime = new Map()));
    const key = `${credentials}:${timeoutMs}`;
    let rule = byRuntime.get(key);
    if (rule === undefined) byRuntime.set(key, (rule = compile()));
    return rule;
  }
}

/**
 * Why a RegExp may match more than meant: not anchored at both ends (`^a|b$` anchors neither
 * branch fully), or an unescaped `.` between name characters (`app.example` matches `appxexample`).
 */
export function regexpWarning(
  source: string,
): { code: 'regexp-unanchored' | 'regexp-unescaped-dot'; text: string } | undefined {
  let depth = 0;
  let inClass = false;
  let topLevelAlternation = false;
  let looseDot = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) topLevelAlternation = true;
    else if (
      c === '.' &&
      /[A-Za-z0-9]/.test(source[i - 1] ?? '') &&
      /[A-Za-z0-9]/.test(source[i + 1] ?? '')
    ) {
      looseDot = true;
    }
  }
  if (!source.startsWith('^') || !source.endsWith('$') || topLevelAlternation) {
    return {
      code: 'regexp-unanchored',
      text: 'is not anchored with ^…$ around the whole pattern: it may match origins that merely contain an allowed one (write ^(?:a|b)$)',
    };
  }
  if (looseDot) {
    return {
      code: 'regexp-unescaped-dot',
      text: 'has an unescaped "." between letters: it matches any character (write \\.)',
    };
  }
  return undefined;
}
