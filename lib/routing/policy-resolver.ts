/**
 * Effective policy of every route = module defaults ← controller `@Cors` ← route `@Cors`, merged
 * key by key (arrays replaced), named policies expanded at their level, the most specific `false`
 * or options winning. Computed once at boot; each distinct merge is compiled once.
 */
import { checkOptionsObject, CorsPolicy } from '../engine/cors-policy.js';
import {
  MODULE_PLACE,
  pathPlace,
  policyPlace,
  problemKey,
  ProblemList,
  sourceKey,
  type CorsConfigProblem,
  type CorsErrorSink,
  type CorsProblemPlace,
  type CorsProblemSource,
} from '../engine/errors.js';
import { OriginRuleCache } from '../engine/origin-rule.js';
import { describeValue } from '../engine/tokens.js';
import type {
  CorsDecoratorValue,
  CorsModuleOptions,
  CorsNamedPolicyOptions,
  CorsPolicyOptions,
} from '../interfaces/cors-options.interface.js';
import type { OriginSource } from '../live/origin-source.js';
import { checkOriginSource } from '../live/origin-source-options.js';

/** A route's effective policy and where it came from. */
export interface ResolvedPolicy {
  /** null: CORS is off for this route. */
  policy: CorsPolicy | null;
  /** `module`, `policy "admin"`, `UsersController`, `UsersController.remove`. */
  source: string;
}

const MODULE_ONLY_KEYS = ['policies', 'paths', 'proxies', 'routes', 'debug'] as const;

/** Where the origins of an owner key (`''` the module defaults, or a policy name) are declared. */
export interface OriginDeclaration {
  /** The static `origin` as declared (with a source: a list, or `false` when left out). */
  readonly origin: CorsPolicyOptions['origin'];
  readonly source: OriginSource | undefined;
  readonly place: CorsProblemPlace;
}

export class PolicyResolver {
  /** Every error and warning, each reported once where it was declared. */
  readonly problems = new ProblemList();
  /** The module defaults as a policy (null when `routes: 'decorated'`). */
  readonly fallback: ResolvedPolicy;
  /** `paths` entries, in declaration order: a path pattern and its effective policy. */
  readonly paths: ReadonlyArray<ResolvedPolicy & { readonly path: string }>;
  private readonly options: CorsModuleOptions;
  private readonly defaults: CorsNamedPolicyOptions;
  /** Named policies as declared (an invalid one is replaced by `{}` once reported). */
  private readonly policies = new Map<string, CorsNamedPolicyOptions>();
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
  /** The static origin and the origin source of each key of `originOwners`. */
  readonly originDeclarations = new Map<string, OriginDeclaration>();
  /** One rule cache per place an `origin` is declared (module defaults, a named policy). */
  private readonly originRules = new Map<string, OriginRuleCache>();
  /** Problems reported so far (code + value + source). */
  private readonly reported = new Set<string>();
  /** Where each reported problem (code + value) was declared, to spot inherited ones. */
  private readonly declared = new Map<string, CorsProblemSource[]>();

  /**
   * `options` as the module received them: `undefined`/`null` (a `forRootAsync` factory that
   * returned nothing) and non-objects are reported, not replaced by defaults silently. `sink`
   * receives the run-time errors of origin functions (default: `console.error`).
   */
  constructor(
    options: CorsModuleOptions | null | undefined,
    private readonly sink?: CorsErrorSink,
  ) {
    this.options = this.checkModuleOptions(options);
    const defaults: Record<string, unknown> = { ...this.options };
    for (const key of MODULE_ONLY_KEYS) delete defaults[key];
    this.defaults = defaults as CorsNamedPolicyOptions;
    this.declareOrigins('', this.defaults, MODULE_PLACE);
    this.defaultPolicy = this.compile(this.defaults, MODULE_PLACE, '');
    this.own('', this.defaultPolicy);
    for (const [name, policyOptions] of this.policies) {
      const place = policyPlace(name);
      const originFrom = ownsOrigins(policyOptions) ? name : '';
      if (originFrom === name) this.declareOrigins(name, policyOptions, place);
      const policy = this.compile(merge(this.defaults, policyOptions), place, originFrom);
      this.own(originFrom, policy);
      this.named.set(name, { policy, source: place.where });
    }
    this.paths = this.resolvePaths(this.options.paths);
    const decorated = this.options.routes === 'decorated';
    this.fallback = {
      policy: decorated ? null : this.defaultPolicy,
      source: decorated ? 'module (routes: decorated)' : 'module',
    };
  }

