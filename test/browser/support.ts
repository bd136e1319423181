/// <reference lib="dom" />
/**
 * What the dashboard's browser tests share: Debian's Chromium driven by playwright-core, a page
 * that collects its errors, log-in through the form or a kept session, uploads, and the page's
 * read-only debug handle (`window.dashboard.snapshot()`).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
// CI installs Chromium (.ci/run); elsewhere the tests say why they did not run.
export const chromiumAvailable = existsSync(CHROMIUM) || process.env.CI === 'true';
/** Screenshots for people to look at (git-ignored). */
export const OUTPUT_DIR = path.join(import.meta.dirname, 'output');
export const LAPTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/** The page's snapshot (see web/dashboard.js `snapshot`); null while logged out. */
export interface Snapshot {
  records: number;
  received: number;
  ids: string[];
  history: { loading: boolean; fetched: number; complete: boolean; error?: string; delivered: number };
  chart: { mode: 'raw' | 'aggregate'; points: number; positive: number; negative: number; series: string[]; gaps: number; yAxis: { size: number; label: number; widest: string } };
  window: { start: string; end: string; edited: boolean };
  analysis?: { start: string; end: string; signals: number; batches: number };
  userId: string;
  health?: { dead_letter_queue: { visible: number; in_flight: number } };
  banner?: string;
}

export const snapshot = (page: Page) => page.evaluate(() => (window as unknown as { dashboard: { snapshot(): unknown } }).dashboard.snapshot()) as Promise<Snapshot | null>;

/**
 * Waits until the page's snapshot satisfies `predicate`, polled from here: the page's CSP has no
 * 'unsafe-eval', so a predicate cannot be handed to the page as a string.
 */
export async function waitForSnapshot(page: Page, predicate: (s: Snapshot) => boolean, timeout = 15_000): Promise<Snapshot> {
  const deadline = Date.now() + timeout;
  let last: Snapshot | null = null;
  while (Date.now() < deadline) {
    last = await snapshot(page);
    if (last && predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  const { ids: _ids, ...shown } = last ?? ({} as Snapshot);
  throw new Error(`the page did not get there within ${timeout} ms; it shows ${JSON.stringify(shown)}`);
}

/** A new page (own context: own sessionStorage) that records its errors. */
export async function newPage(browser: Browser, options: BrowserContextOptions = {}) {
  const context = await browser.newContext({ viewport: LAPTOP, ...options });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(message.text());
  });
  return { page, problems, close: () => context.close() };
}

/** Logs in through the form and waits until the page is live and its history loaded. */
export async function logInThroughForm(page: Page, httpUrl: string, username = 'parsa', password = 'admin') {
  await page.goto(`${httpUrl}/`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#connection.on');
  await waitForSnapshot(page, (s) => !s.history.loading);
}

/** Opens the page with a token kept in sessionStorage, as a reload after a log-in finds it. */
export async function openWithToken(page: Page, httpUrl: string, token: string) {
  // The session is kept on a page of the same origin that runs no dashboard code, then the
  // dashboard opens: a dashboard still starting up would read (and clear) it before the reload.
  await page.goto(`${httpUrl}/config.json`);
  await page.evaluate((t) => sessionStorage.setItem('data-handler.session', JSON.stringify({ token: t })), token);
  await page.goto(`${httpUrl}/`);
}

export interface UploadRecord {
  data: number;
  date: string;
}

/** POST /api/data/upload; the ids, in order. */
export async function upload(httpUrl: string, token: string, records: UploadRecord[]): Promise<string[]> {
  const answer = await fetch(`${httpUrl}/api/data/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ records }),
  });
  expect(answer.status).toBe(202);
  return ((await answer.json()) as { ids: string[] }).ids;
}

/** Records one second apart from `startIso`, with these values. */
export function recordsAt(startIso: string, values: number[], stepMs = 1000): UploadRecord[] {
  return values.map((data, i) => ({ data, date: new Date(Date.parse(startIso) + i * stepMs).toISOString() }));
}

/** A viewport (and a full-page) screenshot in test/browser/output, for a person to look at. */
export async function screenshot(page: Page, name: string) {
  await mkdir(OUTPUT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(OUTPUT_DIR, `${name}.png`) });
  await page.screenshot({ path: path.join(OUTPUT_DIR, `${name}-full.png`), fullPage: true });
}
