/**
 * The playground's own origin: a tiny static file server (node:http, no framework) on loopback
 * only. It serves sample/public/ and a generated /config.js telling the page where the API is.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface PlaygroundServer {
  server: Server;
  /** e.g. http://127.0.0.1:8080 */
  origin: string;
  /** Set once the API listens; served to the page as /config.js. */
  apiUrl: string;
}

export async function startPlayground(
  publicDir: string,
  port: number,
  host = '127.0.0.1',
): Promise<PlaygroundServer> {
  const playground: PlaygroundServer = { server: undefined as never, origin: '', apiUrl: '' };
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?', 1)[0]);
    res.setHeader('Cache-Control', 'no-store');
    if (path === '/favicon.ico') {
      // The page declares an empty icon; this covers files opened directly (no 404 either way).
      res.statusCode = 204;
      res.end();
      return;
    }
    if (path === '/config.js') {
      res.setHeader('Content-Type', TYPES['.js']);
      res.end(`window.PLAYGROUND = ${JSON.stringify({ api: playground.apiUrl })};\n`);
      return;
    }
    const file = normalize(join(publicDir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(publicDir + sep) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.statusCode = 404;
      res.end('Not found');
      return;
    }
    readFile(file).then(
      (body) => {
        res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        res.statusCode = 404;
        res.end('Not found');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  playground.server = server;
  playground.origin = `http://${host}:${actualPort}`;
  return playground;
}
