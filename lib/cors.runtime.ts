/**
 * Boot and live state, behind the public service: builds the policy table once the routes are
 * known (from `configure()`), mounts the middleware, and swaps in a new table on a live origin
 * update. Internal: apps talk to `CorsService`.
 */
import { Inject, Injectable, Logger, type CanActivate, type HttpServer } from '@nestjs/common';
import {
  ApplicationConfig,
  HttpAdapterHost,
  MetadataScanner,
  ModulesContainer,
  Reflector,
} from '@nestjs/core';
import { CORS_METADATA } from './cors.constants.js';
import { CORS_MODULE_OPTIONS } from './cors.module-definition.js';
import type { CorsPolicy } from './engine/cors-policy.js';
import {
  configProblem,
  CorsConfigError,
  MODULE_PLACE,
  type CorsConfigProblem,
  pathPlace,
  policyPlace,
  problemKey,
  ProblemList,
} from './engine/errors.js';
import { OriginRuleCache } from './engine/origin-rule.js';
import { corsAdapterFor, type CorsAdapter } from './http/adapter.js';
import { CorsMiddleware } from './http/cors-middleware.js';
import type {
  CorsDecoratorValue,
  CorsModuleOptions,
  CorsPolicyOptions,
} from './interfaces/cors-options.interface.js';
import { collectNestRoutes } from './routing/nest-routes.js';
import { PolicyResolver } from './routing/policy-resolver.js';
import { PolicyTable, type TableRoute } from './routing/policy-table.js';

@Injectable()
export class CorsRuntime {
  readonly logger = new Logger('Cors');
  private middleware: CorsMiddleware | undefined;
  private started = false;
  private mounted = false;
  /** Policies whose `origin` comes from the module defaults (key '') or a named policy. */
  private originOwners = new Map<string, Set<CorsPolicy>>();