  /**
   * The effective policy for a route with these decorator values (undefined = no decorator).
   * `controllerName` (`UsersController`) and `routeName` (`UsersController.remove`) say where
   * each value was declared.
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

    const handler = routeName.startsWith(`${controllerName}.`)
      ? routeName.slice(controllerName.length + 1)
      : routeName;
    let m: Merged = { effective: null, place: MODULE_PLACE, originFrom: '', inline: false };
    if (controllerValue !== undefined) {
      const at: CorsProblemPlace = {
        where: controllerName,
        source: { kind: 'route', controller: controllerName },
      };
      m = this.mergeLayer(m, controllerValue, at);
    }
    if (routeValue !== undefined) {
      const at: CorsProblemPlace = {
        where: routeName,
        source: { kind: 'route', controller: controllerName, handler },
      };
      m = this.mergeLayer(m, routeValue, at);
    }
    let result: ResolvedPolicy;
    if (m.effective === null) result = { policy: null, source: m.place.where };
    else if (isExactlyNamed(controllerValue, routeValue))
      result = this.named.get(
        (typeof routeValue === 'string' ? routeValue : controllerValue) as string,
      )!;
    else {
      result = { policy: this.compile(m.effective, m.place, m.originFrom), source: m.place.where };
      if (m.originFrom !== undefined) this.own(m.originFrom, result.policy as CorsPolicy);
    }
    byRoute.set(routeValue, result);
    return result;
  }

  /**
   * `paths`: for paths no controller route serves, a pattern and what `@Cors()` would take (a
   * policy name, options merged over the module defaults, or false).
   */
  private resolvePaths(
    paths: CorsModuleOptions['paths'],
  ): Array<ResolvedPolicy & { readonly path: string }> {
    if (paths === undefined) return [];
    if (paths === null || typeof paths !== 'object' || Array.isArray(paths)) {
      this.report('error', {
        code: 'invalid-paths',
        message: `paths must be an object of path patterns, got ${describeValue(paths)}`,
        value: paths,
        ...MODULE_PLACE,
      });
      return [];
    }
    return Object.entries(paths).map(([path, value]) => ({
      path,
      ...this.resolveLayer(value, pathPlace(path)),
    }));
  }

  /**
   * The effective policy of something with one level of `@Cors()` value over the module defaults
   * (a `paths` entry, a WebSocket gateway, a proxy), declared `at`; `undefined` (no value) gives
   * `whenUndecorated`.
   */
  resolveOne(
    value: CorsDecoratorValue | undefined,
    at: CorsProblemPlace,
    whenUndecorated: ResolvedPolicy = this.fallback,
  ): ResolvedPolicy {
    return value === undefined ? whenUndecorated : this.resolveLayer(value, at);
  }

  /** One `@Cors()` value (checked: `undefined` is reported) over the module defaults. */
  private resolveLayer(value: CorsDecoratorValue, at: CorsProblemPlace): ResolvedPolicy {
    const start: Merged = { effective: null, place: MODULE_PLACE, originFrom: '', inline: false };
    const m = this.mergeLayer(start, value, at);
    if (m.effective === null) return { policy: null, source: m.place.where };
    if (typeof value === 'string') return this.named.get(value)!;
    const policy = this.compile(m.effective, m.place, m.originFrom);
    if (m.originFrom !== undefined) this.own(m.originFrom, policy);
    return { policy, source: m.place.where };
  }

  /** The module defaults as a policy, whatever `routes` says (what an undecorated proxy gets). */
  get moduleDefaults(): ResolvedPolicy {
    return { policy: this.defaultPolicy, source: 'module' };
  }

