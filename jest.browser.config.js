/**
 * `npm run test:browser`: the real-Chromium tests in test/browser, with the same ESM setup as
 * `npm test` (jest.config.js). One worker: one browser, one sample app.
 */
import base from './jest.config.js';

export default {
  ...base,
  roots: ['<rootDir>/test/browser'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 30000,
  maxWorkers: 1,
};
