/** Picks the adapter module for the application's HTTP adapter. */
import type { HttpServer } from '@nestjs/common';
import type { CorsAdapter } from './cors-adapter.js';
import { expressAdapter } from './express.js';

export type { CorsAdapter, NodeMiddleware } from './cors-adapter.js';

/**
 * The Fastify module imports find-my-way, which only Fastify applications have installed: it is
 * loaded when the application is one.
 */
export async function corsAdapterFor(httpAdapter: HttpServer): Promise<CorsAdapter> {
  const type = httpAdapter.getType();
  if (type === 'express') return expressAdapter(httpAdapter);
  if (type === 'fastify') {
    const { fastifyAdapter } = await import('./fastify.js');
    return fastifyAdapter(httpAdapter);
  }
  throw new Error(
    `nestjs-cors supports the Express and Fastify adapters; this application uses "${type}"`,
  );
}
