/**
 * The Express adapter: how to mount the middleware, how to read a request, and a mirror of the
 * Express router (router 2 / path-to-regexp 8: each route is tried in registration order with
 * the matching options the application's router was created with).
 */
import type { HttpServer } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import parseUrl from 'parseurl';
import { match, pathToRegexp } from 'path-to-regexp';
import {
  ROUTER_ERROR,
  type RouterMirror,
  type RouterMirrorFactory,
  type TableRoute,
} from '../routing/policy-table.js';
import type { CorsAdapter, NodeMiddleware } from './cors-adapter.js';

interface MatchingOptions {
  caseSensitive: boolean;
  strict: boolean;
}

export function expressAdapter(httpAdapter: HttpServer): CorsAdapter {
  return {
    kind: 'express',
    mount: (middleware: NodeMiddleware) => mountFirst(httpAdapter, middleware),
    pathOf,
    protocolOf: (req: IncomingMessage) => (req as { protocol?: string }).protocol ?? 'http',
    otherCorsMiddleware: () => {
      // The `cors` package's middleware, which `enableCors()` and `{ cors }` mount, is named so.
      const stack = routerStack(httpAdapter) ?? [];
      return stack.some((layer) => (layer as Layer).name === 'corsMiddleware')
        ? 'the cors middleware'
        : undefined;
    },
    checkPath: (pattern: string) => {
      try {
        pathToRegexp(pattern);
        return undefined;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    },
    routerFactory: () => {
      const options = (
        httpAdapter as {
          getRouteMatchingOptions?(): { caseSensitive?: boolean; ignoreTrailingSlash?: boolean };
        }
      ).getRouteMatchingOptions?.();
      return expressRouterMirror({
        caseSensitive: options?.caseSensitive === true,
        strict: options?.ignoreTrailingSlash === false,
      });
    },
  };
}

/**
 * The pathname the router matches: parseurl's, as the router reads it. The common origin-form
 * target takes parseurl's own fast path, done here without allocating its URL object; anything
 * else is left to parseurl (which caches it on the request for the router).
 */
function pathOf(req: IncomingMessage): string | undefined {
  const url = req.url as string;
  if (url.charCodeAt(0) !== 0x2f) return parseUrl(req)?.pathname ?? undefined;
  let end = url.length;
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f) {
      if (end === url.length) end = i;
    } else if (
      c === 0x09 ||
      c === 0x0a ||
      c === 0x0c ||
      c === 0x0d ||
      c === 0x20 ||
      c === 0x23 ||
      c === 0xa0 ||
      c === 0xfeff
    ) {
      return parseUrl(req)?.pathname ?? undefined;
    }
  }
  return end === url.length ? url : url.slice(0, end);
}

/**
 * Layers the middleware must precede, by their Express layer names: the body parsers Nest (or
 * `useBodyParser`) mounts, and `useStaticAssets()` (express.static).
 */
const ANSWERING_MIDDLEWARE = /^((json|urlencoded|raw|text)Parser|serveStatic)$/;

/**
 * A root-level `app.use()` covers every path, outside a global prefix too. It is moved before the
 * first route (one added on the adapter in `main.ts`), static-file middleware or body parser,
 * whichever comes first: a malformed or too-large body gets its 400/413 with CORS headers, and
 * non-controller routes are covered. Other middleware `main.ts` added earlier still runs first.
 */
function mountFirst(httpAdapter: HttpServer, middleware: NodeMiddleware): void {
  httpAdapter.use(middleware);
  const stack = routerStack(httpAdapter);
  if (stack === undefined || (stack.at(-1) as Layer | undefined)?.handle !== middleware) return;
  const before = stack.findIndex(
    (layer) =>
      (layer as Layer).route !== undefined ||
      ANSWERING_MIDDLEWARE.test((layer as Layer).name ?? ''),
  );
  if (before !== -1 && before < stack.length - 1) stack.splice(before, 0, stack.pop());
}

function routerStack(httpAdapter: HttpServer): unknown[] | undefined {
  const stack = (httpAdapter.getInstance() as { router?: { stack?: unknown } }).router?.stack;
  return Array.isArray(stack) ? stack : undefined;
}

interface Layer {
  name?: string;
  handle?: unknown;
  route?: unknown;
}

/** path-to-regexp 8 syntax: a segment with one of these is not a literal. */
const DYNAMIC = /[:*{}()[\]+?!\\]/;
// eslint-disable-next-line no-control-regex -- the ASCII range is the point
const NON_ASCII = /[^\x00-\x7f]/;
const NO = 0;
const YES = 1;
const ERROR = 2;

/** The routes registered with one pattern: the router's matcher is built and run once for all. */
interface PatternGroup {
  readonly pattern: string;
  /** In registration order (frozen once every route is in). */
  readonly routes: TableRoute[];
  /** NO, YES, or ERROR (the router throws decoding a parameter, and gives up on the path). */
  test(path: string): number;
}

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  /** Patterns whose literal leading segments end here. */
  readonly groups: PatternGroup[];
}

