import { Inject, Injectable, Logger } from '@nestjs/common';
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
import { CorsConfigError, ProblemList } from './engine/errors.js';
import { OriginRuleCache } from './engine/origin-rule.js';
import { isRequestOf, mountOnAdapter } from './http/adapter.js';
import { CorsRequestHandler } from './http/cors-request-handler.js';
import type {
  CorsDecoratorValue,
  CorsModuleOptions,
  CorsPolicyOptions,
} from './interfaces/cors-options.interface.js';
import { PathEntry, PathIndex, type RouteTarget } from './routing/path-index.js';
import { PolicyResolver } from './routing/policy-resolver.js';
import type { RouteRecord } from './routing/route-record.js';
import { buildRouteTable, setHandlerGuard } from './routing/route-table.js';
import { CorsGuard } from './http/cors.guard.js';

/** One row of the policy report: a route and its effective policy. */
export interface CorsRouteReport {
  method: string;
  path: string;
  handler: string;
  source: string;
  policy: ReturnType<CorsPolicy['describe']> | null;
}

interface ReportRow {
  method: string;
  path: string;
  handler: string;
  source: string;
  policy: CorsPolicy | null;
}

/**
 * Builds the per-route policy table once at boot and owns the early middleware. Injectable, so
 * an app can read the report (`report()`).
 */
@Injectable()
export class CorsService {
  readonly handler: CorsRequestHandler;
  private readonly guard: CorsGuard;
  private readonly logger = new Logger('Cors');
  private readonly byHandler = new Map<Function, RouteTarget>();
  private rows: ReportRow[] = [];
  private originOwners = new Map<string, Set<CorsPolicy>>();
  private started = false;
  private mounted = false;

  constructor(
    @Inject(CORS_MODULE_OPTIONS) private readonly options: CorsModuleOptions,
    private readonly reflector: Reflector,
    private readonly modulesContainer: ModulesContainer,
    private readonly metadataScanner: MetadataScanner,
    private readonly applicationConfig: ApplicationConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.handler = new CorsRequestHandler(this.logger, options?.debug === true);
    this.guard = new CorsGuard(this);
  }

  /** Builds the table (throws `CorsConfigError` listing every problem) and mounts the middleware. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const httpAdapter = this.adapterHost.httpAdapter;
    if (httpAdapter === undefined) return; // not an HTTP application
    const resolver = new PolicyResolver(this.options ?? {});
    const records = buildRouteTable({
      modulesContainer: this.modulesContainer,
      metadataScanner: this.metadataScanner,
      applicationConfig: this.applicationConfig,
      httpAdapter,
    });
    // Several handlers at one (path, method), or a host-bound controller: the path alone does
    // not say which handler runs, so the guard checks (see RouteTarget.verify).
    const handlersAt = new Map<string, number>();
    for (const { path, method } of records) {
      handlersAt.set(`${method} ${path}`, (handlersAt.get(`${method} ${path}`) ?? 0) + 1);
    }
    const byPath = new Map<string, RouteTarget[]>();
    const firstOrder = new Map<string, number>();
    for (const record of records) {
      const resolved = resolver.resolve(
        this.reflector.get<CorsDecoratorValue | undefined>(CORS_METADATA, record.controller),
        this.reflector.get<CorsDecoratorValue | undefined>(CORS_METADATA, record.handler),
        record.controller.name,
        record.name,
      );
      const target: RouteTarget = {
        policy: resolved.policy,
        source: resolved.source,
        name: record.name,
        method: record.method,
        order: record.order,
        verify: record.host !== undefined || handlersAt.get(`${record.method} ${record.path}`)! > 1,
      };
      if (!this.byHandler.has(record.handler)) this.byHandler.set(record.handler, target);
      this.useGuard(record, target);
      if (!byPath.has(record.path)) {
        byPath.set(record.path, []);
        firstOrder.set(record.path, record.order);
      }
      byPath.get(record.path)!.push(target);
      this.rows.push({
        method: record.method,
        path: record.path,
        handler: record.name,
        source: resolved.source,
        policy: resolved.policy,
      });
    }
    for (const warning of resolver.problems.warnings)
      this.logger.warn(`${warning.where}: ${warning.message}`);
    if (resolver.problems.errors.length > 0) throw new CorsConfigError(resolver.problems.errors);
    this.originOwners = resolver.originOwners;

    const entries = [...byPath].map(
      ([path, targets]) => new PathEntry(path, firstOrder.get(path)!, targets),
    );
    const matching =
      (
        httpAdapter as {
          getRouteMatchingOptions?(): { caseSensitive?: boolean; ignoreTrailingSlash?: boolean };
        }
      ).getRouteMatchingOptions?.() ?? {};
    const index = new PathIndex(entries, {
      caseSensitive: matching.caseSensitive === true,
      ignoreTrailingSlash: matching.ignoreTrailingSlash !== false,
    });
    this.handler.setTable({ index, fallback: resolver.fallback.policy });
    this.mount();
    if (this.options?.debug) this.logger.log(`CORS policy table:\n${formatReport(this.report())}`);
  }

  /**
   * The guard goes on the handlers that need it, decided here once (several handlers at one path,
   * a host-bound controller, `enforce`): the other handlers pay no guard at all on each request.
   */
  private useGuard(record: RouteRecord, target: RouteTarget): void {
    const needsGuard = target.verify || target.policy?.enforce === true;
    setHandlerGuard(record.handler, needsGuard ? this.guard : undefined, isCorsGuard);
  }

