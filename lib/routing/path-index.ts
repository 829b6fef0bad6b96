/**
 * Finds the routes a request path hits, the way the adapter's router would (first registered
 * match per method), without a scan over all routes: static paths are one Map lookup, dynamic
 * ones are bucketed in a trie by their leading literal segments.
 */
import { pathToRegexp } from 'path-to-regexp';
import type { CorsPolicy } from '../engine/cors-policy.js';

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
  /** `Access-Control-Allow-Methods` when one policy serves every method here. */
  private readonly sharedAllowMethods: string | undefined;
  private readonly sharedPolicy: CorsPolicy | null | undefined;

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
    const policies = new Set(sorted.map((t) => t.policy));
    this.sharedPolicy = policies.size === 1 ? sorted[0].policy : undefined;
    this.sharedAllowMethods =
      this.sharedPolicy != null
        ? methods.filter((m) => (this.sharedPolicy as CorsPolicy).allowsMethod(m)).join(', ')
        : undefined;
  }

  /** The routes that would serve `method` here: the first is the one the adapter runs. */
  targetsFor(method: string): readonly RouteTarget[] | undefined {
    const targets = this.byMethod.get(method);
    if (targets !== undefined) return targets;
    return this.all.length > 0 ? this.all : undefined;
  }

  /**
   * `Access-Control-Allow-Methods` for a preflight of `requestMethod` answered by `policy`: the
   * methods served here under policies that also allow `origin`, each allowed by its own
   * policy's `methods`.
   */
  allowMethods(requestMethod: string, policy: CorsPolicy, origin: string, request: object): string {
    if (policy.methods === '*') return requestMethod;
    // An `@All()` route answering: it serves whatever the policy lists.
    if (policy.methods !== null && !this.byMethod.has(requestMethod)) {
      return policy.configuredMethods as string;
    }
    let listed =
      this.sharedPolicy === policy
        ? (this.sharedAllowMethods as string)
        : this.collect(policy, origin, request);
    if (this.all.length > 0 && !this.byMethod.has(requestMethod)) {
      listed = listed.length === 0 ? requestMethod : `${listed}, ${requestMethod}`;
    }
    return listed;
  }

  private collect(policy: CorsPolicy, origin: string, request: object): string {
    let out = '';
    for (const method of this.methods) {
      const target = (this.byMethod.get(method) as RouteTarget[])[0];
      const other = target.policy;
      if (other === null || !other.allowsMethod(method)) continue;
      if (!other.sharesOrigins(policy)) {
        // An origin function is never called twice for one preflight: leave its methods out
        // (the browser preflights them separately).
        if (other.originMode === 'function') continue;
        if (typeof other.checkOrigin(origin, request) !== 'string') continue;
      }
      out = out.length === 0 ? method : `${out}, ${method}`;
    }
    return out;
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
