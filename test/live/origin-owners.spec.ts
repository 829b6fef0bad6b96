/**
 * `OriginOwners`, the static and live origins of each owner key, without Nest: every update
 * swaps all the owners' policies in one call or none; invalid live entries are left out (or, in
 * strict mode, refuse the whole update); the parse cache that spares reparsing does not grow with
 * every entry ever seen.
 */
import { describe, expect, it } from '@jest/globals';
import { CorsPolicy } from '../../lib/engine/cors-policy.js';
import { CorsConfigError, MODULE_PLACE } from '../../lib/engine/errors.js';
import { OriginOwners } from '../../lib/live/origin-owners.js';
import type { OriginDeclaration } from '../../lib/routing/policy-resolver.js';

const STATIC = 'https://static.example';
const T1 = 'https://tenant-1.example';
const PLACE = { where: 'module (setOrigins)', source: MODULE_PLACE.source };

/** Two owners of the module's origins (one with credentials) and the swaps they went through. */
function owners() {
  const plain = CorsPolicy.compile({ origin: [STATIC] });
  const credentialed = CorsPolicy.compile({ origin: [STATIC], credentials: true });
  const declaration: OriginDeclaration = {
    origin: [STATIC],
    source: { load: async () => [] },
    place: MODULE_PLACE,
  };
  const swaps: Array<Map<CorsPolicy, CorsPolicy>> = [];
  const set = new OriginOwners(
    new Map([['', new Set([plain, credentialed])]]),
    new Map([['', declaration]]),
    (replace) => swaps.push(new Map(replace)),
  );
  const current = () => {
    const last = swaps.at(-1);
    return [last?.get(plain) ?? plain, last?.get(credentialed) ?? credentialed];
  };
  return { set, swaps, current, plain, credentialed };
}

describe('OriginOwners', () => {
  it('swaps every owner in one call, with the static and live origins together', () => {
    const { set, swaps, current } = owners();
    set.setLive('', [T1], false);
    expect(swaps).toHaveLength(1);
    expect(swaps[0].size).toBe(2);
    for (const policy of current()) expect(policy.checkOrigin(T1)).toBe(T1);
    expect(set.originsOf('')).toEqual([STATIC, T1]);
    set.setStatic('', ['https://other.example'], PLACE);
    expect(set.originsOf('')).toEqual(['https://other.example', T1]);
  });

  it('leaves out an entry any owner refuses, for all of them; strict mode refuses the update', () => {
    const { set, swaps } = owners();
    const update = set.setLive('', ['null', T1], false);
    expect(update.skipped.map((p) => p.code)).toEqual(['null-with-credentials']);
    expect(set.originsOf('')).toEqual([STATIC, T1]);
    expect(() => set.setLive('', ['null', 'https://tenant-2.example'], true)).toThrow(
      CorsConfigError,
    );
    expect(swaps).toHaveLength(1);
    expect(set.originsOf('')).toEqual([STATIC, T1]);
  });

  it('keeps the parse cache near the size of the lists in force', () => {
    const { set } = owners();
    for (let round = 0; round < 20; round++) {
      const list = Array.from({ length: 1000 }, (_, i) => `https://t${round}-${i}.example`);
      set.setLive('', list, false);
    }
    const states = (set as unknown as { states: Map<string, { parsed: Map<string, unknown> }> })
      .states;
    expect(states.get('')!.parsed.size).toBeLessThanOrEqual(2 * 1001 + 1000);
    expect(set.originsOf('')).toHaveLength(1001);
  });
});
