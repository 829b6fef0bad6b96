/**
 * Boot-time checks of a `proxies` entry (`compileProxy`, `overlappingPrefixes`) and what a
 * compiled proxy tells the module: its router patterns, the paths it covers, its description.
 */
import { describe, expect, it } from '@jest/globals';
import FindMyWay from 'find-my-way';
import { match } from 'path-to-regexp';
import type { CorsConfigProblem } from '../../lib/engine/errors.js';
import { compileProxy, overlappingPrefixes, PROXY_DEFAULTS } from '../../lib/proxy/proxy-target.js';

const TARGET = 'https://api.vendor.example';

function problemsOf(prefix: string, options: unknown): CorsConfigProblem[] {
  const { proxy, problems } = compileProxy(prefix, options);
  if (problems.length > 0) expect(proxy).toBeUndefined();
  return problems;
}

function codes(problems: CorsConfigProblem[]): string[] {
  return problems.map((p) => p.code);
}

describe('compileProxy: a valid entry', () => {
  it('normalises the prefix, keeps the target path, applies the defaults', () => {
    const { proxy, problems } = compileProxy('/vendor/', {
      target: 'https://api.vendor.example:8443/v1/',
      policy: 'anything: the owner checks it',
    });
    expect(problems).toEqual([]);
    expect(proxy?.prefix).toBe('/vendor');
    expect(Object.isFrozen(proxy)).toBe(true);
    expect(proxy?.describe()).toEqual({
      prefix: '/vendor',
      target: 'https://api.vendor.example:8443/v1',
      origin: 'https://api.vendor.example:8443',
      basePath: '/v1',
      forwardedHeaders: ['accept', 'accept-language', 'content-type', 'content-language'],
      setHeaders: [],
      forwardSetCookie: false,
      connectTimeout: PROXY_DEFAULTS.connectTimeout,
      timeout: PROXY_DEFAULTS.timeout,
      maxRequestBytes: PROXY_DEFAULTS.maxRequestBytes,
    });
    proxy?.close();
  });

  it('lowercases header names, drops duplicates, and never describes setHeaders values', () => {
    const { proxy, problems } = compileProxy('/maps', {
      target: 'http://[::1]:9000',
      forwardHeaders: ['Authorization', 'authorization', 'X-Trace-Id'],
      setHeaders: { 'X-Api-Key': 'secret-key-value' },
      forwardSetCookie: true,
      connectTimeout: 1,
      timeout: 600000,
      maxRequestBytes: 0,
    });
    expect(problems).toEqual([]);
    const described = proxy!.describe();
    expect(described.forwardedHeaders.slice(4)).toEqual(['authorization', 'x-trace-id']);
    expect(described.setHeaders).toEqual(['x-api-key']);
    expect(JSON.stringify(described)).not.toContain('secret-key-value');
    expect(described).toMatchObject({
      origin: 'http://[::1]:9000',
      basePath: '',
      forwardSetCookie: true,
      connectTimeout: 1,
      timeout: 600000,
      maxRequestBytes: 0,
    });
    proxy?.close();
  });
});

describe('compileProxy: invalid targets', () => {
  it.each([
    [undefined, 'is required'],
    [42, 'must be a string'],
    ['api.vendor.example', 'must be an absolute URL'],
    ['//api.vendor.example/x', 'must be an absolute URL'],
    ['/relative', 'must be an absolute URL'],
    ['ftp://api.vendor.example', 'must be an absolute URL'],
    ['http:api.vendor.example', 'must be an absolute URL'],
    ['https://user:pass@api.vendor.example', 'userinfo'],
    ['https://@api.vendor.example', 'userinfo'],
    ['https://api.vendor.example?', 'query'],
    ['https://api.vendor.example/v1?key=1', 'query'],
    ['https://api.vendor.example#', 'fragment'],
    ['https://api.vendor.example/#top', 'fragment'],
    ['https://api.vendor.example\\v1', '"\\"'],
    [' https://api.vendor.example', 'must be an absolute URL'],
    ['https://api.vendor.example /x', 'whitespace'],
    ['https://api.vendor.example:99999', 'not a valid URL'],
    ['http://', 'not a valid URL'],
  ])('%j: invalid-proxy-target (%s)', (target, why) => {
    const problems = problemsOf('/vendor', { target });
    expect(codes(problems)).toEqual(['invalid-proxy-target']);
    expect(problems[0].message).toContain(why);
    expect(problems[0].where).toBe('proxies["/vendor"]');
    expect(problems[0].source).toEqual({ kind: 'proxy', prefix: '/vendor' });
    expect(problems[0].value).toBe(target);
  });

  it('lists userinfo, query and fragment of one target as three problems', () => {
    const problems = problemsOf('/vendor', { target: 'https://u@api.vendor.example/?q#f' });
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringContaining('userinfo'),
      expect.stringContaining('query'),
      expect.stringContaining('fragment'),
    ]);
  });
});