export function expressRouterMirror(options: MatchingOptions): RouterMirrorFactory {
  return (routes) => new ExpressRouterMirror(routes, options);
}

/**
 * Routes are bucketed by their literal leading segments (a trie), then confirmed with the very
 * matcher the router builds; a path spelled exactly like a static route is one Map lookup.
 */
class ExpressRouterMirror implements RouterMirror {
  /** Nest's host filter calls `next()`: the router tries the next route. */
  readonly passesOnOtherHosts = true;
  private readonly root: TrieNode = { children: new Map(), groups: [] };
  private readonly exact = new Map<string, readonly TableRoute[]>();

  constructor(
    routes: readonly TableRoute[],
    private readonly options: MatchingOptions,
  ) {
    const groups = new Map<string, PatternGroup>();
    for (const route of routes) {
      const pattern = this.pattern(route.path);
      let group = groups.get(pattern);
      if (group === undefined) groups.set(pattern, (group = this.insert(pattern)));
      group.routes.push(route);
    }
    for (const group of groups.values()) Object.freeze(group.routes);
    for (const { pattern } of groups.values()) {
      if (DYNAMIC.test(pattern)) continue;
      const spellings = options.strict || pattern === '/' ? [pattern] : [pattern, `${pattern}/`];
      for (const path of spellings) this.exact.set(path, Object.freeze(this.collect(path)));
    }
  }

  routesAt(path: string): readonly TableRoute[] {
    return this.exact.get(path) ?? this.collect(path);
  }

  serves(route: TableRoute, method: string): boolean {
    // One Express Route per Nest route: it serves HEAD with its GET handler (Route#_handlesMethod).
    return (
      route.method === method ||
      route.method === 'ALL' ||
      (method === 'HEAD' && route.method === 'GET')
    );
  }

  /** Express's Layer: strict routing keeps the pattern as is; otherwise trailing slashes go. */
  private pattern(path: string): string {
    return this.options.strict || path === '/' ? path : path.replace(/\/+$/, '');
  }

  private insert(pattern: string): PatternGroup {
    const group: PatternGroup = { pattern, routes: [], test: this.matcher(pattern) };
    let node = this.root;
    for (const segment of pattern.split('/').slice(1)) {
      if (DYNAMIC.test(segment)) break;
      // Case-insensitive regexps fold some non-ASCII letters: such a segment is not a key.
      if (!this.options.caseSensitive && NON_ASCII.test(segment)) break;
      const key = this.key(segment);
      let child = node.children.get(key);
      if (child === undefined)
        node.children.set(key, (child = { children: new Map(), groups: [] }));
      node = child;
    }
    node.groups.push(group);
    return group;
  }

  /** The router's own matcher for `pattern` (router 2 Layer), decoding only when it can fail. */
  private matcher(pattern: string): PatternGroup['test'] {
    const options = {
      sensitive: this.options.caseSensitive,
      end: true,
      trailing: !this.options.strict,
    };
    const { regexp } = pathToRegexp(pattern, options);
    let decoding: ((path: string) => unknown) | undefined;
    return (path) => {
      if (!regexp.test(path)) return NO;
      if (path.indexOf('%') === -1) return YES;
      decoding ??= match(pattern, { ...options, decode: decodeParam });
      try {
        decoding(path);
        return YES;
      } catch {
        return ERROR;
      }
    };
  }

  /**
   * Every route matching `path`, in registration order, cut at the first the router fails on.
   * The usual case, one matching pattern, returns that pattern's routes as they are.
   */
  private collect(path: string): readonly TableRoute[] {
    let first: PatternGroup | undefined;
    let more: PatternGroup[] | undefined;
    let errorAt = Infinity;
    let node: TrieNode | undefined = this.root;
    let start = 1;
    while (node !== undefined) {
      for (const group of node.groups) {
        const result = group.test(path);
        if (result === YES) {
          if (first === undefined) first = group;
          else (more ??= []).push(group);
        } else if (result === ERROR) errorAt = Math.min(errorAt, group.routes[0].order);
      }
      if (start > path.length) break;
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      node = node.children.get(this.key(path.slice(start, end)));
      start = end + 1;
    }
    if (first === undefined) return errorAt === Infinity ? NONE : [ROUTER_ERROR];
    if (more === undefined && errorAt === Infinity) return first.routes;
    let found = first.routes.concat(...(more ?? []).map((g) => g.routes));
    found.sort((a, b) => a.order - b.order);
    if (errorAt !== Infinity) {
      found = found.filter((r) => r.order < errorAt);
      found.push(ROUTER_ERROR);
    }
    return found;
  }

  private key(segment: string): string {
    return this.options.caseSensitive ? segment : segment.toLowerCase();
  }
}

const NONE: readonly TableRoute[] = Object.freeze([]);

/** The router's own parameter decoding (router 2, layer.js): a malformed escape throws. */
function decodeParam(value: string): string {
  if (value.length === 0 || value.indexOf('%') === -1) return value;
  return decodeURIComponent(value);
}
