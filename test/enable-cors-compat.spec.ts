/**
 * A user migrating from `app.enableCors(options)` pastes their object: every `CorsOptions` value
 * Nest accepts must type-check as `CorsPolicyOptions` and behave as the `cors` package intends
 * (minus what the module refuses on purpose).
 */
import { describe, expect, it } from '@jest/globals';
import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface.js';
import { CorsPolicy, type CorsPolicyOptions } from '../lib/index.js';

const preflight = (origin: string, method = 'PUT', headers?: string) => ({
  method: 'OPTIONS',
  headers: {
    origin,
    'access-control-request-method': method,
    ...(headers ? { 'access-control-request-headers': headers } : {}),
  },
});

describe('enableCors() options, unchanged', () => {
  it('accepts a static CorsOptions object with string lists', async () => {
    const nest: CorsOptions = {
      origin: ['https://a.example', /^https:\/\/[a-z]+\.b\.example$/],
      methods: 'GET,PUT',
      allowedHeaders: 'Content-Type,X-Token',
      exposedHeaders: ['X-Total'],
      credentials: true,
      maxAge: 60,
      optionsSuccessStatus: 200,
    };
    const options: CorsPolicyOptions = nest;
    const policy = CorsPolicy.compile(options);
    const d = await policy.decide(preflight('https://x.b.example', 'PUT', 'content-type,x-token'));
    expect(d.status).toBe(200);
    expect(d.headers['Access-Control-Allow-Origin']).toBe('https://x.b.example');
    expect(d.headers['Access-Control-Allow-Methods']).toBe('GET, PUT');
    expect(d.headers['Access-Control-Allow-Headers']).toBe('content-type, x-token');
    expect(d.headers['Access-Control-Max-Age']).toBe('60');
    const refused = await policy.decide(preflight('https://a.example', 'DELETE'));
    expect(refused.status).toBe(403);
  });

  it('accepts the node-style origin callback, with every value cors allows', async () => {
    const answers: Record<string, unknown> = {
      'https://yes.example': true,
      'https://no.example': false,
      'https://list.example': ['https://other.example', /^https:\/\/list\./],
      'https://error.example': new Error('db down'),
    };
    const nest: CorsOptions = {
      origin: (origin, callback) => {
        const answer = answers[origin ?? ''];
        if (answer instanceof Error) callback(answer);
        else setTimeout(() => callback(null, answer as boolean), 1);
      },
    };
    const policy = CorsPolicy.compile(nest);
    const get = (origin: string) => policy.decide({ method: 'GET', headers: { origin } });
    expect((await get('https://yes.example')).headers['Access-Control-Allow-Origin']).toBe(
      'https://yes.example',
    );
    expect((await get('https://no.example')).allowed).toBe(false);
    expect((await get('https://list.example')).headers['Access-Control-Allow-Origin']).toBe(
      'https://list.example',
    );
    const failed = await get('https://error.example');
    expect(failed.allowed).toBe(false);
    expect(failed.reason).toBe('the origin function failed');
    expect(failed.headers).toEqual({});
  });

  it('accepts a predicate returning a Promise and reading the request', async () => {
    let calls = 0;
    const policy = CorsPolicy.compile({
      origin: async (origin, req) => {
        calls++;
        return origin === `https://${String(req.headers.host).split(':')[0]}`;
      },
    });
    const ok = await policy.decide({
      method: 'GET',
      headers: { origin: 'https://tenant.example', host: 'tenant.example:3000' },
    });
    expect(ok.headers['Access-Control-Allow-Origin']).toBe('https://tenant.example');
    const no = await policy.decide({
      method: 'GET',
      headers: { origin: 'https://other.example', host: 'tenant.example' },
    });
    expect(no.allowed).toBe(false);
    expect(calls).toBe(2);
  });

  it('never calls the origin function for a malformed or null Origin', async () => {
    let calls = 0;
    const policy = CorsPolicy.compile({ origin: () => (calls++, true) });
    for (const origin of ['null', 'https://a.example/', 'HTTPS://A.EXAMPLE', 'x'.repeat(400), '']) {
      expect((await policy.decide({ method: 'GET', headers: { origin } })).allowed).toBe(false);
    }
    expect(calls).toBe(0);
  });
});
