/** The one place that knows the HTTP adapter: how to mount the middleware, whose request it is. */
import type { HttpServer } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';

type NodeMiddleware = (req: any, res: ServerResponse, next: (err?: unknown) => void) => void;

export function mountOnAdapter(adapter: HttpServer, middleware: NodeMiddleware): void {
  const type = adapter.getType();
  if (type !== 'express') {
    throw new Error(`nestjs-cors supports the Express adapter; this application uses "${type}"`);
  }
  // Express: a root-level app.use(), so every path is covered, outside a global prefix too.
  adapter.use(middleware as (req: IncomingMessage, res: ServerResponse, next: () => void) => void);
}

/**
 * Did this request arrive through `adapter`'s application? A controller class can serve several
 * applications in one process (test suites), and the guard must act only in its own.
 */
export function isRequestOf(adapter: HttpServer, req: object): boolean {
  // Express sets `req.app` to the application that is handling the request.
  return (req as { app?: unknown }).app === adapter.getInstance();
}
