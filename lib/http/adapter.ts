/** The one place that knows how to mount the middleware on a given HTTP adapter. */
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
