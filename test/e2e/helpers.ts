/**
 * Shared helpers of the e2e suite: boot a real Nest (Express) app, send CORS requests with
 * supertest, and read the CORS part of a response.
 */
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import supertest from 'supertest';

export type Response = supertest.Response;

/** The HTTP adapters every e2e suite runs under (`describe.each(ADAPTERS)`). */
export const ADAPTERS = ['express', 'fastify'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

/**
 * Compiles a testing module from `metadata`, creates the application on `adapter` (Express by
 * default), lets `setup` configure it (global prefix, versioning, `app.use`) and initialises it.
 * A Fastify application is made ready (its plugins and routes loaded), as `listen()` would.
 */
export async function makeApp(
  metadata: ModuleMetadata,
  setup?: (app: INestApplication) => unknown,
  adapter: AdapterName = 'express',
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
          logger: false,
        })
      : moduleRef.createNestApplication({ logger: false });
  await setup?.(app);
  await app.init();
  if (adapter === 'fastify')
    await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

/** Like `makeApp`, then listens on an ephemeral port of 127.0.0.1; returns the app and port. */
export async function listenApp(
  metadata: ModuleMetadata,
  setup?: (app: INestApplication) => unknown,
  adapter: AdapterName = 'express',
): Promise<{ app: INestApplication; port: number }> {
  const app = await makeApp(metadata, setup, adapter);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, port };
}

/** A supertest agent on the app's HTTP server. */
export function http(app: INestApplication): ReturnType<typeof supertest> {
  return supertest(app.getHttpServer());
}

/** `OPTIONS path` with `Origin` and `Access-Control-Request-Method` (and ACRH when given). */
export function preflight(
  app: INestApplication,
  path: string,
  origin: string,
  method: string,
  requestHeaders?: string,
): supertest.Test {
  const req = http(app)
    .options(path)
    .set('Origin', origin)
    .set('Access-Control-Request-Method', method);
  return requestHeaders === undefined
    ? req
    : req.set('Access-Control-Request-Headers', requestHeaders);
}

/** `GET path`, with `Origin` when given. */
export function get(app: INestApplication, path: string, origin?: string): supertest.Test {
  const req = http(app).get(path);
  return origin === undefined ? req : req.set('Origin', origin);
}

/** Every `access-control-*` response header (lowercase names), to assert absence with `{}`. */
export function acHeaders(res: {
  headers: IncomingHttpHeaders | Record<string, unknown>;
}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (name.toLowerCase().startsWith('access-control-')) out[name.toLowerCase()] = value;
  }
  return out;
}

/** The `Vary` fields of a response, lowercased and trimmed ([] when absent). */
export function varyOf(res: { headers: IncomingHttpHeaders | Record<string, unknown> }): string[] {
  const value = res.headers['vary'];
  if (value === undefined) return [];
  return String(value)
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v.length > 0);
}

/** A comma-separated header value as a sorted list (e.g. `Access-Control-Allow-Methods`). */
export function listOf(value: unknown): string[] {
  if (value === undefined) return [];
  return String(value)
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0)
    .sort();
}

/** A raw response: status, headers and body. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Sends a request with node:http, where a header given as an array is sent as several header
 * lines (supertest's `.set` replaces): used for duplicated `Origin` headers.
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path });
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Writes `text` as is on a TCP connection (for request lines supertest cannot produce, such as
 * an absolute-form request-target) and returns the parsed status line and headers.
 */
export function rawSocket(port: number, text: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head, ...rest] = out.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: IncomingHttpHeaders = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}
