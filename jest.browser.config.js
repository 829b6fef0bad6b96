/**
 * `npm run test:browser`: the real-Chromium tests in test/browser, in jest's ESM mode like
 * `npm test` (see jest.config.js). One worker: one browser, one sample app.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  roots: ['<rootDir>/test/browser'],
  testMatch: ['**/*.spec.ts'],
  testTimeout: 30000,
  maxWorkers: 1,
};
