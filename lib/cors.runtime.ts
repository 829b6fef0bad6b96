/**
 * Boot and live state, behind the public service: builds the policy table once the routes are
 * known (from `configure()`), mounts the middleware, and swaps in a new table on a live origin
 * update. Internal: apps talk to `CorsService`.
 */
import {
  Inject,
  Injectable,
  Logger,
  type CanActivate,
  type HttpServer,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
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
  gatewayPlace,
  MODULE_PLACE,
  type CorsConfigProblem,
  pathPlace,
  policyPlace,
} from './engine/errors.js';
import { corsAdapterFor, type CorsAdapter } from './http/adapter.js';
import { CorsMiddleware } from './http/cors-middleware.js';
import type {
  CorsDecoratorValue,
  CorsModuleOptions,
  CorsPolicyOptions,
} from './interfaces/cors-options.interface.js';
import { OriginOwners, type LiveUpdate, type OriginsInForce } from './live/origin-owners.js';
import type { OriginSource, OriginSourceStatus } from './live/origin-source.js';
import { OriginSync } from './live/origin-sync.js';
import { resolveProxies, shadowedByProxies, type ProxyEntry } from './proxy/proxy-entries.js';
import { collectNestRoutes } from './routing/nest-routes.js';
import { PolicyResolver, type OriginDeclaration } from './routing/policy-resolver.js';
import { PolicyTable, type TableRoute } from './routing/policy-table.js';
import { GatewayTable, type GatewayEntry } from './ws/gateway-table.js';
import { HandshakeGate } from './ws/handshake-gate.js';
import { collectGateways, watchGatewayServers, type GatewayRecord } from './ws/nest-gateways.js';

@Injectable()
export class CorsRuntime implements OnModuleDestroy, OnApplicationBootstrap {
  readonly logger = new Logger('Cors');
  private middleware: CorsMiddleware | undefined;
  private started = false;
  private mounted = false;
  /** The origins of the module defaults (key '') and of each named policy with its own. */
  private owners: OriginOwners | undefined;
  /** The sync of each key whose origins come from a source (keys may share one). */
  private readonly syncs = new Map<string, OriginSync>();
  /** The `proxies` entries, compiled (empty before boot). */
  private proxyEntries: readonly ProxyEntry[] = [];
  /** Checks the handshakes of every WebSocket server a gateway gets. */
  private readonly gate: HandshakeGate;

  constructor(
    @Inject(CORS_MODULE_OPTIONS) private readonly options: CorsModuleOptions,
    private readonly reflector: Reflector,
    private readonly modulesContainer: ModulesContainer,
    private readonly metadataScanner: MetadataScanner,
    private readonly applicationConfig: ApplicationConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.gate = new HandshakeGate({
      denial: options?.debug === true ? (line) => this.logger.log(line) : undefined,
      error: (line) => this.logger.error(line),
    });
    // Gateway servers are created in `init()` before `configure()`: the gate is on each one
    // from its creation, and refuses every handshake until `start()` gives it the policies.
    watchGatewayServers(applicationConfig, this.gate.attach);
  }

  /** The `proxies` entries with their policies (origins as at boot; the table has live ones). */
  get proxies(): readonly ProxyEntry[] {
    return this.proxyEntries;
  }

