/**
 * Effective policy of every route = module defaults ← controller `@Cors` ← route `@Cors`, merged
 * key by key (arrays replaced), named policies expanded at their level, the most specific `false`
 * or options winning. Computed once at boot; each distinct merge is compiled once.
 */
import { CorsPolicy } from '../engine/cors-policy.js';
import { ProblemList } from '../engine/errors.js';
import { OriginRuleCache } from '../engine/origin-rule.js';
import type {
  CorsDecoratorValue,
  CorsModuleOptions,
  CorsPolicyOptions,
} from '../interfaces/cors-options.interface.js';

/** A route's effective policy and where it came from. */
export interface ResolvedPolicy {
  /** null: CORS is off for this route. */
  policy: CorsPolicy | null;
  /** `module`, `policy "admin"`, `UsersController`, `UsersController.remove`. */
  source: string;
}

const MODULE_ONLY_KEYS = ['policies', 'routes', 'debug'] as const;

export class PolicyResolver {
  readonly problems = new ProblemList();
  /** The module defaults as a policy (null when `routes: 'decorated'`). */
  readonly fallback: ResolvedPolicy;
  private readonly defaults: CorsPolicyOptions;
  private readonly named = new Map<string, ResolvedPolicy>();
  private readonly merged = new Map<
    CorsDecoratorValue,
    Map<CorsDecoratorValue | undefined, ResolvedPolicy>
  >();
  private readonly defaultPolicy: CorsPolicy;
  /**
   * For live origin updates: the compiled policies whose `origin` comes from the module defaults
   * (key `''`) or from a named policy (its name). Inline `@Cors({ origin })` values are static.
   */
  readonly originOwners = new Map<string, Set<CorsPolicy>>();
  /** One rule cache per place an `origin` is declared (module defaults, a named policy). */
  private readonly originRules = new Map<string, OriginRuleCache>();

  constructor(private readonly options: CorsModuleOptions) {
    const defaults: Record<string, unknown> = { ...options };
    for (const key of MODULE_ONLY_KEYS) delete defaults[key];
    this.defaults = defaults as CorsPolicyOptions;
    if (
      options.routes !== undefined &&
      options.routes !== 'all' &&
      options.routes !== 'decorated'
    ) {
      this.problems.error(
        'module',
        `routes must be 'all' or 'decorated', got ${JSON.stringify(options.routes)}`,
      );
    }
    this.defaultPolicy = this.compile(this.defaults, 'module', '');
    this.own('', this.defaultPolicy);
    const policies = options.policies ?? {};
    for (const [name, policyOptions] of Object.entries(policies)) {
      const where = `policy "${name}"`;
      const originFrom = policyOptions?.origin !== undefined ? name : '';
      const policy = this.compile(
        { ...this.defaults, ...defined(policyOptions) },
        where,
        originFrom,
      );
      this.own(originFrom, policy);
      this.named.set(name, { policy, source: where });
    }
    this.fallback = {
      policy: options.routes === 'decorated' ? null : this.defaultPolicy,
      source: options.routes === 'decorated' ? 'module (routes: decorated)' : 'module',
    };
  }

