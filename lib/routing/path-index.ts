/**
 * Finds the routes a request path hits, the way the adapter's router would (first registered
 * match per method), without a scan over all routes: static paths are one Map lookup, dynamic
 * ones are bucketed in a trie by their leading literal segments.
 */
import { pathToRegexp } from 'path-to-regexp';
import type { CorsPolicy } from '../engine/cors-policy.js';

interface OtherMethod {
  method: string;
  policy: CorsPolicy;
  /** The answer echoes the requested headers and `policy` has a list: check them per request. */
  checkHeaders: boolean;
}

interface AllowMethodsPlan {
  value: string;
  methods: Set<string>;
  others: OtherMethod[];
}

/**
 * May an answer by `policy` list a method served under `other`? The browser caches the answer's
 * credentials mode and headers for every listed method, so `other` must accept both.
 */
function canShareAnswer(policy: CorsPolicy, other: CorsPolicy): boolean {
  if (policy.credentials && !other.credentials) return false;
  if (other.allowedHeaders === null || policy.allowedHeaders === null) return true;
  for (const header of policy.allowedHeaders) if (!other.allowedHeaders.has(header)) return false;
  return true;
}

/** One handler serving one method at one path, with its effective policy. */
export interface RouteTarget {
  /** null: CORS is off for this route. */
  readonly policy: CorsPolicy | null;
  /** Where the policy came from (`module`, `policy "admin"`, `Users.remove`). */
  readonly source: string;
  /** `Controller.method`. */
  readonly name: string;
  readonly method: string;
  readonly order: number;
  /**
   * The path alone may not say which handler Nest runs (several handlers at one (path, method):
   * header or media-type versioning; a host-bound controller): the guard checks the exact one.
   */
  readonly verify: boolean;
}

export interface MatchingOptions {
  caseSensitive: boolean;
  ignoreTrailingSlash: boolean;
}

/** Every route at one registered path, grouped by method, in registration order. */
export class PathEntry {
  /** Does any route here have CORS on? A preflight elsewhere is left to the app. */
  readonly anyCors: boolean;
  /** Registered methods, `ALL` excluded. */
  readonly methods: readonly string[];
  private readonly byMethod = new Map<string, RouteTarget[]>();
  private readonly all: RouteTarget[];
  /** Per answering policy: the methods it serves here, and other routes' methods it may list. */
  private readonly answers = new Map<CorsPolicy, AllowMethodsPlan>();

  private readonly allRouteMethodsCache = new Map<CorsPolicy, string>();

  constructor(
    readonly path: string,
    readonly order: number,
    targets: readonly RouteTarget[],
  ) {
    const sorted = [...targets].sort((a, b) => a.order - b.order);
    this.all = sorted.filter((t) => t.method === 'ALL');
    const methods = [...new Set(sorted.map((t) => t.method).filter((m) => m !== 'ALL'))];
    for (const method of methods) {
      // What Express serves for `method`: its own routes and `@All()` ones, first registered first.
      this.byMethod.set(
        method,
        sorted.filter((t) => t.method === method || t.method === 'ALL'),
      );
    }
    if (!this.byMethod.has('HEAD') && this.byMethod.has('GET')) {
      this.byMethod.set('HEAD', this.byMethod.get('GET') as RouteTarget[]); // Express answers HEAD with GET
    }
    this.methods = methods;
    this.anyCors = sorted.some((t) => t.policy !== null);
    for (const target of sorted) {
      const policy = target.policy;
      if (policy === null || this.answers.has(policy)) continue;
      const own: string[] = [];
      const others: OtherMethod[] = [];
      for (const method of methods) {
        const other = this.byMethod.get(method)![0].policy;
        if (other === null || !other.allowsMethod(method)) continue;
        if (other === policy) own.push(method);
        else if (canShareAnswer(policy, other)) {
          others.push({
            method,
            policy: other,
            checkHeaders: policy.allowedHeaders === null && other.allowedHeaders !== null,
          });
        }
      }
      this.answers.set(policy, { value: own.join(', '), methods: new Set(own), others });
    }
  }

  /** The routes that would serve `method` here: the first is the one the adapter runs. */
  targetsFor(method: string): readonly RouteTarget[] | undefined {
    const targets = this.byMethod.get(method);
    if (targets !== undefined) return targets;
    return this.all.length > 0 ? this.all : undefined;
  }