  /** The WebSocket gateways with their policies (undefined before boot). */
  get gateways(): GatewayTable | undefined {
    return this.gate.current;
  }

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
    const gateways = await this.gatewaysWithPolicies(resolver);
    const proxies = resolveProxies(this.options?.proxies, resolver);
    const problems = resolver.problems;
    problems.errors.push(...proxies.problems, ...seamProblems(adapter, resolver.paths));
    problems.errors.push(
      ...shadowedByProxies(proxies.entries, [...routes, ...pathNames(resolver)]),
    );
    problems.errors.push(...this.gate.problemsOf(gateways));
    for (const warning of problems.warnings)
      this.logger.warn(`${warning.where}: ${warning.message}`);
    if (problems.errors.length > 0) throw new CorsConfigError(problems.errors);
    adapter.whenLoaded?.(() => {
      const conflict = conflictingCors(adapter);
      if (conflict !== undefined) throw new CorsConfigError([conflict]);
    });
    this.proxyEntries = proxies.entries;
    // Proxied prefixes first: no route or `paths` entry lies under one (checked above).
    const proxyPaths = proxies.entries.flatMap((entry) =>
      entry.proxy.patterns(adapter.kind).map((path) => ({ ...entry, path })),
    );
    const table = PolicyTable.build(routes, resolver.fallback, adapter.routerFactory(), [
      ...proxyPaths,
      ...resolver.paths,
    ]);
    this.mount(adapter);
    this.middleware?.use(table);
    this.gate.use(GatewayTable.build(gateways));
    this.owners = new OriginOwners(resolver.originOwners, resolver.originDeclarations, (replace) =>
      this.swapPolicies(replace),
    );
    // No request is served before `configure()` returns: the first loads land before any.
    await this.startOriginSources(resolver.originDeclarations);
    // Global guards are read when routes are registered, right after `configure()`. Only an app
    // with an enforcing policy gets one: the others pay nothing per request.
    if (table.enforces) this.applicationConfig.addGlobalGuard(guard);
    if (this.options?.debug === true) {
      this.logger.log(`CORS policy table:\n${formatTable(this.table ?? table, this.gate.current)}`);
    }
  }

  /**
   * Once every server exists: a gateway with a policy whose server the gate never saw created
   * would take handshakes unchecked (a WebSocket adapter or a Nest version that creates servers
   * another way). Fail closed: the app does not start.
   */
  onApplicationBootstrap(): void {
    const unseen = this.gate.unguarded();
    if (unseen.length > 0) throw new CorsConfigError(unseen);
  }

  /** Stops every origin source (timers, subscriptions, the source's own connections). */
  async onModuleDestroy(): Promise<void> {
    for (const { proxy } of this.proxyEntries) proxy.close();
    await Promise.all([...new Set(this.syncs.values())].map((sync) => sync.stop()));
  }

  /**
   * One sync per distinct source: the first loads (all of them; any failure fails the boot with
   * every problem), then the subscriptions and periodic checks.
   */
  private async startOriginSources(
    declarations: ReadonlyMap<string, OriginDeclaration>,
  ): Promise<void> {
    const keysOf = new Map<OriginSource, string[]>();
    for (const [key, { source }] of declarations) {
      if (source !== undefined) keysOf.set(source, [...(keysOf.get(source) ?? []), key]);
    }
    const syncs = [...keysOf].map(([source, keys]) => {
      const place = declarations.get(keys[0])!.place;
      const sync = new OriginSync(
        source,
        place,
        (entries, strict) => this.applyLive(keys, entries, strict),
        this.logger,
      );
      for (const key of keys) this.syncs.set(key, sync);
      return sync;
    });
    const booted = await Promise.allSettled(syncs.map((sync) => sync.boot()));
    const failures = booted.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    if (failures.length > 0) {
      await Promise.all(syncs.map((sync) => sync.stop()));
      throw mergeConfigErrors(failures);
    }
    await Promise.all(syncs.map((sync) => sync.watch()));
  }

  /** A source's list, swapped in for every key that takes its origins from that source. */
  private applyLive(
    keys: readonly string[],
    entries: readonly unknown[],
    strict: boolean,
  ): LiveUpdate {
    const skipped: CorsConfigProblem[] = [];
    const warnings: CorsConfigProblem[] = [];
    for (const key of keys) {
      const update = this.owners!.setLive(key, entries, strict);
      skipped.push(...update.skipped);
      warnings.push(...update.warnings);
    }
    return { skipped, warnings };
  }

  /** Swaps in a table where `replace` maps each old policy to its new one. */
  private swapPolicies(replace: ReadonlyMap<CorsPolicy, CorsPolicy>): void {
    const table = this.table;
    if (table !== undefined) this.middleware?.use(table.withPolicies(replace));
    const gateways = this.gate.current;
    if (gateways !== undefined) this.gate.use(gateways.withPolicies(replace));
  }

  /** Every WebSocket gateway, with the effective policy of its `@Cors` value. */
  private async gatewaysWithPolicies(
    resolver: PolicyResolver,
  ): Promise<Array<GatewayRecord & GatewayEntry>> {
    return (await collectGateways(this.modulesContainer)).map((record) => ({
      ...record,
      ...resolver.resolveOne(
        this.reflector.get<CorsDecoratorValue | undefined>(CORS_METADATA, record.gateway),
        gatewayPlace(record.name),
      ),
    }));
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
    if (policy !== undefined && !this.ownsOrigins(policy)) {
      const message =
        "declares no origin of its own: its routes use the module's origins. Call setOrigins(list) without a policy name, or give the policy an origin";
      throw new CorsConfigError([
        configProblem(policyPlace(policy), 'policy-without-origin', message, policy),
      ]);
    }
    const declared = policy === undefined ? MODULE_PLACE : policyPlace(policy);
    const place = { where: `${declared.where} (setOrigins)`, source: declared.source };
    const warnings = this.owners?.setStatic(policy ?? '', origin, place) ?? [];
    for (const warning of warnings) this.logger.warn(`${warning.where}: ${warning.message}`);
  }

  /** The origins in force (static and live) of the module defaults or of a named policy. */
  origins(policy?: string): OriginsInForce {
    return this.owners?.originsOf(this.originKey(policy)) ?? [];
  }

  /** The state of the origin source behind the module defaults or a named policy, if any. */
  originSourceStatus(policy?: string): OriginSourceStatus | undefined {
    return this.syncs.get(this.originKey(policy))?.status;
  }

  /** Where the origins of `policy` are declared: its own name, or '' (the module's). */
  private originKey(policy: string | undefined): string {
    if (policy === undefined) return '';
    return this.ownsOrigins(policy) ? policy : '';
  }

  /** Does the named policy declare origins of its own? Throws for an unknown name. */
  private ownsOrigins(name: string): boolean {
    const declared = this.options?.policies?.[name];
    if (declared === undefined) {
      const place = policyPlace(name);
      throw new CorsConfigError([configProblem(place, 'unknown-policy', 'unknown policy', name)]);
    }
    return declared.origin !== undefined || declared.originSource !== undefined;
  }
}