  constructor(
    @Inject(CORS_MODULE_OPTIONS) private readonly options: CorsModuleOptions,
    private readonly reflector: Reflector,
    private readonly modulesContainer: ModulesContainer,
    private readonly metadataScanner: MetadataScanner,
    private readonly applicationConfig: ApplicationConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** The table in force (undefined before boot, or without an HTTP adapter). */
  get table(): PolicyTable | undefined {
    return this.middleware?.current;
  }

  /** The mounted middleware (for benchmarks that call it directly). */
  get handler(): CorsMiddleware['handle'] | undefined {
    return this.middleware?.handle;
  }

  /** Is this a same-origin request (its `Origin` is the request's own origin)? */
  isSameOrigin(req: Parameters<CorsMiddleware['isSameOrigin']>[0], origin: string): boolean {
    return this.middleware?.isSameOrigin(req, origin) ?? false;
  }

  /**
   * Builds the table (throws `CorsConfigError` listing every problem), mounts the middleware, and
   * makes `guard` a global guard if a policy enforces.
   */
  async start(guard: CanActivate): Promise<void> {
    if (this.started) return;
    this.started = true;
    const httpAdapter = this.adapterHost.httpAdapter;
    if (httpAdapter === undefined) return; // not an HTTP application
    const adapter = await corsAdapterFor(httpAdapter);
    const resolver = new PolicyResolver(this.options, (message) => this.logger.error(message));
    const routes = await this.routesWithPolicies(resolver, httpAdapter);
    const problems = resolver.problems;
    problems.errors.push(...seamProblems(adapter, resolver.paths));
    for (const warning of problems.warnings)
      this.logger.warn(`${warning.where}: ${warning.message}`);
    if (problems.errors.length > 0) throw new CorsConfigError(problems.errors);
    adapter.whenLoaded?.(() => {
      const conflict = conflictingCors(adapter);
      if (conflict !== undefined) throw new CorsConfigError([conflict]);
    });
    this.originOwners = resolver.originOwners;
    const table = PolicyTable.build(
      routes,
      resolver.fallback,
      adapter.routerFactory(),
      resolver.paths,
    );
    this.mount(adapter);
    this.middleware?.use(table);
    // Global guards are read when routes are registered, right after `configure()`. Only an app
    // with an enforcing policy gets one: the others pay nothing per request.
    if (table.enforces) this.applicationConfig.addGlobalGuard(guard);
    if (this.options?.debug === true) this.logger.log(`CORS policy table:\n${formatTable(table)}`);
  }

  /** Every route Nest registers, with the effective policy of its `@Cors` values. */
  private async routesWithPolicies(
    resolver: PolicyResolver,
    httpAdapter: HttpServer,
  ): Promise<TableRoute[]> {
    const sources = {
      modulesContainer: this.modulesContainer,
      metadataScanner: this.metadataScanner,
      applicationConfig: this.applicationConfig,
      httpAdapter,
    };
    return (await collectNestRoutes(sources)).map((record) => ({
      ...record,
      ...resolver.resolve(
        this.reflector.get<CorsDecoratorValue | undefined>(CORS_METADATA, record.controller),
        this.reflector.get<CorsDecoratorValue | undefined>(CORS_METADATA, record.handler),
        record.controller.name,
        record.name,
      ),
    }));
  }

  /** Mounts the middleware on the HTTP adapter (once). */
  private mount(adapter: CorsAdapter): void {
    if (this.mounted) return;
    const debug = this.options?.debug === true;
    this.middleware = new CorsMiddleware(
      adapter,
      debug ? (line) => this.logger.log(line) : undefined,
    );
    adapter.mount(this.middleware.handle);
    this.mounted = true;
  }

  /**
   * Validates `origin` against every policy that takes its origins from the module defaults (no
   * `policy`) or from the named policy, then swaps in a new table with new policies. On any
   * problem it throws `CorsConfigError` and the table in force stays.
   */
  setOrigins(origin: CorsPolicyOptions['origin'], policy?: string): void {
    if (policy !== undefined) this.checkNamedPolicy(policy);
    const declared = policy === undefined ? MODULE_PLACE : policyPlace(policy);
    const place = { where: `${declared.where} (setOrigins)`, source: declared.source };
    const owners = this.originOwners.get(policy ?? '') ?? new Set<CorsPolicy>();
    const problems = new ProblemList();
    const rules = new OriginRuleCache();
    const replace = new Map<CorsPolicy, CorsPolicy>();
    for (const owner of owners)
      replace.set(owner, owner.withOrigins(origin, place, problems, rules));
    // Every owner reports the same problem of the same list: once each.
    const once = (list: typeof problems.errors) => [
      ...new Map(list.map((p) => [problemKey(p), p])).values(),
    ];
    if (problems.errors.length > 0) throw new CorsConfigError(once(problems.errors));
    const table = this.table;
    if (table !== undefined) this.middleware?.use(table.withPolicies(replace));
    this.originOwners = remapOwners(this.originOwners, replace);
    for (const warning of once(problems.warnings)) {
      this.logger.warn(`${warning.where}: ${warning.message}`);
    }
  }

  private checkNamedPolicy(name: string): void {
    const declared = this.options?.policies?.[name];
    const place = policyPlace(name);
    if (declared === undefined) {
      throw new CorsConfigError([configProblem(place, 'unknown-policy', 'unknown policy', name)]);
    }
    if (declared.origin === undefined) {
      const message =
        "declares no origin of its own: its routes use the module's origins. Call setOrigins(list) without a policy name, or give the policy an origin";
      throw new CorsConfigError([configProblem(place, 'policy-without-origin', message, name)]);
    }
  }
}

/** What only the adapter can check: a leftover CORS middleware, `paths` the router cannot parse. */
function seamProblems(
  adapter: CorsAdapter,
  paths: ReadonlyArray<{ path: string }>,
): CorsConfigProblem[] {
  const problems: CorsConfigProblem[] = [];
  const conflict = conflictingCors(adapter);
  if (conflict !== undefined) problems.push(conflict);
  for (const { path } of paths) {
    const problem = typeof path === 'string' ? adapter.checkPath(path) : 'not a string';
    if (problem === undefined) continue;
    const message = `${JSON.stringify(path)} is not a path pattern the router accepts: ${problem}`;
    problems.push(configProblem(pathPlace(path), 'invalid-path-pattern', message, path));
  }
  return problems;
}

/** Another CORS middleware on the adapter, as a configuration problem. */
function conflictingCors(adapter: CorsAdapter): CorsConfigProblem | undefined {
  if (adapter.otherCorsMiddleware() === undefined) return undefined;
  return configProblem(
    MODULE_PLACE,
    'conflicting-cors-middleware',
    'app.enableCors() (or the cors option of NestFactory.create, or app.use(cors())) is mounted too: it would answer every preflight before this module and override its headers. Delete it: CorsModule replaces it (the same options object goes to CorsModule.forRoot)',
  );
}

function remapOwners(
  owners: ReadonlyMap<string, Set<CorsPolicy>>,
  replace: ReadonlyMap<CorsPolicy, CorsPolicy>,
): Map<string, Set<CorsPolicy>> {
  const next = new Map<string, Set<CorsPolicy>>();
  for (const [key, set] of owners) next.set(key, new Set([...set].map((p) => replace.get(p) ?? p)));
  return next;
}

function formatTable(table: PolicyTable): string {
  return [...table.routes, ...table.paths]
    .map((r) => {
      const p = r.policy?.describe();
      const list = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
      const what = p
        ? `origins=${list(p.origins)} credentials=${p.credentials} methods=${list(p.methods)} maxAge=${p.maxAge ?? '-'}`
        : 'CORS off';
      return `  ${r.method.padEnd(7)} ${r.path.padEnd(30)} ${r.name.padEnd(30)} [${r.source}] ${what}`;
    })
    .join('\n');
}
