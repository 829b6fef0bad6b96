/**
 * The major version of the installed @nestjs/core: the suite runs against Nest 12 and, in the
 * compatibility job of `.ci/run`, against Nest 11. Tests use it only where Nest itself behaves
 * differently (Nest 12 names route handlers and has `routeResolutionStrategy`).
 */
import { createRequire } from 'node:module';

const { version } = createRequire(import.meta.url)('@nestjs/core/package.json') as {
  version: string;
};

export const NEST_MAJOR = Number(version.split('.')[0]);
