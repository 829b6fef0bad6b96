/**
 * Which origins a policy allows, compiled once. Immutable: a live update builds a new rule and
 * swaps one reference, so a request never sees half a list.
 */
import type {
  CorsOriginFunction,
  CorsPolicyOptions,
} from '../interfaces/cors-options.interface.js';
import type { ProblemList } from './errors.js';
import {
  MAX_ORIGIN_LENGTH,
  matchesPattern,
  parseConfiguredOrigin,
  scanSerializedOrigin,
} from './origin.js';

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
  predicateError: new CorsDenial('the origin function failed'),
} as const;

/** An origin verdict: the `Access-Control-Allow-Origin` value to send, or a denial. */
export type OriginVerdict = string | CorsDenial;

export type OriginMode = 'any' | 'list' | 'reflect' | 'function' | 'none';

export class OriginRule {
  /** Canonical configured origins and patterns, for reports. */
  readonly list: readonly string[] = [];
  private exact: ReadonlySet<string> = new Set();
  private patterns: ReadonlySet<string> = new Set();
  private regexps: readonly RegExp[] = [];
  private allowNull = false;
  private originFunction: CorsOriginFunction | undefined;
  private needsScan = false;

  private constructor(
    readonly mode: OriginMode,
    private readonly credentials: boolean,
  ) {}

