/**
 * Real Chromium for the browser tests: Debian's `chromium` package driven by playwright-core.
 * Never downloads a browser, never skips: a missing binary fails the suite with the fix.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { FastifyAdapter } from '@nestjs/platform-fastify';
import { chromium, type BrowserContext } from 'playwright-core';

/** `CHROMIUM_PATH`, else Debian's /usr/bin/chromium. Throws (at import) when it is missing. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

if (!existsSync(CHROMIUM_PATH)) {
  throw new Error(
    `Chromium not found at ${CHROMIUM_PATH}. The browser tests need a real Chromium: install ` +
      `Debian's package with \`apt-get update && apt-get install -y chromium\` (as root), or set ` +
      `CHROMIUM_PATH to a Chromium binary. (Do not run \`playwright install\`: it downloads.)`,
  );
}

/** What worked on Debian 12 + Chromium 156 (see the project's field notes, §6). */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh profile in a temporary directory, removed on close. */
export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'nestjs-cors-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Records every request the browser sends, preflights included, before the CORS module sees it:
 * on Express an `app.use()` middleware of main.ts (the module mounts its own after those); on
 * Fastify the adapter's instrumentation hook, which runs before the module's CORS hook.
 */
export function recordRequests(app: INestApplication, seen: string[]): void {
  const line = (req: { method?: string; url?: string }) => `${req.method} ${req.url}`;
  if (app.getHttpAdapter().getType() === 'fastify') {
    (app.getHttpAdapter() as unknown as FastifyAdapter).setOnRequestHook(
      (request, _reply, done) => {
        seen.push(line(request));
        done();
      },
    );
    return;
  }
  app.use((req: { method: string; url: string }, _res: unknown, next: () => void) => {
    seen.push(line(req));
    next();
  });
}
