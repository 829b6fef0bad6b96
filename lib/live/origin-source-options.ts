/**
 * Boot checks of the `originSource` option, where it is declared (the module defaults or a named
 * policy): a source object the sync loop can drive, next to a static `origin` it can add to.
 */
import type { CorsProblemPlace, ProblemList } from '../engine/errors.js';
import { describeValue } from '../engine/tokens.js';
import type { CorsPolicyOptions } from '../interfaces/cors-options.interface.js';
import { ORIGIN_SOURCE_DEFAULTS } from './origin-source.js';

const OPTIONAL_FUNCTIONS = ['subscribe', 'version', 'close'] as const;

/** Records every problem of `source` (declared next to `origin`) at `where`. */
export function checkOriginSource(
  source: unknown,
  origin: CorsPolicyOptions['origin'],
  where: CorsProblemPlace,
  problems: ProblemList,
): void {
  const invalid = (message: string, value: unknown) =>
    problems.error(where, 'invalid-origin-source', message, value);
  if (source === null || typeof source !== 'object' || typeof (source as any).load !== 'function') {
    invalid(
      `originSource must be an object with a load() function (an OriginSource, e.g. a RedisOriginSource of nestjs-cors/redis), got ${describeValue(source)}`,
      source,
    );
    return;
  }
  const s = source as Record<string, unknown>;
  for (const name of OPTIONAL_FUNCTIONS) {
    if (s[name] !== undefined && typeof s[name] !== 'function') {
      invalid(`originSource.${name} must be a function, got ${describeValue(s[name])}`, s[name]);
    }
  }
  const { minPollMs, maxPollMs, maxTimeoutMs } = ORIGIN_SOURCE_DEFAULTS;
  checkInteger(s.pollMs, 'pollMs', minPollMs, maxPollMs, invalid);
  checkInteger(s.timeoutMs, 'timeoutMs', 1, maxTimeoutMs, invalid);
  if (s.onBootFailure !== undefined && s.onBootFailure !== 'fail' && s.onBootFailure !== 'static') {
    invalid(
      `originSource.onBootFailure must be 'fail' or 'static', got ${describeValue(s.onBootFailure)}`,
      s.onBootFailure,
    );
  }
  checkStaticOrigin(origin, where, problems);
}

/** Live origins are added to a list: `'*'`, `true` or a function leave nothing to add to. */
function checkStaticOrigin(
  origin: CorsPolicyOptions['origin'],
  where: CorsProblemPlace,
  problems: ProblemList,
): void {
  if (origin !== '*' && origin !== true && typeof origin !== 'function') return;
  const what = typeof origin === 'function' ? 'a function' : describeValue(origin);
  problems.error(
    where,
    'origin-source-needs-list',
    `originSource adds its origins to the static origin list, but origin is ${what}: give origin as a list of origins (or leave it out for live origins only)`,
    origin,
  );
}

function checkInteger(
  value: unknown,
  name: string,
  min: number,
  max: number,
  invalid: (message: string, value: unknown) => void,
): void {
  if (value === undefined) return;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return;
  invalid(
    `originSource.${name} must be an integer number of milliseconds in ${min}..${max}, got ${describeValue(value)}`,
    value,
  );
}