describe('compileProxy: invalid prefixes', () => {
  it.each([
    ['/', 'alone'],
    ['//', 'alone'],
    ['vendor', 'start with "/"'],
    ['', 'start with "/"'],
    ['/users/:id', 'plain path'],
    ['/files/*', 'plain path'],
    ['/files/*rest', 'plain path'],
    ['/a{/:b}', 'plain path'],
    ['/a(.*)', 'plain path'],
    ['/a?b', 'plain path'],
    ['/a#b', 'plain path'],
    ['/a\\b', 'plain path'],
    ['/a%2Fb', 'plain path'],
    ['/a b', 'plain path'],
    ['/a//b', 'empty segment'],
    ['/a/./b', 'dot segment'],
    ['/a/..', 'dot segment'],
    ['/..', 'dot segment'],
  ])('%j: invalid-proxy-prefix (%s)', (prefix, why) => {
    const problems = problemsOf(prefix, { target: TARGET });
    expect(codes(problems)).toEqual(['invalid-proxy-prefix']);
    expect(problems[0].message).toContain(why);
    expect(problems[0].value).toBe(prefix);
  });

  it('accepts unreserved characters and dots inside a segment', () => {
    const { proxy, problems } = compileProxy('/api.v1/maps_2~x-y', { target: TARGET });
    expect(problems).toEqual([]);
    expect(proxy?.prefix).toBe('/api.v1/maps_2~x-y');
    proxy?.close();
  });
});

describe('compileProxy: invalid options', () => {
  it.each([
    ['not an object', 'https://api.vendor.example'],
    ['null', null],
    ['an array', [TARGET]],
  ])('an entry that is %s: invalid-proxy-option', (_label, options) => {
    expect(codes(problemsOf('/vendor', options))).toEqual(['invalid-proxy-option']);
  });

  it.each([
    [{ targets: TARGET }, 'unknown proxy option "targets"'],
    [{ forwardHeaders: 'authorization' }, 'must be an array'],
    [{ forwardHeaders: ['x-ok', 'bad header'] }, 'not an HTTP header name'],
    [{ forwardHeaders: [''] }, 'not an HTTP header name'],
    [{ forwardHeaders: [42] }, 'not an HTTP header name'],
    [{ forwardHeaders: ['Connection'] }, 'hop-by-hop'],
    [{ forwardHeaders: ['keep-alive'] }, 'hop-by-hop'],
    [{ forwardHeaders: ['TE'] }, 'hop-by-hop'],
    [{ forwardHeaders: ['trailer'] }, 'hop-by-hop'],
    [{ forwardHeaders: ['transfer-encoding'] }, 'hop-by-hop'],
    [{ forwardHeaders: ['upgrade'] }, 'hop-by-hop'],
    [{ forwardHeaders: ['proxy-authorization'] }, 'hop-by-hop'],
    [{ forwardHeaders: ['proxy-authenticate'] }, 'hop-by-hop'],
    [{ forwardHeaders: ['host'] }, 'host'],
    [{ forwardHeaders: ['X-Forwarded-For'] }, 'set by the proxy'],
    [{ forwardHeaders: ['x-forwarded-host'] }, 'set by the proxy'],
    [{ forwardHeaders: ['x-forwarded-proto'] }, 'set by the proxy'],
    [{ forwardHeaders: ['forwarded'] }, 'forge'],
    [{ forwardHeaders: ['content-length'] }, 'framing'],
    [{ forwardHeaders: ['expect'] }, 'answers it'],
    [{ setHeaders: 'x-api-key: 1' }, 'must be an object'],
    [{ setHeaders: { 'x-api-key': 1 } }, 'must be a string'],
    [{ setHeaders: { 'bad name': 'v' } }, 'not an HTTP header name'],
    [{ setHeaders: { 'x-api-key': 'a\r\nx-evil: 1' } }, 'control character'],
    [{ setHeaders: { 'x-api-key': 'a\u0000' } }, 'control character'],
    [{ setHeaders: { 'x-api-key': 'ключ' } }, 'above U+00FF'],
    [{ setHeaders: { Host: 'evil.example' } }, 'host'],
    [{ setHeaders: { connection: 'close' } }, 'hop-by-hop'],
    [{ setHeaders: { 'x-forwarded-for': '1.2.3.4' } }, 'set by the proxy'],
    [{ setHeaders: { 'content-length': '0' } }, 'framing'],
    [{ setHeaders: { 'X-Key': 'a', 'x-key': 'b' } }, 'twice'],
    [{ forwardHeaders: ['x-api-key'], setHeaders: { 'X-Api-Key': 'k' } }, 'in both'],
    [{ forwardSetCookie: 'yes' }, 'true or false'],
    [{ connectTimeout: 0 }, 'connectTimeout must be an integer in 1..600000'],
    [{ connectTimeout: 600001 }, 'connectTimeout'],
    [{ connectTimeout: 1.5 }, 'connectTimeout'],
    [{ connectTimeout: '5000' }, 'connectTimeout'],
    [{ timeout: -1 }, 'timeout must be an integer in 1..600000'],
    [{ timeout: Number.NaN }, 'timeout'],
    [{ maxRequestBytes: -1 }, 'maxRequestBytes must be an integer ≥ 0'],
    [{ maxRequestBytes: Infinity }, 'maxRequestBytes'],
  ])('%j: invalid-proxy-option (%s)', (extra, why) => {
    const problems = problemsOf('/vendor', { target: TARGET, ...extra });
    expect(codes(problems)).toEqual(['invalid-proxy-option']);
    expect(problems[0].message).toContain(why);
  });

  it('never echoes a setHeaders value it refuses (it may be a secret)', () => {
    const problems = problemsOf('/vendor', {
      target: TARGET,
      setHeaders: { 'x-api-key': 'sk-live-123\n' },
    });
    expect('value' in problems[0]).toBe(false);
    expect(problems[0].message).not.toContain('sk-live-123');
  });

  it('lists every problem of an entry, not the first', () => {
    const problems = problemsOf('/files/:id', {
      target: 'ftp://x',
      forwardHeaders: ['cookie', 'connection', 'x-forwarded-for'],
      setHeaders: { host: 'h' },
      forwardSetCookie: 1,
      connectTimeout: 0,
      timeout: 0,
      maxRequestBytes: 'big',
      retries: 3,
    });
    expect(codes(problems).sort()).toEqual([
      'invalid-proxy-option',
      'invalid-proxy-option',
      'invalid-proxy-option',
      'invalid-proxy-option',
      'invalid-proxy-option',
      'invalid-proxy-option',
      'invalid-proxy-option',
      'invalid-proxy-option',
      'invalid-proxy-prefix',
      'invalid-proxy-target',
    ]);
    for (const p of problems) expect(p.where).toBe('proxies["/files/:id"]');
  });
});