  /** One `@Cors()` value, declared `at`, merged over what the outer levels gave. */
  private mergeLayer(m: Merged, value: CorsDecoratorValue, at: CorsProblemPlace): Merged {
    if (value === false) return { effective: null, place: at, originFrom: '', inline: false };
    if (typeof value === 'string') return this.mergeNamed(m, value, at);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.report('error', {
        code: 'invalid-decorator-value',
        message: `@Cors() takes options, a policy name or false, got ${Array.isArray(value) ? 'an array' : describeValue(value)}`,
        where: at.where,
        source: at.source,
        value,
      });
      return m;
    }
    if ((value as CorsNamedPolicyOptions).originSource !== undefined) this.reportInlineSource(at);
    return {
      effective: merge(m.effective ?? this.defaults, value),
      place: at,
      originFrom: ownsOrigins(value) ? undefined : m.originFrom,
      inline: true,
    };
  }

  /** `@Cors('name')`: the named policy over what the outer levels gave. */
  private mergeNamed(m: Merged, name: string, at: CorsProblemPlace): Merged {
    const named = this.policies.get(name);
    if (named === undefined) {
      const known = [...this.policies.keys()];
      this.report('error', {
        code: 'unknown-policy',
        message:
          `unknown policy "${name}"` +
          (known.length ? ` (known: ${known.join(', ')})` : ' (no policies are defined)'),
        where: at.where,
        source: at.source,
        value: name,
      });
      return { ...m, effective: null };
    }
    return {
      effective: merge(m.effective ?? this.defaults, named),
      // Over inline options the decorator's place is where the mix was declared.
      place: m.inline
        ? { where: `${at.where} + policy "${name}"`, source: at.source }
        : policyPlace(name),
      originFrom: ownsOrigins(named) ? name : m.originFrom,
      inline: true,
    };
  }

  /** Module options must be an object; `routes`, `debug` and `policies` are checked here. */
  private checkModuleOptions(options: unknown): CorsModuleOptions {
    if (options === undefined || options === null) {
      this.report('error', {
        code: 'missing-module-options',
        message: `module options are missing: the forRootAsync factory returned ${String(options)} (return an options object, {} for the defaults)`,
        where: MODULE_PLACE.where,
        source: MODULE_PLACE.source,
        value: options,
      });
      return {};
    }
    const local = new ProblemList();
    if (!checkOptionsObject(options, MODULE_PLACE, local)) {
      for (const e of local.errors) this.report('error', e);
      return {};
    }
    const module = options as CorsModuleOptions;
    const error = (code: CorsConfigProblem['code'], message: string, value: unknown) =>
      this.report('error', { code, message, value, ...MODULE_PLACE });
    if (module.routes !== undefined && module.routes !== 'all' && module.routes !== 'decorated') {
      error(
        'invalid-routes',
        `routes must be 'all' or 'decorated', got ${JSON.stringify(module.routes)}`,
        module.routes,
      );
    }
    if (module.debug !== undefined && typeof module.debug !== 'boolean') {
      error(
        'invalid-boolean',
        `debug must be true or false, got ${describeValue(module.debug)}`,
        module.debug,
      );
    }
    const policies: unknown = module.policies;
    if (policies !== undefined) {
      if (policies === null || typeof policies !== 'object' || Array.isArray(policies)) {
        error(
          'invalid-policies',
          `policies must be an object of named options, got ${describeValue(policies)}`,
          policies,
        );
      } else {
        for (const [name, value] of Object.entries(policies)) {
          const own = new ProblemList();
          const ok = checkOptionsObject(value, policyPlace(name), own);
          for (const e of own.errors) this.report('error', e);
          this.policies.set(name, ok ? value : {});
        }
      }
    }
    return module;
  }

  /** Records (and checks) where the origins of `key` are declared. */
  private declareOrigins(
    key: string,
    options: CorsNamedPolicyOptions,
    place: CorsProblemPlace,
  ): void {
    const source = options.originSource;
    if (source !== undefined) {
      const local = new ProblemList();
      checkOriginSource(source, options.origin, place, local);
      for (const e of local.errors) this.report('error', e);
    }
    // With a source, a left-out origin means "live origins only", never the default '*'.
    const origin = source !== undefined ? (options.origin ?? false) : options.origin;
    this.originDeclarations.set(key, { origin, source, place });
  }

  /** `originSource` in `@Cors()` or a `paths` entry: options there are static. */
  private reportInlineSource(at: CorsProblemPlace): void {
    this.report('error', {
      code: 'origin-source-inline',
      message:
        'originSource belongs to the module options or a named policy, not to @Cors() or a paths entry: declare a named policy with it and use @Cors("name")',
      where: at.where,
      source: at.source,
    });
  }

  private own(key: string, policy: CorsPolicy): void {
    let owners = this.originOwners.get(key);
    if (owners === undefined) this.originOwners.set(key, (owners = new Set()));
    owners.add(policy);
  }

  private compile(
    options: CorsPolicyOptions,
    place: CorsProblemPlace,
    originFrom: string | undefined,
  ): CorsPolicy {
    const local = new ProblemList();
    let rules: OriginRuleCache | undefined;
    if (originFrom !== undefined) {
      rules = this.originRules.get(originFrom);
      if (rules === undefined) {
        const label = originFrom === '' ? MODULE_PLACE.where : policyPlace(originFrom).where;
        this.originRules.set(originFrom, (rules = new OriginRuleCache(label)));
      }
    }
    const policy = CorsPolicy.compileInto(staticOptions(options), place, local, rules, this.sink);
    for (const e of local.errors) this.report('error', e, true);
    for (const w of local.warnings) this.report('warning', w, true);
    return policy;
  }

  /**
   * Records a problem unless it was already reported at the same place, or (for problems of
   * `compiled` merged options) where the value it is about was declared: the module defaults, a
   * named policy, or the controller of a route (a problem inherited by every route that merges
   * them is reported once). Compared by code, value and source, never by message text.
   */
  private report(kind: 'error' | 'warning', p: CorsConfigProblem, compiled = false): void {
    const key = problemKey(p);
    if (this.reported.has(key)) return;
    if (compiled) {
      const what = problemKey(p, false);
      const declaredAt = this.declared.get(what) ?? [];
      if (declaredAt.some((d) => inherits(p.source, d))) return;
      declaredAt.push(p.source);
      this.declared.set(what, declaredAt);
    }
    this.reported.add(key);
    (kind === 'error' ? this.problems.errors : this.problems.warnings).push(p);
  }
}

