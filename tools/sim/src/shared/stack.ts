/**
 * The in-process stack shared by the simulations: a local Firestore (tools/local-firestore) on a free port,
 * the BUILT backend (functions/lib) loaded in this process against it, and its Firestore trigger fed with the
 * local Firestore's real per-commit CloudEvents through an in-process trigger host (see triggerHost.ts).
 *
 * Why the trigger host rather than an onSnapshot listener: a listener may coalesce several writes into one
 * snapshot and only sees document states, while Cloud Functions gets one event per write with its exact
 * before/after and an event id. The local Firestore already produces exactly those events for the functions
 * emulator; serving the two emulator endpoints it calls means the trigger runs on the same events production
 * would send, and `server.triggersIdle()` tells when they are all done.
 *
 * Usage:
 *   const stack = await startSimStack({ seed });
 *   await callCallable(stack.functions.enrollInCourse, { uid }, { courseId });
 *   await stack.postEvent(eventJson);      // signs like the provider and calls paymentWebhook(req, res)
 *   await stack.settle();                  // every queued trigger delivery done
 *   await stack.reset(nextSeed);          // another run in the same process
 *   await stack.close();
 */
import { start, type FaultRule, type LocalFirestore } from "@course-payments/local-firestore";
import path from "node:path";

import {
  FUNCTIONS_DIR,
  checkBackendBuild,
  liftPerUserLimits,
  loadBackend,
  requireFromFunctions,
  type BackendFunctions,
  type LocalEventsModule,
} from "./backend";
import { postToHandler, type HttpReply } from "./invoke";
import { LogCapture } from "./logCapture";
import { Rng } from "./rng";
import { TriggerHost } from "./triggerHost";

export const DEFAULT_PROJECT = "demo-sim";
export const DEFAULT_WEBHOOK_SECRET = "whsec_sim_local_secret_0123456789";

// ---- the minimal firebase-admin Firestore surface the simulations read back with ----

export interface DocSnapLike {
  id: string;
  exists: boolean;
  ref: { path: string };
  data(): Record<string, unknown> | undefined;
}

export interface QuerySnapLike {
  docs: DocSnapLike[];
  size: number;
}

export interface FirestoreLike {
  collection(path: string): { get(): Promise<QuerySnapLike> };
  collectionGroup(id: string): { get(): Promise<QuerySnapLike> };
  doc(path: string): {
    get(): Promise<DocSnapLike>;
    update(data: Record<string, unknown>): Promise<unknown>;
    set(data: Record<string, unknown>): Promise<unknown>;
  };
}

interface AdminAppModule {
  initializeApp(options: { projectId: string }): unknown;
  getApps(): unknown[];
  deleteApp(app: unknown): Promise<void>;
}

interface AdminFirestoreModule {
  getFirestore(app: unknown): FirestoreLike;
}

export interface StackOptions {
  /** Seeds the local Firestore's fault draws and the trigger host's delivery decisions. */
  seed: number;
  projectId?: string;
  webhookSecret?: string;
  /** Share of trigger events delivered twice (default 0). */
  triggerDuplicateProbability?: number;
  /** Print the backend's logs to stderr instead of only counting them. */
  showLogs?: boolean;
}

