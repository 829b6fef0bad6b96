/**
 * What the module needs from an HTTP adapter: how to mount the middleware, how to read a request,
 * and how its router matches paths. One small module per adapter implements it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouterMirrorFactory } from '../routing/policy-table.js';

export type NodeMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

export interface CorsAdapter {
  /** Whose route syntax `paths` patterns are written in. */
  readonly kind: 'express' | 'fastify';
  /** Mounts the middleware before every route, guard and Nest middleware. */
  mount(middleware: NodeMiddleware): void;
  /** The path the router matches (no query string), or undefined when it cannot parse one. */
  pathOf(req: IncomingMessage): string | undefined;
  /** `http` or `https`, as the application sees it (trusted proxies included). */
  protocolOf(req: IncomingMessage): string;
  /** Another CORS middleware mounted on the adapter (`enableCors()`), described, if any. */
  otherCorsMiddleware(): string | undefined;
  /**
   * Runs `check` again once the application has loaded everything it registered (Fastify loads
   * `enableCors()`'s plugin only then); an error it throws fails the start.
   */
  whenLoaded?(check: () => void): void;
  /** Why the router cannot take `pattern` as a route path, or undefined when it can. */
  checkPath(pattern: string): string | undefined;
  /** Builds the router mirror (called once the application's router exists). */
  routerFactory(): RouterMirrorFactory;
}