  /**
   * The effective policy for a route with these decorator values (undefined = no decorator).
   * `controllerName` and `routeName` say where each value was declared.
   */
  resolve(
    controllerValue: CorsDecoratorValue | undefined,
    routeValue: CorsDecoratorValue | undefined,
    controllerName: string,
    routeName: string,
  ): ResolvedPolicy {
    if (controllerValue === undefined && routeValue === undefined) return this.fallback;
    // The same pair of decorator values always merges to the same policy: compile it once.
    const key = controllerValue ?? NONE;
    let byRoute = this.merged.get(key);
    if (byRoute === undefined) this.merged.set(key, (byRoute = new Map()));
    const cached = byRoute.get(routeValue);
    if (cached !== undefined) return cached;

    let effective: CorsPolicyOptions | null = null;
    let source = 'module';
    let originFrom: string | undefined = '';
    let inline = false;
    for (const [value, where] of [
      [controllerValue, controllerName],
      [routeValue, routeName],
    ] as const) {
      if (value === undefined) continue;
      if (value === false) {
        effective = null;
        source = where;
        originFrom = '';
        inline = false;
        continue;
      }
      if (typeof value === 'string') {
        const named = this.options.policies?.[value];
        if (named === undefined) {
          const known = Object.keys(this.options.policies ?? {});
          this.problems.error(
            where,
            `unknown policy "${value}"` +
              (known.length ? ` (known: ${known.join(', ')})` : ' (no policies are defined)'),
          );
          effective = null;
          continue;
        }
        effective = { ...(effective ?? this.defaults), ...defined(named) };
        if (named.origin !== undefined) originFrom = value;
        source = inline ? `${where} + policy "${value}"` : `policy "${value}"`;
        inline = true;
        continue;
      }
      if (typeof value !== 'object' || value === null) {
        this.problems.error(where, '@Cors() takes options, a policy name or false');
        continue;
      }
      effective = { ...(effective ?? this.defaults), ...defined(value) };
      if (value.origin !== undefined) originFrom = undefined;
      source = where;
      inline = true;
    }
    let result: ResolvedPolicy;
    if (effective === null) result = { policy: null, source };
    else if (isExactlyNamed(controllerValue, routeValue))
      result = this.named.get(
        (typeof routeValue === 'string' ? routeValue : controllerValue) as string,
      )!;
    else {
      result = { policy: this.compile(effective, source, originFrom), source };
      if (originFrom !== undefined) this.own(originFrom, result.policy as CorsPolicy);
    }
    byRoute.set(routeValue, result);
    return result;
  }

  private own(key: string, policy: CorsPolicy): void {
    let owners = this.originOwners.get(key);
    if (owners === undefined) this.originOwners.set(key, (owners = new Set()));
    owners.add(policy);
  }

  private compile(
    options: CorsPolicyOptions,
    where: string,
    originFrom: string | undefined,
  ): CorsPolicy {
    const local = new ProblemList();
    let rules: OriginRuleCache | undefined;
    if (originFrom !== undefined) {
      rules = this.originRules.get(originFrom);
      if (rules === undefined) this.originRules.set(originFrom, (rules = new OriginRuleCache()));
    }
    const policy = CorsPolicy.compileInto(options, where, local, rules);
    // A problem inherited from the module defaults or a named policy is reported once, where it
    // was declared, not again for every route that merges it.
    const inherited = new Set<string>();
    const reported = new Set<string>();
    for (const p of [...this.problems.errors, ...this.problems.warnings]) {
      if (p.where === 'module' || p.where.startsWith('policy "')) inherited.add(p.message);
      reported.add(`${p.where}\n${p.message}`);
    }
    const fresh = (p: { where: string; message: string }) =>
      !inherited.has(p.message) && !reported.has(`${p.where}\n${p.message}`);
    for (const e of local.errors) if (fresh(e)) this.problems.error(e.where, e.message);
    for (const w of local.warnings) if (fresh(w)) this.problems.warn(w.where, w.message);
    return policy;
  }
}

const NONE = Symbol('no controller decorator') as unknown as CorsDecoratorValue;

/** Keys set to undefined do not override (so `{ maxAge: undefined }` keeps the default). */
function defined(options: CorsPolicyOptions): CorsPolicyOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v;
  return out as CorsPolicyOptions;
}

/** Is the effective policy one named policy with nothing merged over it? */
function isExactlyNamed(
  controllerValue: CorsDecoratorValue | undefined,
  routeValue: CorsDecoratorValue | undefined,
): boolean {
  if (typeof routeValue === 'string')
    return controllerValue === undefined || controllerValue === false;
  return routeValue === undefined && typeof controllerValue === 'string';
}
