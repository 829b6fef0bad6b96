/**
 * The floor: a raw Express 5 app whose only middleware answers every preflight with a static 204
 * and the same CORS headers nestjs-cors sends. No preflight answer can be cheaper in Express.
 */
import express from 'express';
import { allowedOrigin } from './config.js';

export function createFloorApp({ origins }) {
  const app = express();
  const origin = allowedOrigin(origins);
  app.use((req, res, next) => {
    if (req.method !== 'OPTIONS') return next();
    res.statusCode = 204;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Access-Control-Allow-Methods', 'GET, PUT');
    res.setHeader('Access-Control-Allow-Headers', 'content-type, authorization, x-requested-with');
    res.setHeader('Access-Control-Max-Age', '600');
    res.setHeader('Vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    res.end();
  });
  app.get('/api/items0/:id', (req, res) => res.json({ ok: true }));
  return app;
}
