/**
 * The BUILT backend (`functions/lib`), loaded in-process exactly as deployed code is, and the few shapes of it
 * the simulations use. Modules are resolved from `functions/` (its own node_modules: firebase-admin,
 * firebase-functions, stripe), so the simulation drives the very module instances the handlers use.
 *
 * Types come from the build's declaration files (functions/lib, type-only imports, erased at run time): the
 * root build and `npm run build:sim` build functions/ before this package.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { CallableRequestLike, RequestHandlerLike } from "../../../../functions/lib/testing/kit";

export type {
  LocalPaymentView,
  LocalRefundView,
  StripeEventJson,
} from "../../../../functions/lib/services/payments/local/localEvents";
export type {
  Caller,
  CallableRequestLike,
  HandlerReply,
  RequestHandlerLike,
} from "../../../../functions/lib/testing/kit";

/** The repository root, from the compiled file (`tools/sim/lib/shared/backend.js`). */
export const REPO_ROOT = path.resolve(__dirname, "../../../..");
/** `functions/` of this repo. */
export const FUNCTIONS_DIR = path.join(REPO_ROOT, "functions");
/**
 * The build to load: `functions/lib`, or another build given in SIM_FUNCTIONS_LIB (e.g. a deliberately broken
 * copy, to see the simulation catch it). Its requires must resolve to functions/node_modules: put it under
 * functions/, or next to a `node_modules` symlink to functions/node_modules.
 */
export const FUNCTIONS_LIB = process.env.SIM_FUNCTIONS_LIB ?? path.join(FUNCTIONS_DIR, "lib");

const functionsRequire = createRequire(path.join(FUNCTIONS_DIR, "package.json"));

/** `require` resolved from functions/ (returns unknown; callers narrow). */
export function requireFromFunctions(id: string): unknown {
  const mod: unknown = functionsRequire(id);
  return mod;
}

// ---- the deployed functions ----

/** A v2 `onCall` function: `.run(request)` invokes the handler (with init hooks) and skips the HTTP layer. */
export interface CallableLike {
  run(request: CallableRequestLike): Promise<unknown>;
}

export interface EventTriggerSpec {
  eventType: string;
  eventFilters?: Record<string, string>;
  eventFilterPathPatterns?: Record<string, string>;
  retry?: boolean;
}

/** A v2 CloudEvent function: called with the raw CloudEvent (it decodes Firestore protobuf payloads itself). */
export interface CloudEventFunctionLike {
  (event: Record<string, unknown>): Promise<unknown>;
  __endpoint?: { region?: string[]; eventTrigger?: EventTriggerSpec };
}

export interface BackendFunctions {
  enrollInCourse: CallableLike;
  startPayment: CallableLike;
  upsertCourse: CallableLike;
  recordManualPayment: CallableLike;
  refundPayment: CallableLike;
  upsertQuiz: CallableLike;
  submitQuizAttempt: CallableLike;
  paymentWebhook: RequestHandlerLike;
  onEnrollmentWritten: CloudEventFunctionLike;
}

// ---- the local provider's Stripe-format event builders, and the test kit (functions/src/testing/kit.ts) ----

export type LocalEventsModule =
  typeof import("../../../../functions/lib/services/payments/local/localEvents");
export type TestKit = typeof import("../../../../functions/lib/testing/kit");

function assertFunctions(mod: unknown): asserts mod is BackendFunctions {
  const m = mod as Record<string, unknown> | null;
  const callables = [
    "enrollInCourse",
    "startPayment",
    "upsertCourse",
    "recordManualPayment",
    "refundPayment",
    "upsertQuiz",
    "submitQuizAttempt",
  ];
  for (const name of callables) {
    const fn = m?.[name] as { run?: unknown } | undefined;
    if (typeof fn?.run !== "function") throw new Error(`functions/lib/index.js: ${name} is not a callable`);
  }
  if (typeof m?.paymentWebhook !== "function") throw new Error("functions/lib/index.js: no paymentWebhook");
  if (typeof m.onEnrollmentWritten !== "function") throw new Error("functions/lib/index.js: no trigger");
}

/** Newest modification time (ms) of any file below `dir`. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Checks that `functions/lib` exists and is not older than `functions/src`. Returns a warning (or throws when
 * the build is missing): the simulation must exercise the code that would be deployed.
 */
/**
 * Lifts the backend's per-user limits on startPayment (START_PAYMENT_LIMIT, MAX_OPEN_CHECKOUTS): simulated clients
 * start payments far faster than people do and leave most checkouts unfinished on purpose. functions/test/security
 * checks both limits on their own. Set before the backend handles its first call (read per call).
 */
export function liftPerUserLimits(): void {
  process.env.START_PAYMENT_LIMIT = "1000000";
  process.env.MAX_OPEN_CHECKOUTS = "1000000";
}