describe('overlappingPrefixes', () => {
  it('reports a prefix under another, and prefixes equal after normalisation', () => {
    const problems = overlappingPrefixes(['/a', '/b', '/a/b/c', '/b/', '/ab', '/A/x', '/c']);
    expect(problems.map((p) => [p.where, p.value, p.code])).toEqual([
      ['proxies["/a/b/c"]', '/a', 'overlapping-proxy-prefixes'],
      ['proxies["/A/x"]', '/a', 'overlapping-proxy-prefixes'],
      ['proxies["/b/"]', '/b', 'overlapping-proxy-prefixes'],
    ]);
    expect(problems[2].message).toContain('same prefix');
    expect(problems[0].message).toContain('lies under');
  });

  it('reports the inner prefix whatever the order, and ignores invalid ones', () => {
    expect(overlappingPrefixes(['/a/b', '/a', '/:x', '/']).map((p) => p.where)).toEqual([
      'proxies["/a/b"]',
    ]);
    expect(overlappingPrefixes(['/ab', '/a', '/a-b', '/a.b'])).toEqual([]);
  });
});

describe('a compiled proxy: router patterns and covered paths', () => {
  const { proxy } = compileProxy('/vendor', { target: TARGET });

  it('gives the Express and Fastify patterns of the prefix and what lies under it', () => {
    expect(proxy?.patterns('express')).toEqual(['/vendor', '/vendor/*rest']);
    expect(proxy?.patterns('fastify')).toEqual(['/vendor', '/vendor/*']);
    proxy?.close();
  });

  it.each([
    ['/vendor', true],
    ['/vendor/', true],
    ['/vendor/a', true],
    ['/vendor/a/b/', true],
    ['/vendorx', false],
    ['/vendo', false],
    ['/', false],
  ])(
    'the patterns route %j to the proxy: %s (path-to-regexp 8 and find-my-way)',
    (path, routed) => {
      // Express's defaults: case-insensitive, trailing slash optional.
      const express = proxy!
        .patterns('express')
        .some((pattern) => match(pattern, { sensitive: false, trailing: true })(path) !== false);
      expect(express).toBe(routed);
      const router = FindMyWay();
      for (const pattern of proxy!.patterns('fastify')) router.on('GET', pattern, () => {});
      expect(router.find('GET', path) !== null).toBe(routed);
    },
  );

  it.each([
    ['/vendor', true],
    ['/vendor/', true],
    ['/vendor/a/b', true],
    ['/VENDOR/a', true],
    ['/vendor//x', true],
    ['/vendorx', false],
    ['/vendo', false],
    ['/', false],
    ['//vendor/x', false],
    ['/x/vendor', false],
  ])('covers(%j) is %s', (path, covered) => {
    expect(proxy?.covers(path)).toBe(covered);
  });
});
