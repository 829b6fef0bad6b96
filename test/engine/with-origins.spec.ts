/**
 * Compiled policies are immutable: a live origin update (`withOrigins`) validates the new origins
 * against the policy and returns a new policy; the old one keeps deciding as before.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { CorsPolicy, DENIED } from '../../lib/engine/cors-policy.js';
import { ProblemList } from '../../lib/engine/errors.js';
import { OriginRuleCache } from '../../lib/engine/origin-rule.js';
import type { CorsOriginFunction } from '../../lib/interfaces/cors-options.interface.js';

const A = 'https://a.example';
const B = 'https://b.example';

describe('CorsPolicy.withOrigins', () => {
  it('returns a new policy with the new origins; the old one is unchanged', () => {
    const policy = CorsPolicy.compile(
      { origin: [A], credentials: true, maxAge: 60, methods: ['PUT'], exposedHeaders: 'x-total' },
      'module',
    );
    const problems = new ProblemList();
    const next = policy.withOrigins([B], 'module (setOrigins)', problems);
    expect(problems.errors).toEqual([]);
    expect(next).not.toBe(policy);
    expect(next).toBeInstanceOf(CorsPolicy);
    expect(policy.checkOrigin(A)).toBe(A);
    expect(policy.checkOrigin(B)).toBe(DENIED.notAllowed);
    expect(next.checkOrigin(B)).toBe(B);
    expect(next.checkOrigin(A)).toBe(DENIED.notAllowed);
    // Everything but the origins is the same.
    expect({ ...next.describe(), origins: null }).toEqual({ ...policy.describe(), origins: null });
    expect(next.describe().origins).toEqual([B]);
    expect(policy.describe().origins).toEqual([A]);
    expect(next.sharesOrigins(policy)).toBe(false);
  });

  it('validates the new origins against this policy (credentials included)', () => {
    const policy = CorsPolicy.compile({ origin: [A], credentials: true });
    const problems = new ProblemList();
    policy.withOrigins('*', 'policy "admin" (setOrigins)', problems);
    expect(problems.errors).toEqual([
      expect.objectContaining({
        code: 'wildcard-with-credentials',
        where: 'policy "admin" (setOrigins)',
        source: { kind: 'policy', name: 'admin' },
        value: '*',
      }),
    ]);
    const warnings = new ProblemList();
    policy.withOrigins(['http://b.example'], 'module (setOrigins)', warnings);
    expect(warnings.warnings.map((w) => w.code)).toEqual(['cleartext-origin-with-credentials']);
    expect(policy.checkOrigin(A)).toBe(A);
  });

  it('policies updated with one cache share the new rule', () => {
    const one = CorsPolicy.compile({ origin: [A], maxAge: 10 });
    const two = CorsPolicy.compile({ origin: [A], maxAge: 20 });
    const rules = new OriginRuleCache();
    const problems = new ProblemList();
    const list = [B];
    const nextOne = one.withOrigins(list, 'module', problems, rules);
    const nextTwo = two.withOrigins(list, 'module', problems, rules);
    expect(nextOne.sharesOrigins(nextTwo)).toBe(true);
    expect(nextTwo.describe().maxAge).toBe(20);
  });

  it('keeps the error sink and originTimeout; errors name the place of the update', async () => {
    jest.useFakeTimers();
    try {
      const lines: string[] = [];
      const policy = CorsPolicy.compile({ origin: [A], originTimeout: 50 }, 'module', (m) =>
        lines.push(m),
      );
      const never: CorsOriginFunction = () => new Promise<boolean>(() => undefined);
      const next = policy.withOrigins(never, 'module (setOrigins)', new ProblemList());
      const pending = next.checkOrigin(B);
      jest.advanceTimersByTime(50);
      expect(await pending).toBe(DENIED.predicateTimeout);
      expect(lines).toEqual([
        'module (setOrigins): the origin function did not answer within 50 ms (originTimeout)',
      ]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('compiled policies are frozen', () => {
    const policy = CorsPolicy.compile({ origin: [A] });
    const next = policy.withOrigins([B], 'module', new ProblemList());
    for (const p of [policy, next]) {
      expect(Object.isFrozen(p)).toBe(true);
      expect(() => {
        (p as { enforce: boolean }).enforce = true;
      }).toThrow(TypeError);
    }
  });
});
