/**
 * The test page: a blank page that loads the Firebase web SDK's browser builds (and the client package) through
 * the import map and hands the modules to tests as `window.sdk`. Tests drive them with page.evaluate, so the
 * code under test is the real SDK in the real browser; typed in TypeScript tests through `SdkWindow`.
 */
import path from "node:path";

import type * as app from "firebase/app";
import type * as auth from "firebase/auth";
import type * as firestore from "firebase/firestore";
import type * as lite from "firebase/firestore/lite";
import type * as functions from "firebase/functions";
import type * as client from "@course-payments/client";
import type { Browser, Page } from "puppeteer-core";

import { launchChromium } from "./chromium";
import { openPage } from "./page";
import { startWebServer, type WebServer } from "./webServer";

export const SDK_PAGES_DIR = path.resolve(__dirname, "../pages");

export interface Sdk {
  app: typeof app;
  auth: typeof auth;
  firestore: typeof firestore;
  lite: typeof lite;
  functions: typeof functions;
  client: typeof client;
}

/** What page.evaluate callbacks see as `globalThis`: `(globalThis as unknown as SdkWindow).sdk`. */
export interface SdkWindow {
  sdk: Sdk;
}

export interface SdkSession {
  browser: Browser;
  page: Page;
  /** The page's console and errors (see openPage). */
  log: string[];
  server: WebServer;
  close(): Promise<void>;
}

/** Serves the test page, launches Chromium, opens the page and waits until the SDK is loaded. */
export async function openSdkPage(): Promise<SdkSession> {
  const server = await startWebServer({ sites: { "/": SDK_PAGES_DIR } });
  try {
    const launched = await launchChromium();
    try {
      const { page, log } = await openPage(launched.browser, `${server.url}/`);
      await page
        .waitForFunction(() => "sdk" in globalThis, { timeout: 15_000 })
        .catch((error: unknown) => {
          throw new Error(`the SDK page did not load: ${String(error)}\n${log.join("\n")}`);
        });
      return {
        browser: launched.browser,
        page,
        log,
        server,
        close: async () => {
          await launched.close();
          await server.close();
        },
      };
    } catch (error) {
      await launched.close();
      throw error;
    }
  } catch (error) {
    await server.close();
    throw error;
  }
}