  /**
   * `Access-Control-Allow-Methods` for a preflight of `requestMethod` answered by `policy` with
   * `allowHeaders`: the methods it serves here, plus other routes' methods whose policies allow
   * this origin and would accept what the browser caches from this answer for them (the same
   * credentials mode, every allowed header). Never more: the browser reuses this answer's headers
   * and max-age for every listed method of the URL.
   */
  allowMethods(
    requestMethod: string,
    policy: CorsPolicy,
    origin: string,
    allowHeaders: string,
  ): string {
    if (policy.methods === '*') return requestMethod;
    if (!this.byMethod.has(requestMethod) && policy.methods !== null) {
      return this.allRouteMethods(policy); // an `@All()` route answering
    }
    const plan = this.answers.get(policy);
    if (plan === undefined) return requestMethod;
    let value = plan.value;
    for (const other of plan.others) {
      if (!other.policy.sharesOrigins(policy)) {
        // An origin function is never called twice for one preflight.
        if (other.policy.originMode === 'function') continue;
        if (typeof other.policy.checkOrigin(origin) !== 'string') continue;
      }
      if (other.checkHeaders && !other.policy.allowsHeaders(allowHeaders)) continue;
      value = value.length === 0 ? other.method : `${value}, ${other.method}`;
    }
    // The answering route may not be the first at (path, method): a second versioned handler.
    if (!plan.methods.has(requestMethod)) {
      value = value.length === 0 ? requestMethod : `${value}, ${requestMethod}`;
    }
    return value;
  }

  /** An `@All()` route's listed methods, less those another route here serves under another policy. */
  private allRouteMethods(policy: CorsPolicy): string {
    let value = this.allRouteMethodsCache.get(policy);
    if (value === undefined) {
      const methods = policy.methods instanceof Set ? [...policy.methods] : [];
      value = methods.filter((m) => this.targetsFor(m)?.[0].policy === policy).join(', ');
      this.allRouteMethodsCache.set(policy, value);
    }
    return value;
  }

  /** The routes of several entries matching one URL, as one entry (rare: overlapping patterns). */
  static merge(entries: readonly PathEntry[]): PathEntry {
    const targets = entries.flatMap((e) => [...new Set([...e.byMethod.values(), e.all].flat())]);
    return new PathEntry(entries[0].path, entries[0].order, targets);
  }
}

interface TrieNode {
  children: Map<string, TrieNode>;
  entries: DynamicEntry[];
}

interface DynamicEntry {
  entry: PathEntry;
  regexp: RegExp;
}

/** path-to-regexp 8 syntax characters: a path without them is static. */
const DYNAMIC = /[:*{}()[\]+?!\\]/;

export class PathIndex {
  private readonly staticPaths = new Map<string, PathEntry>();
  private readonly trie: TrieNode = { children: new Map(), entries: [] };
  private readonly hasDynamic: boolean;
  private readonly mergedCache = new Map<string, PathEntry>();

  constructor(
    entries: readonly PathEntry[],
    private readonly options: MatchingOptions,
  ) {
    let dynamicCount = 0;
    for (const entry of entries) {
      if (!DYNAMIC.test(entry.path)) {
        const key = this.normalize(entry.path);
        const existing = this.staticPaths.get(key);
        // Two registered spellings of one path (case, trailing slash) are one URL to the router.
        this.staticPaths.set(key, existing ? PathEntry.merge([existing, entry]) : entry);
        continue;
      }
      dynamicCount++;
      const { regexp } = pathToRegexp(entry.path, {
        sensitive: options.caseSensitive,
        trailing: options.ignoreTrailingSlash,
        end: true,
      });
      let node = this.trie;
      for (const segment of entry.path.split('/').slice(1)) {
        if (DYNAMIC.test(segment)) break;
        const key = options.caseSensitive ? segment : segment.toLowerCase();
        let child = node.children.get(key);
        if (child === undefined)
          node.children.set(key, (child = { children: new Map(), entries: [] }));
        node = child;
      }
      node.entries.push({ entry, regexp });
    }
    this.hasDynamic = dynamicCount > 0;
  }

  /** The entry for a URL path (no query string), or undefined when no route matches it. */
  find(path: string): PathEntry | undefined {
    const found = this.staticPaths.get(this.normalize(path));
    if (!this.hasDynamic) return found;
    let matches: PathEntry[] | undefined;
    let node: TrieNode | undefined = this.trie;
    let start = 1;
    while (node !== undefined) {
      for (const candidate of node.entries) {
        if (candidate.regexp.test(path)) (matches ??= []).push(candidate.entry);
      }
      if (start > path.length) break;
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      const segment = path.slice(start, end);
      node = node.children.get(this.options.caseSensitive ? segment : segment.toLowerCase());
      start = end + 1;
    }
    if (matches === undefined) return found;
    if (found !== undefined) matches.push(found);
    if (matches.length === 1) return matches[0];
    return this.merged(matches);
  }

  /** Overlapping patterns (`/users/me` and `/users/:id`) match together: merge once, then reuse. */
  private merged(matches: PathEntry[]): PathEntry {
    matches.sort((a, b) => a.order - b.order);
    let key = '';
    for (const m of matches) key += `${m.order},`;
    let entry = this.mergedCache.get(key);
    if (entry === undefined) {
      entry = PathEntry.merge(matches);
      // Bounded: the combinations come from the route table, not from the request.
      if (this.mergedCache.size < 10_000) this.mergedCache.set(key, entry);
    }
    return entry;
  }

  private normalize(path: string): string {
    let key = this.options.caseSensitive ? path : path.toLowerCase();
    if (this.options.ignoreTrailingSlash && key.length > 1 && key.endsWith('/'))
      key = key.slice(0, -1);
    return key;
  }
}