/** The problems of several boot failures as one error (any other error as it is). */
function mergeConfigErrors(failures: readonly unknown[]): Error {
  if (!failures.every((f) => f instanceof CorsConfigError)) {
    return failures.find((f) => !(f instanceof CorsConfigError)) as Error;
  }
  return new CorsConfigError(failures.flatMap((f) => (f as CorsConfigError).problems));
}

/** The `paths` entries as the report names them (`paths["/graphql"]`). */
function pathNames(resolver: PolicyResolver): Array<{ path: string; name: string }> {
  return resolver.paths.map((p) => ({ path: p.path, name: `paths[${JSON.stringify(p.path)}]` }));
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

/** The table at boot (`debug: true`): routes, `paths` and proxies, then gateways. */
function formatTable(table: PolicyTable, gateways: GatewayTable | undefined): string {
  const rows = [...table.routes, ...table.paths].map((r) => ({
    method: r.method,
    path: r.path,
    name: r.name,
    source: r.source,
    policy: r.policy,
  }));
  for (const g of gateways?.gateways ?? []) {
    const where = `${g.port === 0 ? '' : `:${g.port}`}${g.path ?? '(default)'}`;
    const namespace = g.namespace === undefined ? '' : ` ${String(g.namespace)}`;
    rows.push({
      method: 'WS',
      path: where + namespace,
      name: g.name,
      source: g.source,
      policy: g.policy,
    });
  }
  const list = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
  return rows
    .map((r) => {
      const p = r.policy?.describe();
      // A handshake is an origin decision: methods and max-age mean nothing there.
      const http =
        r.method === 'WS' ? '' : ` methods=${list(p?.methods)} maxAge=${p?.maxAge ?? '-'}`;
      const what = p
        ? `origins=${list(p.origins)} credentials=${p.credentials}${http}${p.enforce ? ' enforce' : ''}`
        : 'CORS off';
      return `  ${r.method.padEnd(7)} ${r.path.padEnd(30)} ${r.name.padEnd(30)} [${r.source}] ${what}`;
    })
    .join('\n');
}