export function checkBackendBuild(): string | undefined {
  const entry = path.join(FUNCTIONS_LIB, "index.js");
  if (!existsSync(entry)) {
    throw new Error(`${entry} not found: build the backend first (npm --prefix functions run build)`);
  }
  const src = path.join(FUNCTIONS_DIR, "src");
  if (process.env.SIM_FUNCTIONS_LIB !== undefined) return `testing the build in ${FUNCTIONS_LIB}`;
  if (existsSync(src) && newestMtime(src) > newestMtime(FUNCTIONS_LIB)) {
    return "functions/src is newer than functions/lib: run `npm --prefix functions run build` to test the current code";
  }
  return undefined;
}

/** Loads the deployed entry point (functions/lib/index.js) and the local provider's event builders. */
export function loadBackend(): { functions: BackendFunctions; localEvents: LocalEventsModule } {
  const functions = requireFromFunctions(path.join(FUNCTIONS_LIB, "index.js"));
  assertFunctions(functions);
  const localEvents = requireFromFunctions(
    path.join(FUNCTIONS_LIB, "services/payments/local/localEvents.js"),
  ) as Partial<LocalEventsModule> | null;
  const builders = [
    "paymentSucceededEvent",
    "paymentFailedEvent",
    "paymentCanceledEvent",
    "chargeRefundedEvent",
    "refundEvent",
    "disputeEvent",
  ];
  for (const name of [...builders, "signPayload"]) {
    if (typeof localEvents?.[name as keyof LocalEventsModule] !== "function") {
      throw new Error(
        `functions/lib/services/payments/local/localEvents.js has no ${name}: rebuild the backend`,
      );
    }
  }
  return { functions, localEvents: localEvents as LocalEventsModule };
}

let kit: TestKit | undefined;

/** The test kit from the build (functions/lib/testing/kit.js): fake requests for the handlers, the oracle. */
export function testKit(): TestKit {
  kit ??= requireFromFunctions(path.join(FUNCTIONS_LIB, "testing/kit.js")) as TestKit;
  return kit;
}

type LocalProviderModule = typeof import("../../../../functions/lib/services/payments/local/localProvider");
let localProvider: LocalProviderModule | undefined;

function localProviderModule(): LocalProviderModule {
  localProvider ??= requireFromFunctions(
    path.join(FUNCTIONS_LIB, "services/payments/local/localProvider.js"),
  ) as LocalProviderModule;
  return localProvider;
}

/** The local provider's view of one of its payment documents (what its event builders take), from the build. */
export function localPaymentView(
  doc: Parameters<LocalProviderModule["localPaymentView"]>[0],
): ReturnType<LocalProviderModule["localPaymentView"]> {
  return localProviderModule().localPaymentView(doc);
}

/** The provider's record of a payment made outside startPayment (see the backend's heldPaymentRecord). */
export function heldPaymentRecord(
  ...args: Parameters<LocalProviderModule["heldPaymentRecord"]>
): ReturnType<LocalProviderModule["heldPaymentRecord"]> {
  return localProviderModule().heldPaymentRecord(...args);
}

/** A service module of the built backend (functions/lib/services/<name>.js), loaded through its own require. */
function builtService(name: string): unknown {
  return requireFromFunctions(path.join(FUNCTIONS_LIB, "services", `${name}.js`));
}

type InstallmentServiceModule = typeof import("../../../../functions/lib/services/installmentService");

/**
 * The installment deadline job from the build (what markInstallmentDeadlines runs every hour), with the clock
 * `aheadDays` days ahead of now: the simulated clock.
 */
export function runInstallmentDeadlines(
  aheadDays: number,
): ReturnType<InstallmentServiceModule["markPassedDeadlines"]> {
  return (builtService("installmentService") as InstallmentServiceModule).markPassedDeadlines({
    nowMs: Date.now() + aheadDays * 24 * 3600 * 1000,
  });
}

type ReconciliationModule = typeof import("../../../../functions/lib/services/reconciliationService");

/** Provider reconciliation from the build (what reconcileProviderEvents runs every hour), over [fromMs, toMs). */
export function reconcileProviderEvents(
  fromMs: number,
  toMs: number,
): ReturnType<ReconciliationModule["reconcileRange"]> {
  return (builtService("reconciliationService") as ReconciliationModule).reconcileRange({
    fromMs,
    toMs,
    limit: 1_000_000,
  });
}

type WebhookCommandModule = typeof import("../../../../functions/lib/services/webhookCommandService");

/**
 * The parked-event sweep from the build (what sweepParkedEvents runs every 15 minutes), over every parked event: it
 * replays those whose payment is known now (a trigger that never ran or gave up), the rest keep waiting.
 */
export function sweepParkedEvents(): ReturnType<WebhookCommandModule["sweepParkedEvents"]> {
  return (builtService("webhookCommandService") as WebhookCommandModule).sweepParkedEvents(
    Date.now(),
    1_000_000,
  );
}
