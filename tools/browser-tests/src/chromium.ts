/**
 * Debian's Chromium, headless, driven by puppeteer-core. Nothing here downloads a browser: the binary is the
 * system package (`apt-get install -y chromium`), or whatever CHROMIUM_PATH names.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import puppeteer, { type Browser } from "puppeteer-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The flags every launch uses: new headless mode, no sandbox (root in CI), and no background traffic. */
export const CHROMIUM_FLAGS: readonly string[] = Object.freeze([
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
]);

export interface LaunchedBrowser {
  browser: Browser;
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile (--user-data-dir in the OS temp dir). */
export async function launchChromium(): Promise<LaunchedBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}. Install Debian's package (apt-get update && apt-get install -y chromium) ` +
        "or set CHROMIUM_PATH; the browser tests never download a browser.",
    );
  }
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), "course-payments-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Our flags only: puppeteer's defaults would add --headless again and other switches we don't need.
    ignoreDefaultArgs: true,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${userDataDir}`, "about:blank"],
    pipe: true,
    defaultViewport: { width: 1100, height: 800 },
  });
  let closing: Promise<void> | undefined;
  return {
    browser,
    close: () => {
      closing ??= (async () => {
        await browser.close().catch(() => undefined);
        await rm(userDataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
