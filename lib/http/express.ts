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
import type { CorsAdapter, NodeMiddleware } from './adapter.js';

interface MatchingOptions {
  caseSensitive: boolean;
  strict: boolean;
}

export function expressAdapter(httpAdapter: HttpServer): CorsAdapter {
  return {
    mount: (middleware: NodeMiddleware) => mountFirst(httpAdapter, middleware),
    // The router matches the pathname parseurl gives (cached on the request: parsed once).
    pathOf: (req: IncomingMessage) => parseUrl(req)?.pathname ?? undefined,
    protocolOf: (req: IncomingMessage) => (req as { protocol?: string }).protocol ?? 'http',
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

/** The body parsers Nest (or `useBodyParser`) mounts, by their Express layer names. */
const BODY_PARSER = /^(json|urlencoded|raw|text)Parser$/;

/**
 * A root-level `app.use()` covers every path, outside a global prefix too. It is moved just
 * before the first body parser Nest mounted in `init()`, so a malformed or too-large body gets
 * its 400/413 with CORS headers; middleware `main.ts` added earlier still runs first.
 */
function mountFirst(httpAdapter: HttpServer, middleware: NodeMiddleware): void {
  httpAdapter.use(middleware);
  const stack = (httpAdapter.getInstance() as { router?: { stack?: unknown[] } }).router?.stack;
  if (!Array.isArray(stack) || (stack.at(-1) as Layer | undefined)?.handle !== middleware) return;
  const parser = stack.findIndex((layer) => BODY_PARSER.test((layer as Layer).name ?? ''));
  if (parser !== -1 && parser < stack.length - 1) stack.splice(parser, 0, stack.pop());
}

interface Layer {
  name?: string;
  handle?: unknown;
}

/** path-to-regexp 8 syntax: a segment with one of these is not a literal. */
const DYNAMIC = /[:*{}()[\]+?!\\]/;
// eslint-disable-next-line no-control-regex -- the ASCII range is the point
const NON_ASCII = /[^\x00-\x7f]/;
const NO = 0;
const YES = 1;
const ERROR = 2;

interface CompiledRoute {
  route: TableRoute;
  /** NO, YES, or ERROR (the router throws decoding a parameter, and gives up on the path). */
  test(path: string): number;
}

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  /** Routes whose literal leading segments end here, in registration order. */
  readonly routes: CompiledRoute[];
}

export function expressRouterMirror(options: MatchingOptions): RouterMirrorFactory {
  return (routes) => new ExpressRouterMirror(routes, options);
}

/**
 * Routes are bucketed by their literal leading segments (a trie), then confirmed with the very
 * matcher the router builds; a path spelled exactly like a static route is one Map lookup.
 */
class ExpressRouterMirror implements RouterMirror {
  private readonly root: TrieNode = { children: new Map(), routes: [] };
  private readonly exact = new Map<string, readonly TableRoute[]>();

  constructor(
    routes: readonly TableRoute[],
    private readonly options: MatchingOptions,
  ) {
    for (const route of routes) this.insert(route);
    for (const route of routes) {
      const pattern = this.pattern(route.path);
      if (DYNAMIC.test(pattern)) continue;
      const spellings = options.strict || pattern === '/' ? [pattern] : [pattern, `${pattern}/`];
      for (const path of spellings) this.exact.set(path, this.collect(path));
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

  private insert(route: TableRoute): void {
    const pattern = this.pattern(route.path);
    const matchOptions = {
      sensitive: this.options.caseSensitive,
      end: true,
      trailing: !this.options.strict,
    };
    const { regexp } = pathToRegexp(pattern, matchOptions);
    const decoding = match(pattern, { ...matchOptions, decode: decodeParam });
    const test = (path: string): number => {
      if (!regexp.test(path)) return NO;
      if (path.indexOf('%') === -1) return YES;
      try {
        decoding(path);
        return YES;
      } catch {
        return ERROR;
      }
    };
    let node = this.root;
    for (const segment of pattern.split('/').slice(1)) {
      if (DYNAMIC.test(segment)) break;
      // Case-insensitive regexps fold some non-ASCII letters: such a segment is not a key.
      if (!this.options.caseSensitive && NON_ASCII.test(segment)) break;
      const key = this.key(segment);
      let child = node.children.get(key);
      if (child === undefined)
        node.children.set(key, (child = { children: new Map(), routes: [] }));
      node = child;
    }
    node.routes.push({ route, test });
  }

  /** Every route matching `path`, in registration order, cut at the first the router fails on. */
  private collect(path: string): readonly TableRoute[] {
    let found: TableRoute[] | undefined;
    let errorAt = Infinity;
    let node: TrieNode | undefined = this.root;
    let start = 1;
    while (node !== undefined) {
      for (const candidate of node.routes) {
        const result = candidate.test(path);
        if (result === YES) (found ??= []).push(candidate.route);
        else if (result === ERROR) errorAt = Math.min(errorAt, candidate.route.order);
      }
      if (start > path.length) break;
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      node = node.children.get(this.key(path.slice(start, end)));
      start = end + 1;
    }
    if (found === undefined) return errorAt === Infinity ? NONE : [ROUTER_ERROR];
    if (found.length > 1) found.sort((a, b) => a.order - b.order);
    if (errorAt !== Infinity) {
      found = found.filter((r) => r.order < errorAt);
      found.push(ROUTER_ERROR);
    }
    return found;
  }

  private key(segment: string): string {
    return this.options.caseSensitive ? segment : asciiLowerCase(segment);
  }
}

const NONE: readonly TableRoute[] = Object.freeze([]);

/** Lower-cases A-Z only, like a case-insensitive (non-Unicode) RegExp compares ASCII letters. */
function asciiLowerCase(value: string): string {
  return value.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** The router's own parameter decoding (router 2, layer.js): a malformed escape throws. */
function decodeParam(value: string): string {
  if (value.length === 0 || value.indexOf('%') === -1) return value;
  return decodeURIComponent(value);
}
