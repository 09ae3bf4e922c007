// Debian's Chromium driven by playwright-core, for the dashboard's browser tests. Without the
// browser a test fails under CI (CI=true) with the command that installs it, and is skipped,
// with that same message, on a developer's machine.

import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
export const DOCS_SCREENSHOT = new URL('../../docs/dashboard.png', import.meta.url).pathname;

const INSTALL = `Chromium is missing at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\``;

/**
 * Launches headless Chromium and closes it when the test ends; undefined when the test was
 * skipped for want of a browser (never under CI).
 */
export async function launchBrowser(t: TestContext): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') throw new Error(INSTALL);
    t.skip(INSTALL);
    return undefined;
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.after(() => browser.close());
  return browser;
}

/** The path of a test artifact (the folder is git-ignored), creating the folder. */
export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return new URL(name, ARTIFACTS).pathname;
}

/**
 * Copies a screenshot to docs/dashboard.png (the README's picture) when that file is missing or
 * SM_UPDATE_SCREENSHOT=1: a committed file is not rewritten by every test run.
 */
export function updateDocsScreenshot(path: string): void {
  if (existsSync(DOCS_SCREENSHOT) && process.env.SM_UPDATE_SCREENSHOT !== '1') return;
  copyFileSync(path, DOCS_SCREENSHOT);
}
