/**
 * The `proxies` option as the module uses it: each prefix compiled to a `ProxyTarget` with its
 * effective policy, the entries of the policy table that route its paths, and the boot-time
 * checks against the rest of the app (overlapping prefixes, routes under a prefix).
 */
import {
  configProblem,
  MODULE_PLACE,
  proxyPlace,
  type CorsConfigProblem,
} from '../engine/errors.js';
import { describeValue } from '../engine/tokens.js';
import type { CorsDecoratorValue } from '../interfaces/cors-options.interface.js';
import type { PolicyResolver, ResolvedPolicy } from '../routing/policy-resolver.js';
import { compileProxy, overlappingPrefixes, type ProxyTarget } from './proxy-target.js';

/** One proxied prefix with its effective policy. */
export interface ProxyEntry extends ResolvedPolicy {
  readonly proxy: ProxyTarget;
  /** `proxies["/vendor"]`. */
  readonly name: string;
  /** The prefix as written in the options (where problems are reported). */
  readonly key: string;
}

/**
 * Compiles every `proxies` entry (problems listed, not thrown). An entry without `policy` takes
 * the module defaults, even under `routes: 'decorated'`: declaring a proxy is opting in.
 */
export function resolveProxies(
  proxies: unknown,
  resolver: PolicyResolver,
): { entries: ProxyEntry[]; problems: CorsConfigProblem[] } {
  if (proxies === undefined) return { entries: [], problems: [] };
  if (proxies === null || typeof proxies !== 'object' || Array.isArray(proxies)) {
    const message = `proxies must be an object of path prefixes, got ${describeValue(proxies)}`;
    return {
      entries: [],
      problems: [configProblem(MODULE_PLACE, 'invalid-proxies', message, proxies)],
    };
  }
  const entries: ProxyEntry[] = [];
  const problems: CorsConfigProblem[] = [];
  for (const [prefix, options] of Object.entries(proxies)) {
    const compiled = compileProxy(prefix, options);
    problems.push(...compiled.problems);
    const place = proxyPlace(prefix);
    const value = (options as { policy?: CorsDecoratorValue } | null)?.policy;
    const resolved = resolver.resolveOne(value, place, resolver.moduleDefaults);
    if (compiled.proxy !== undefined) {
      entries.push({ ...resolved, proxy: compiled.proxy, name: place.where, key: prefix });
    }
  }
  problems.push(...overlappingPrefixes(Object.keys(proxies)));
  return { entries, problems };
}

/**
 * The routes (`Controller.handler`) and `paths` entries whose pattern lies under a prefix: the
 * proxy would answer their paths before them. Compared as the patterns are written, ignoring
 * case; a route whose parameter or wildcard merely can match a proxied path (`/:slug`) is not
 * one of them (the proxy, mounted first, takes those paths).
 */
export function shadowedByProxies(
  entries: readonly ProxyEntry[],
  routes: ReadonlyArray<{ path: string; name: string }>,
): CorsConfigProblem[] {
  const problems: CorsConfigProblem[] = [];
  for (const { proxy, name, key } of entries) {
    const shadowed = routes.filter((r) => typeof r.path === 'string' && proxy.covers(r.path));
    if (shadowed.length === 0) continue;
    const list = [...new Set(shadowed.map((r) => `${r.name} (${r.path})`))].join(', ');
    const message = `the prefix ${proxy.prefix} shadows ${list}: requests under it go to the proxy's target and never reach them. Move the prefix or the routes`;
    problems.push(configProblem(proxyPlace(key), 'proxy-shadows-route', message, name));
  }
  return problems;
}