/** Does a value declared at `from` reach `at` by merging (module → policy → controller → route)? */
function inherits(at: CorsProblemSource, from: CorsProblemSource): boolean {
  if (sourceKey(at) === sourceKey(from)) return false;
  switch (from.kind) {
    case 'module':
      return true;
    case 'policy':
      return at.kind === 'route' || at.kind === 'gateway' || at.kind === 'proxy';
    case 'path':
    case 'origin-source':
    case 'proxy':
    case 'gateway':
      return false;
    case 'route':
      return (
        from.handler === undefined &&
        at.kind === 'route' &&
        at.handler !== undefined &&
        at.controller === from.controller
      );
  }
}

const NONE = Symbol('no controller decorator') as unknown as CorsDecoratorValue;

/** The merge of the decorator levels so far. */
interface Merged {
  /** null: CORS off (`@Cors(false)`, or an unknown policy name). */
  readonly effective: CorsPolicyOptions | null;
  /** Where the merged options were declared. */
  readonly place: CorsProblemPlace;
  /** Where `origin` comes from: '' module, a policy name, undefined inline (static). */
  readonly originFrom: string | undefined;
  /** Were inline options merged (a named policy over them is a mix)? */
  readonly inline: boolean;
}

/**
 * `layer` over `base`, key by key; keys set to undefined do not override (so
 * `{ maxAge: undefined }` keeps the default). `allowedHeaders` and its alias `headers` are one
 * setting: a layer that gives either replaces both; so are `origin` and `originSource`.
 */
function merge(
  base: CorsNamedPolicyOptions,
  layer: CorsNamedPolicyOptions,
): CorsNamedPolicyOptions {
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(layer)) if (v !== undefined) own[k] = v;
  const out: Record<string, unknown> = { ...base };
  for (const pair of PAIRED_KEYS) {
    if (pair.some((key) => key in own)) for (const key of pair) delete out[key];
  }
  return { ...out, ...own } as CorsNamedPolicyOptions;
}

const PAIRED_KEYS = [
  ['allowedHeaders', 'headers'],
  ['origin', 'originSource'],
] as const;

/** Does this layer say where origins come from (a static list, a source, or both)? */
function ownsOrigins(options: CorsNamedPolicyOptions): boolean {
  return options.origin !== undefined || options.originSource !== undefined;
}

/**
 * What the engine compiles: options without `originSource` (the module adds the live origins
 * later); with a source, a left-out `origin` is no static origin rather than the default `'*'`.
 */
function staticOptions(options: CorsNamedPolicyOptions): CorsPolicyOptions {
  if (!('originSource' in options)) return options;
  const { originSource, ...rest } = options;
  if (originSource !== undefined && rest.origin === undefined) rest.origin = false;
  return rest;
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
