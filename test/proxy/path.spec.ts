/**
 * The path and query sent to the target (`upstreamPath`, `upstreamQuery`): exact results for
 * known inputs, then a property: whatever the client's path, the result is refused or stays
 * under the base path for a target that decodes it up to four times, turns `\` into `/`, folds
 * Unicode (NFKC), drops `;parameters`, trims spaces and treats a run of dots as `..` (the
 * tricks of real servers: Tomcat `..;/`, IIS `%c0%ae` and trailing spaces, double decoding).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_DECODINGS, upstreamPath, upstreamQuery } from '../../lib/proxy/proxy-path.js';

const TARGET_PATH = '/base/';
const BASE = '/base';

function forwarded(rest: string): string | undefined {
  const verdict = upstreamPath(TARGET_PATH, BASE, rest);
  return 'path' in verdict ? verdict.path : undefined;
}

describe('upstreamPath: kept paths', () => {
  it.each([
    ['', '/base/'],
    ['/', '/base/'],
    ['/a', '/base/a'],
    ['/a/b/', '/base/a/b/'],
    ['/a.json', '/base/a.json'],
    ['/.well-known', '/base/.well-known'],
    ['/a..b', '/base/a..b'],
    ['/@evil.example/x', '/base/@evil.example/x'],
    ['/user@evil.example:80', '/base/user@evil.example:80'],
    ['/a;v=1', '/base/a;v=1'],
    ['/100%25', '/base/100%25'],
    ['/100%25%20sure', '/base/100%25%20sure'],
    ['/%41%42', '/base/%41%42'],
    ['/caf%C3%A9', '/base/caf%C3%A9'],
    ['/\u20ac', '/base/%E2%82%AC'],
    ['/caf\u00c3\u00a9', '/base/caf%C3%A9'],
    ['/<script>"x"', '/base/%3Cscript%3E%22x%22'],
    ['/a|b^c`d{e}', '/base/a%7Cb%5Ec%60d%7Be%7D'],
    ['/a#b?c', '/base/a%23b%3Fc'],
    ['/%2525', '/base/%2525'],
  ])('%j → %j', (rest, path) => {
    expect(forwarded(rest)).toBe(path);
  });

  it('maps the prefix itself to the target path as written', () => {
    expect(upstreamPath('/v1', '/v1', '')).toEqual({ path: '/v1' });
    expect(upstreamPath('/', '', '')).toEqual({ path: '/' });
    expect(upstreamPath('/', '', '/x')).toEqual({ path: '/x' });
  });
});

describe('upstreamPath: refused paths', () => {
  it.each([
    ['x', 'not under the prefix'],
    ['//evil.example/x', 'empty segment'],
    ['/a//b', 'empty segment'],
    ['/http://evil.example/', 'empty segment'],
    ['/.', 'dot segment'],
    ['/..', 'dot segment'],
    ['/../x', 'dot segment'],
    ['/a/../../x', 'dot segment'],
    ['/...', 'dot segment'],
    ['/%2e', 'dot segment'],
    ['/%2e%2e', 'dot segment'],
    ['/%2E%2e/x', 'dot segment'],
    ['/.%2E/x', 'dot segment'],
    ['/%2e./x', 'dot segment'],
    ['/..;/x', 'dot segment'],
    ['/..;jsessionid=1/x', 'dot segment'],
    ['/..%3b/x', 'dot segment'],
    ['/..%20/x', 'dot segment'],
    ['/%20..%09/x', 'control character'],
    ['/%252e%252e/x', 'dot segment'],
    ['/%25252e%25252E/x', 'dot segment'],
    ['/%ef%bc%8e%ef%bc%8e/x', 'dot segment'],
    ['/%e2%80%a5/x', 'dot segment'],
    ['/%2F', 'encoded "/"'],
    ['/a%2fb', 'encoded "/"'],
    ['/a%252fb', 'encoded "/"'],
    ['/%5C', '%5C'],
    ['/a%5cb', '%5C'],
    ['/\\', '"\\"'],
    ['/..\\x', '"\\"'],
    ['/%ef%bc%8f', 'equivalent to "/"'],
    ['/%ef%bc%bc', 'equivalent to "/"'],
    ['/%c0%ae%c0%ae/x', 'not UTF-8'],
    ['/%c0%af', 'not UTF-8'],
    ['/%ff', 'not UTF-8'],
    ['/caf\u00e9', 'not UTF-8'],
    ['/a%00', 'control character'],
    ['/a\u0000', 'control character'],
    ['/a%0d%0aX-Evil:%201', 'control character'],
    ['/a\r\nX-Evil: 1', 'control character'],
    ['/a%7f', 'control character'],
    ['/a%250a', 'control character'],
    ['/%zz', 'malformed'],
    ['/%2', 'malformed'],
    ['/a%', 'malformed'],
    ['/%%32%65', 'malformed'],
    ['/%2525252525', 'too many times'],
  ])('%j: refused (%s)', (rest, why) => {
    const verdict = upstreamPath(TARGET_PATH, BASE, rest);
    expect(verdict).toEqual({ refused: expect.stringContaining(why) });
  });

  it('decodes at most MAX_DECODINGS times', () => {
    let dot = '.';
    for (let i = 0; i < MAX_DECODINGS; i++) dot = encodeURIComponent(dot).replace(/\./g, '%2e');
    expect(forwarded(`/${dot}`)).toBeUndefined();
    expect(forwarded(`/a${dot}`)).toBe(`/base/a${dot}`);
  });
});

describe('upstreamQuery', () => {
  it.each([
    ['/vendor/x', ''],
    ['/vendor/x?', '?'],
    ['/vendor/x?a=1&b=%20', '?a=1&b=%20'],
    ['/vendor/x?u=http://evil.example/a?b', '?u=http://evil.example/a?b'],
    ['http://evil.example/vendor/x?q=1', '?q=1'],
    ['/x?a=<b>#frag', '?a=%3Cb%3E%23frag'],
    ['/x?a=caf\u00c3\u00a9&b=\\', '?a=caf%C3%A9&b=%5C'],
    ['/x?%zz', '?%zz'],
  ])('%j → %j', (url, query) => {
    expect(upstreamQuery(url)).toBe(query);
  });
});

// ----- the property ------------------------------------------------------------------------------

/** One percent-decoding, bytes in and out, malformed escapes left as they are. */
function decodeOnce(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1');
  return Buffer.from(
    text.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
}

/**
 * The path a lax server would serve for `path` after `depth` decodings: `\` is `/`, Unicode is
 * folded, `;…` is dropped and spaces trimmed in each segment, a run of dots is `..`, then dot
 * segments are resolved (RFC 3986 §5.2.4).
 */
function laxServerPath(path: string, depth: number): string {
  let bytes: Buffer = Buffer.from(path, 'latin1');
  for (let i = 0; i < depth; i++) bytes = decodeOnce(bytes);
  const text = bytes.toString('utf8').normalize('NFKC').replace(/\\/g, '/');
  const out: string[] = [];
  for (const raw of text.split('/').slice(1)) {
    const segment = raw.split(';')[0].trim();
    if (/^\.+$/.test(segment)) {
      if (segment === '.') continue;
      out.pop();
    } else {
      out.push(segment);
    }
  }
  return '/' + out.join('/');
}

const PIECES = [
  'a',
  'x.json',
  '.',
  '..',
  '...',
  '%2e',
  '%2E',
  '%252e',
  '%25252e',
  '%2f',
  '%2F',
  '%252f',
  '%5c',
  '%5C',
  '\\',
  ';',
  '%3b',
  ';x',
  '%25',
  '%',
  '%c0%ae',
  '%c0%af',
  '%ef%bc%8e',
  '%ef%bc%8f',
  '%e2%80%a5',
  '%20',
  ' ',
  '\t',
  '%09',
  '/',
  '//',
  '@',
  ':',
  'evil.example',
  '%00',
  '%0a',
  '~',
  '%41',
];

describe('upstreamPath: the property', () => {
  it('refuses, or keeps the path under the base for a server that decodes up to 4 times', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }), (pieces) => {
        const rest = '/' + pieces.join('');
        const path = forwarded(rest);
        if (path === undefined) return;
        // By construction: the base, then pchar, escapes and '/', no empty inner segment.
        expect(path.startsWith(BASE + '/')).toBe(true);
        expect(path).toMatch(/^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/);
        expect(path.slice(BASE.length + 1, -1)).not.toContain('//');
        for (let depth = 0; depth <= MAX_DECODINGS; depth++) {
          const served = laxServerPath(path, depth);
          expect(served === BASE || served.startsWith(BASE + '/')).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('the lax server model does climb out for what the proxy refuses (the model is no straw man)', () => {
    const climbs = (rest: string) => {
      const naive = BASE + rest;
      for (let depth = 0; depth <= MAX_DECODINGS; depth++) {
        if (!laxServerPath(naive, depth).startsWith(BASE + '/')) return true;
      }
      return false;
    };
    for (const rest of [
      '/..',
      '/%2e%2e',
      '/..;/x',
      '/%252e%252e',
      '/..%5cx',
      '/%ef%bc%8e%ef%bc%8e',
      '/.. /x',
    ]) {
      expect(climbs(rest)).toBe(true);
      expect(forwarded(rest)).toBeUndefined();
    }
  });
});
