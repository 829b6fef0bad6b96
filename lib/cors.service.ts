import { Injectable } from '@nestjs/common';
import { CorsRuntime } from './cors.runtime.js';
import type { CorsPolicy } from './engine/cors-policy.js';
import type { CorsPolicyOptions } from './interfaces/cors-options.interface.js';
import type { OriginsInForce } from './live/origin-owners.js';
import type { OriginSourceStatus } from './live/origin-source.js';
import type { ProxyDescription } from './proxy/proxy-target.js';

/** One row of the policy report: a route and its effective policy. */
export interface CorsRouteReport {
  method: string;
  path: string;
  handler: string;
  source: string;
  /** null: CORS is off for this route. */
  policy: ReturnType<CorsPolicy['describe']> | null;
  /**
   * On a WebSocket gateway's row (method `WEBSOCKET`, path its `path` option or `(default)`):
   * its port (0: the application's server) and Socket.IO namespace.
   */
  gateway?: { port: number; namespace?: string };
  /** On a `proxies` entry's row (method `ALL`, path its prefix): where and how it forwards. */
  proxy?: ProxyDescription;
}

/**
 * What an app asks the module at run time: the policy report, live origin lists, and the state
 * of their sources.
 */
@Injectable()
export class CorsService {
  constructor(private readonly runtime: CorsRuntime) {}

  /**
   * Every route with its effective policy and where it came from (origins as they are now), then
   * every `paths` entry, every proxied prefix, and every WebSocket gateway.
   */
  report(): CorsRouteReport[] {
    const table = this.runtime.table;
    if (table === undefined) return [];
    // Routes first, then the `paths` entries (method `ALL`, handler `paths["/graphql"]`).
    const paths = table.paths.filter((entry) => entry.proxy === undefined);
    const rows: CorsRouteReport[] = [...table.routes, ...paths].map((route) => ({
      method: route.method,
      path: route.path,
      handler: route.name,
      source: route.source,
      policy: route.policy?.describe() ?? null,
    }));
    // One row per proxied prefix, with the policy in force (its first table entry has it).
    for (const { proxy, name } of this.runtime.proxies) {
      const entry = table.paths.find((p) => p.proxy === proxy);
      rows.push({
        method: 'ALL',
        path: proxy.prefix,
        handler: name,
        source: entry?.source ?? 'module',
        policy: entry?.policy?.describe() ?? null,
        proxy: proxy.describe(),
      });
    }
    for (const gateway of this.runtime.gateways?.gateways ?? []) {
      const namespace =
        gateway.namespace === undefined ? {} : { namespace: String(gateway.namespace) };
      rows.push({
        method: 'WEBSOCKET',
        path: gateway.path ?? '(default)',
        handler: gateway.name,
        source: gateway.source,
        policy: gateway.policy?.describe() ?? null,
        gateway: { port: gateway.port, ...namespace },
      });
    }
    return rows;
  }

  /**
   * Replaces the allowed origins of the module defaults (no `policy`) or of a named policy that
   * declares its own `origin`, on every route that takes its origins from there (tenants added to
   * a database). Validated first (credentials rules included); on any problem it throws
   * `CorsConfigError` and the old list stays. Requests see the old or the new list, never a mix.
   * With an `originSource`, this replaces the static list; the live origins stay added to it.
   */
  setOrigins(origin: CorsPolicyOptions['origin'], policy?: string): void {
    this.runtime.setOrigins(origin, policy);
  }

  /**
   * The origins in force now for the module defaults (no `policy`) or a named policy (a policy
   * without origins of its own has the module's): static and live together, canonical, patterns
   * as written; `'*'`, `'reflect'` or `'function'` when not a list; `[]` when none is allowed.
   */
  origins(policy?: string): OriginsInForce {
    return this.runtime.origins(policy);
  }

  /**
   * For health checks: the state of the `originSource` behind the module defaults or a named
   * policy (undefined without one). `failingSince` is set while the store cannot be read (the
   * last good list stays in force); `skipped` lists the store's invalid entries.
   */
  originSourceStatus(policy?: string): OriginSourceStatus | undefined {
    return this.runtime.originSourceStatus(policy);
  }
}
