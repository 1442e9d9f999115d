/**
 * Pages under test: every console message and uncaught page error is kept, so a failing test can print what
 * the browser said, and screenshots land in one ignored folder (tools/browser-tests/artifacts/).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";

import type { Browser, BrowserContext, Page } from "puppeteer-core";

export const ARTIFACTS_DIR = path.resolve(__dirname, "../artifacts");

export interface OpenedPage {
  page: Page;
  /** "[type] text" for every console message, and "[pageerror] …" for uncaught errors. */
  log: string[];
}

/** Opens `url` in a new tab of `browser` (or of an isolated context: its own cookies and storage). */
export async function openPage(browser: Browser | BrowserContext, url: string): Promise<OpenedPage> {
  const page = await browser.newPage();
  const log: string[] = [];
  page.on("console", (message) => {
    log.push(`[${message.type()}] ${message.text()}`);
  });
  page.on("pageerror", (error) => {
    log.push(`[pageerror] ${error instanceof Error ? error.message : String(error)}`);
  });
  page.on("requestfailed", (request) => {
    log.push(`[requestfailed] ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ""}`);
  });
  await page.goto(url, { waitUntil: "load" });
  return { page, log };
}

/** Saves a full-page PNG as artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of nothing");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
