/**
 * The seam between the module and the HTTP adapter: one small module per adapter says how to
 * mount the middleware, how to read a request, and how its router matches paths.
 */
import type { HttpServer } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouterMirrorFactory } from '../routing/policy-table.js';
import { expressAdapter } from './express.js';

export type NodeMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

export interface CorsAdapter {
  /** Mounts the middleware before every route, guard and Nest middleware. */
  mount(middleware: NodeMiddleware): void;
  /** The path the router matches (no query string), or undefined when it cannot parse one. */
  pathOf(req: IncomingMessage): string | undefined;
  /** `http` or `https`, as the application sees it (trusted proxies included). */
  protocolOf(req: IncomingMessage): string;
  /** Another CORS middleware mounted on the adapter (`enableCors()`), described, if any. */
  otherCorsMiddleware(): string | undefined;
  /** Why the router cannot take `pattern` as a route path, or undefined when it can. */
  checkPath(pattern: string): string | undefined;
  /** Builds the router mirror (called once the application's router exists). */
  routerFactory(): RouterMirrorFactory;
}

export function corsAdapterFor(httpAdapter: HttpServer): CorsAdapter {
  const type = httpAdapter.getType();
  if (type === 'express') return expressAdapter(httpAdapter);
  throw new Error(`nestjs-cors supports the Express adapter; this application uses "${type}"`);
}
