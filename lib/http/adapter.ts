/** Picks the adapter module for the application's HTTP adapter. */
import type { HttpServer } from '@nestjs/common';
import type { CorsAdapter } from './cors-adapter.js';
import { expressAdapter } from './express.js';

export type { CorsAdapter, NodeMiddleware } from './cors-adapter.js';

export function corsAdapterFor(httpAdapter: HttpServer): CorsAdapter {
  const type = httpAdapter.getType();
  if (type === 'express') return expressAdapter(httpAdapter);
  throw new Error(`nestjs-cors supports the Express adapter; this application uses "${type}"`);
}