  /** Compiles the `origin` option, recording problems with `where`. */
  static compile(
    origin: CorsPolicyOptions['origin'],
    credentials: boolean,
    where: string,
    problems: ProblemList,
  ): OriginRule {
    const explicit = origin !== undefined;
    const value = origin ?? '*';
    if (typeof value === 'function') {
      const rule = new OriginRule('function', credentials);
      rule.originFunction = value as CorsOriginFunction;
      rule.needsScan = true;
      return rule;
    }
    if (value === true) {
      if (credentials) {
        problems.warn(
          where,
          'origin: true with credentials lets every site read credentialed responses; list the origins instead',
        );
      }
      const rule = new OriginRule('reflect', credentials);
      rule.needsScan = true;
      return rule;
    }
    if (value === false) return new OriginRule('none', credentials);
    if (value === '*') {
      if (credentials) {
        problems.error(
          where,
          explicit
            ? "origin '*' cannot be used with credentials: browsers refuse it; list the allowed origins"
            : "credentials: true needs an explicit origin (the default is '*', which browsers refuse with credentials)",
        );
      }
      return new OriginRule('any', credentials);
    }
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0) {
      problems.warn(where, 'origin is an empty list: no cross-origin request is allowed');
      return new OriginRule('none', credentials);
    }
    const rule = new OriginRule('list', credentials);
    rule.compileList(items, where, problems);
    return rule;
  }

  private compileList(items: readonly unknown[], where: string, problems: ProblemList): void {
    const exact = new Set<string>();
    const patterns = new Set<string>();
    const regexps: RegExp[] = [];
    const display: string[] = [];
    for (const item of items) {
      if (item instanceof RegExp) {
        const warning = regexpWarning(item.source);
        if (warning) problems.warn(where, `RegExp ${String(item)} ${warning}`);
        // g and y make test() stateful (lastIndex): keep a stateless copy.
        regexps.push(new RegExp(item.source, item.flags.replace(/[gy]/g, '')));
        display.push(String(item));
        continue;
      }
      if (typeof item !== 'string') {
        problems.error(where, `origin items must be strings or RegExps, got ${typeof item}`);
        continue;
      }
      if (item === '*') {
        problems.error(where, "'*' inside an origin list matches nothing: use origin: '*' alone");
        continue;
      }
      const parsed = parseConfiguredOrigin(item, where, problems);
      if (parsed === undefined) continue;
      switch (parsed.kind) {
        case 'null':
          if (this.credentials) {
            problems.error(
              where,
              "origin 'null' with credentials lets any sandboxed page or file read credentialed responses",
            );
          }
          this.allowNull = true;
          display.push('null');
          break;
        case 'file':
          if (this.credentials) {
            problems.error(
              where,
              `origin ${JSON.stringify(item)}: file: pages send "Origin: null", which must never be allowed with credentials`,
            );
          } else {
            problems.warn(
              where,
              `origin ${JSON.stringify(item)} never matches: file: pages send "Origin: null" (list 'null' to allow them)`,
            );
          }
          break;
        case 'exact':
          exact.add(parsed.origin);
          display.push(parsed.origin);
          break;
        case 'pattern':
          if (parsed.publicSuffix && this.credentials) {
            problems.error(
              where,
              `origin pattern "${parsed.display}" spans a public suffix: anyone can register a name under it`,
            );
          } else if (parsed.publicSuffix) {
            problems.warn(where, `origin pattern "${parsed.display}" spans a public suffix`);
          }
          patterns.add(parsed.key);
          display.push(parsed.display);
          break;
        case 'any':
          break; // '*' was handled above
      }
    }
    this.exact = exact;
    this.patterns = patterns;
    this.regexps = regexps;
    this.needsScan = patterns.size > 0 || regexps.length > 0;
    (this as { list: readonly string[] }).list = [...new Set(display)];
  }

  /**
   * The `Access-Control-Allow-Origin` value for `origin`, or why it is refused. Exact origins are
   * one Set lookup; nothing else runs on a malformed or oversized Origin.
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

  /** Calls the origin function once: a boolean, a Promise, or the `cors` callback all work. */
  private callOriginFunction(
    origin: string,
    request: object | undefined,
  ): OriginVerdict | Promise<OriginVerdict> {
    const fn = this.originFunction as CorsOriginFunction;
    let verdict: OriginVerdict | undefined;
    let resolveLater: ((v: OriginVerdict) => void) | undefined;
    const settle = (err: unknown, value: unknown): void => {
      if (verdict !== undefined) return;
      verdict = err ? DENIED.predicateError : this.verdictOf(origin, value);
      resolveLater?.(verdict);
    };
    const callback = (err: Error | null, value?: unknown) => settle(err, value);
    const argument = request === undefined ? callback : requestView(callback, request);
    let returned: unknown;
    try {
      returned = fn(origin, argument as never);
    } catch {
      return DENIED.predicateError;
    }
    if (typeof returned === 'boolean') settle(null, returned);
    else if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') {
      (returned as PromiseLike<unknown>).then(
        (v) => settle(null, v),
        (e) => settle(e ?? new Error('rejected'), undefined),
      );
    }
    if (verdict !== undefined) return verdict;
    return new Promise<OriginVerdict>((resolve) => (resolveLater = resolve));
  }

  /** What a function's answer (or a `cors` callback value) means for this origin. */
  private verdictOf(origin: string, value: unknown): OriginVerdict {
    if (value === '*') return this.credentials ? origin : '*';
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === true) return origin;
      if (typeof item === 'string' && item === origin) return origin;
      if (item instanceof RegExp) {
        item.lastIndex = 0;
        if (item.test(origin)) return origin;
      }
    }
    return DENIED.notAllowed;
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

/**
 * Policies merged from the same `origin` value share one compiled rule: compiled (and its
 * problems reported) once, and recognisable as the same decision.
 */
export class OriginRuleCache {
  private readonly rules = new Map<unknown, [OriginRule?, OriginRule?]>();

  get(origin: unknown, credentials: boolean, compile: () => OriginRule): OriginRule {
    let pair = this.rules.get(origin);
    if (pair === undefined) this.rules.set(origin, (pair = [undefined, undefined]));
    const slot = credentials ? 1 : 0;
    return (pair[slot] ??= compile());
  }
}

/**
 * Why a RegExp may match more than meant: not anchored at both ends (`^a|b$` anchors neither
 * branch fully), or an unescaped `.` between name characters (`app.example` matches `appxexample`).
 */
export function regexpWarning(source: string): string | undefined {
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
    return 'is not anchored with ^…$ around the whole pattern: it may match origins that merely contain an allowed one (write ^(?:a|b)$)';
  }
  if (looseDot) return 'has an unescaped "." between letters: it matches any character (write \\.)';
  return undefined;
}
