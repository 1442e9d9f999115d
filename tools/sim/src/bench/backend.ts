/**
 * The BUILT backend (functions/lib) and the firebase-admin it uses (functions/node_modules), loaded by path at
 * run time. The types below are the small structural slice of their APIs the benchmark uses, so this package
 * needs no dependency on firebase-admin or on the functions codebase.
 *
 * Call `configureEnvironment` before `loadBackend`, and set FIRESTORE_EMULATOR_HOST before the first call:
 * firebase-admin reads it when the backend first initialises it.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import {
  FUNCTIONS_DIR,
  FUNCTIONS_LIB,
  REPO_ROOT,
  liftPerUserLimits,
  testKit,
  type CallableLike,
  type CloudEventFunctionLike,
  type LocalPaymentView,
  type RequestHandlerLike,
} from "../shared/backend";
import { postToHandler } from "../shared/invoke";
import { firestoreTriggers } from "../shared/triggerHost";

export { FUNCTIONS_DIR, FUNCTIONS_LIB, REPO_ROOT };

export const BENCH_PROJECT = "demo-bench";
export const BENCH_WEBHOOK_SECRET = "whsec_bench_local_secret_0123456789";

// ---- firebase-admin (structural) ----

export interface DocSnapshot {
  readonly exists: boolean;
  readonly id: string;
  get(field: string): unknown;
}

export interface DocRef {
  readonly path: string;
  get(): Promise<DocSnapshot>;
  set(data: Record<string, unknown>): Promise<unknown>;
  update(data: Record<string, unknown>): Promise<unknown>;
  collection(id: string): CollectionRef;
}

export interface CollectionRef {
  doc(id: string): DocRef;
  get(): Promise<{ readonly docs: DocSnapshot[] }>;
}

export interface WriteBatch {
  update(ref: DocRef, data: Record<string, unknown>): WriteBatch;
  commit(): Promise<unknown>;
}

export interface Firestore {
  doc(path: string): DocRef;
  batch(): WriteBatch;
}

export interface FieldValueStatic {
  increment(n: number): unknown;
  serverTimestamp(): unknown;
}

// ---- the backend (structural) ----

export type Callable = CallableLike;
export type RequestHandler = RequestHandlerLike;
export type { LocalPaymentView };

export interface SignedDelivery {
  rawBody: string;
  signature: string;
}

export interface Backend {
  firestore: () => Firestore;
  FieldValue: FieldValueStatic;
  deleteAllApps: () => Promise<void>;
  paymentWebhook: RequestHandler;
  upsertCourse: Callable;
  enrollInCourse: Callable;
  startPayment: Callable;
  /** Every Firestore-triggered function of the entry point (onEnrollmentWritten, …). */
  triggers: Record<string, CloudEventFunctionLike>;
  paymentSucceededEvent: (p: LocalPaymentView, eventId?: string) => unknown;
  signEvent: (event: unknown, secret: string) => Promise<SignedDelivery>;
}

/**
 * Environment the backend reads: demo project, local provider, webhook secret. The local Firestore's address is set
 * once it has started (after the backend is loaded: firebase-admin reads it on first use, not on load).
 */
export function configureEnvironment(): void {
  process.env.GCLOUD_PROJECT = BENCH_PROJECT;
  process.env.GOOGLE_CLOUD_PROJECT = BENCH_PROJECT;
  process.env.METADATA_SERVER_DETECTION ??= "none";
  process.env.STRIPE_WEBHOOK_SECRET = BENCH_WEBHOOK_SECRET;
  process.env.PAYMENT_PROVIDER = "local";
  liftPerUserLimits();
  delete process.env.LOCAL_PROVIDER_WEBHOOK_URL;
}

/**
 * The backend logs through firebase-functions/logger, which captures the console methods when it loads: they are
 * counted (the tally returned) and shown on stderr only with BENCH_LOGS=1. Call before `loadBackend`.
 */
export function silenceBackendLogs(): Record<string, number> {
  const tally: Record<string, number> = {};
  const verbose = process.env.BENCH_LOGS === "1";
  for (const method of ["debug", "info", "log", "warn", "error"] as const) {
    console[method] = (...args: unknown[]) => {
      tally[method] = (tally[method] ?? 0) + 1;
      if (verbose) process.stderr.write(`${args.map(String).join(" ")}\n`);
    };
  }
  return tally;
}

const fromFunctions = createRequire(path.join(FUNCTIONS_DIR, "package.json"));

function load(relative: string): unknown {
  return fromFunctions(path.join(FUNCTIONS_LIB, relative));
}

export function loadBackend(): Backend {
  if (!existsSync(path.join(FUNCTIONS_LIB, "index.js"))) {
    throw new Error(
      "functions/lib is not built: run `npm --prefix functions run build` (or `npm run build`) first",
    );
  }
  const index = load("index.js") as Record<string, unknown> & {
    paymentWebhook: RequestHandler;
    upsertCourse: Callable;
    enrollInCourse: Callable;
    startPayment: Callable;
  };
  const triggers = firestoreTriggers(index);
  if (triggers.onEnrollmentWritten === undefined)
    throw new Error("functions/lib/index.js: no onEnrollmentWritten");
  const admin = load("shared/admin.js") as { firestore: () => Firestore };
  const events = load("services/payments/local/localEvents.js") as Pick<
    Backend,
    "paymentSucceededEvent" | "signEvent"
  >;
  const { FieldValue } = fromFunctions("firebase-admin/firestore") as { FieldValue: FieldValueStatic };
  const app = fromFunctions("firebase-admin/app") as {
    getApps: () => unknown[];
    deleteApp: (a: unknown) => Promise<void>;
  };
  return {
    firestore: admin.firestore,
    FieldValue,
    deleteAllApps: async () => {
      await Promise.all(app.getApps().map((a) => app.deleteApp(a)));
    },
    paymentWebhook: index.paymentWebhook,
    upsertCourse: index.upsertCourse,
    enrollInCourse: index.enrollInCourse,
    startPayment: index.startPayment,
    triggers,
    paymentSucceededEvent: events.paymentSucceededEvent,
    signEvent: events.signEvent,
  };
}

/** Calls a deployed callable in-process (firebase-functions' `run`), as `uid`. */
export function callAs(fn: Callable, uid: string, data: unknown, admin = false): Promise<unknown> {
  return fn.run(testKit().callableRequest({ uid, admin }, data));
}

/** Posts a raw body to the deployed onRequest handler (the shared harness builds the request/response pair). */
export function postWebhook(
  handler: RequestHandler,
  rawBody: string,
  signature: string,
): Promise<{ status: number; body: unknown }> {
  return postToHandler(handler, rawBody, {
    "stripe-signature": signature,
    "content-type": "application/json",
  });
}