  /** Every route with its effective policy and where it came from (origins as they are now). */
  report(): CorsRouteReport[] {
    return this.rows.map((row) => ({ ...row, policy: row.policy?.describe() ?? null }));
  }

  /**
   * Replaces the allowed origins of the module defaults (no `policy`) or of a named policy, on
   * every route that takes its origins from there, at run time (tenants added to a database).
   * Validated first against each affected policy (credentials included); on any problem it
   * throws `CorsConfigError` and the old list stays. The swap itself is atomic.
   */
  setOrigins(origin: CorsPolicyOptions['origin'], policy?: string): void {
    const owners = this.originOwners.get(policy ?? '');
    if (owners === undefined) {
      if (policy !== undefined && !(policy in (this.options?.policies ?? {}))) {
        throw new CorsConfigError([{ where: `policy "${policy}"`, message: 'unknown policy' }]);
      }
      return; // nothing uses these origins (yet)
    }
    const problems = new ProblemList();
    const where = policy === undefined ? 'module (setOrigins)' : `policy "${policy}" (setOrigins)`;
    const shared = new OriginRuleCache();
    const commits = [...owners].map((p) => p.prepareOrigins(origin, where, problems, shared));
    if (problems.errors.length > 0) {
      const unique = new Map(problems.errors.map((e) => [e.message, e]));
      throw new CorsConfigError([...unique.values()]);
    }
    for (const commit of commits) commit();
    for (const message of new Set(problems.warnings.map((w) => w.message))) {
      this.logger.warn(`${where}: ${message}`);
    }
  }

  /** The route target of a handler (what `ExecutionContext.getHandler()` returns). */
  targetOf(handler: Function, req: object): RouteTarget | undefined {
    const httpAdapter = this.adapterHost.httpAdapter;
    if (httpAdapter === undefined || !isRequestOf(httpAdapter, req)) return undefined;
    return this.byHandler.get(handler);
  }

  /** Mounts the middleware on the HTTP adapter (once); it passes requests through until `start()`. */
  mount(): void {
    if (this.mounted) return;
    const httpAdapter = this.adapterHost.httpAdapter;
    if (httpAdapter === undefined) return;
    mountOnAdapter(httpAdapter, this.handler.handle);
    this.mounted = true;
  }
}

function formatReport(rows: readonly CorsRouteReport[]): string {
  return rows
    .map((r) => {
      const p = r.policy;
      const what = p
        ? `origins=${Array.isArray(p.origins) ? p.origins.join(' ') : p.origins} credentials=${p.credentials} methods=${Array.isArray(p.methods) ? p.methods.join(',') : p.methods} maxAge=${p.maxAge ?? '-'}`
        : 'CORS off';
      return `  ${r.method.padEnd(7)} ${r.path.padEnd(30)} ${r.handler.padEnd(30)} [${r.source}] ${what}`;
    })
    .join('\n');
}

/** Our own guard, from this application or an earlier one. */
function isCorsGuard(candidate: unknown): boolean {
  return candidate instanceof CorsGuard;
}