export interface Stack {
  readonly server: LocalFirestore;
  readonly functions: BackendFunctions;
  readonly localEvents: LocalEventsModule;
  readonly triggers: TriggerHost;
  readonly logs: LogCapture;
  /** firebase-admin Firestore (the backend's own module instance) for reading results back. */
  readonly db: FirestoreLike;
  readonly projectId: string;
  readonly webhookSecret: string;
  /** Injected faults by `Method kind` (latency included; `server.stats().faultsInjected` excludes it). */
  readonly faultCounts: Map<string, number>;
  /** A warning about the backend build (stale lib), if any. */
  readonly buildWarning: string | undefined;
  /**
   * Starts over for another run in the same process (the backend caches its Firestore client, so one process
   * keeps one server): deletes all documents, clears faults and counters, re-seeds the fault draws and the
   * trigger host's decisions.
   */
  reset(seed: number, options?: { triggerDuplicateProbability?: number }): Promise<void>;
  injectFaults(rules: FaultRule[]): void;
  clearFaults(): void;
  /** Signs `rawBody` as the provider does (fresh timestamp) and calls the webhook handler with it. */
  postWebhook(rawBody: string): Promise<HttpReply>;
  /** Resolves when every trigger event queued so far has been delivered, duplicates and retries included. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startSimStack(options: StackOptions): Promise<Stack> {
  const projectId = options.projectId ?? DEFAULT_PROJECT;
  const webhookSecret = options.webhookSecret ?? DEFAULT_WEBHOOK_SECRET;
  const buildWarning = checkBackendBuild();

  // Environment of a deployed function using the local provider; set before the backend is loaded.
  process.env.GCLOUD_PROJECT = projectId;
  process.env.GOOGLE_CLOUD_PROJECT = projectId;
  process.env.STRIPE_WEBHOOK_SECRET = webhookSecret;
  process.env.PAYMENT_PROVIDER = "local";
  liftPerUserLimits();
  // Offline: keep the Google auth library from probing for a cloud metadata server.
  process.env.METADATA_SERVER_DETECTION ??= "none";
  delete process.env.LOCAL_PROVIDER_WEBHOOK_URL; // the simulation is the provider: it sends the events

  const logs = new LogCapture({ passThrough: options.showLogs === true });
  logs.install();
  const { functions, localEvents } = loadBackend();

  const triggers = new TriggerHost(functions as unknown as Record<string, unknown>, {
    rng: Rng.derive(options.seed, "trigger-delivery"),
    duplicateProbability: options.triggerDuplicateProbability ?? 0,
  });
  await triggers.listen();

  const server = await start({
    host: "127.0.0.1",
    port: 0,
    projectId,
    functionsEmulator: triggers.address,
    // Indexes enforced as in production: a backend query missing from firestore.indexes.json fails here.
    indexes: path.join(FUNCTIONS_DIR, "..", "firestore.indexes.json"),
  });
  server.faults.seed(options.seed);
  const faultCounts = countFaults(server);
  process.env.FIRESTORE_EMULATOR_HOST = server.address;

  const adminApp = requireFromFunctions("firebase-admin/app") as AdminAppModule;
  const adminFirestore = requireFromFunctions("firebase-admin/firestore") as AdminFirestoreModule;
  const app = adminApp.getApps()[0] ?? adminApp.initializeApp({ projectId });
  const db = adminFirestore.getFirestore(app);

  const stack: Stack = {
    server,
    functions,
    localEvents,
    triggers,
    logs,
    db,
    projectId,
    webhookSecret,
    faultCounts,
    buildWarning,
    reset: async (seed, resetOptions) => {
      await stack.settle();
      server.faults.clear();
      server.faults.seed(seed);
      await server.clear();
      server.resetStats();
      faultCounts.clear();
      logs.reset();
      triggers.reset(Rng.derive(seed, "trigger-delivery"));
      if (resetOptions?.triggerDuplicateProbability !== undefined) {
        triggers.duplicateProbability = resetOptions.triggerDuplicateProbability;
      }
    },
    injectFaults: (rules) => {
      server.faults.inject(...rules);
    },
    clearFaults: () => {
      server.faults.clear();
    },
    postWebhook: async (rawBody) => {
      const signature = await localEvents.signPayload(rawBody, webhookSecret);
      return postToHandler(functions.paymentWebhook, rawBody, { "stripe-signature": signature });
    },
    settle: async () => {
      // Trigger handlers commit too (stats, markers); those commits match no trigger, but loop until quiet.
      do await server.triggersIdle();
      while (server.stats().triggers.pending > 0);
    },
    close: async () => {
      await Promise.all(adminApp.getApps().map((a) => adminApp.deleteApp(a)));
      await triggers.close();
      await server.close();
      logs.uninstall();
    },
  };
  return stack;
}

/** Wraps the fault injector's decision to count what it injects, by method and kind. */
function countFaults(server: LocalFirestore): Map<string, number> {
  const counts = new Map<string, number>();
  const faults = server.faults;
  const decide = faults.decide.bind(faults);
  const bump = (key: string): void => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  faults.decide = (method, names) => {
    const decision = decide(method, names);
    if (decision.delayMs > 0) bump(`${method} latency`);
    const error = decision.failBefore ?? decision.failAfter;
    if (error !== undefined) bump(`${method} ${/\(([a-z-]+)\)/.exec(error.message)?.[1] ?? "fault"}`);
    return decision;
  };
  return counts;
}
