/**
 * One local Firestore server (tools/local-firestore, dev-only) per test file: started in beforeAll, cleared
 * before each test, closed in afterAll. Env vars are set before firebase-admin is first used (it is
 * initialised lazily by src/shared/admin.ts on the first Firestore call, which happens inside a test).
 */
import path from "node:path";

export interface LocalFirestoreServer {
  host: string;
  port: number;
  clear(): Promise<void>;
  faults: {
    inject(
      ...rules: {
        method: string;
        kind: string;
        times?: number;
        probability?: number;
        pathContains?: string;
      }[]
    ): void;
    clear(): void;
  };
  stats(): { reads: number; writes: number; rpcs: Record<string, number>; faultsInjected: number };
  resetStats(): void;
  /** Replaces the enforced indexes (a firestore.indexes.json path). */
  setIndexes(indexes: string | undefined): void;
  close(): Promise<void>;
}

interface LocalFirestoreModule {
  start(options: { host: string; port: number; indexes?: string }): Promise<LocalFirestoreServer>;
}

export const TEST_PROJECT = "demo-courses";
export const TEST_WEBHOOK_SECRET = "whsec_test_local_secret_0123456789";

process.env.GCLOUD_PROJECT = TEST_PROJECT;
process.env.GOOGLE_CLOUD_PROJECT = TEST_PROJECT;
process.env.STRIPE_WEBHOOK_SECRET = TEST_WEBHOOK_SECRET;
process.env.PAYMENT_PROVIDER = "local";

const LIB_PATH = path.resolve(__dirname, "../../../tools/local-firestore/lib");
/** Enforced by the local Firestore as production does: a query needing an index missing from it fails. */
export const INDEXES_PATH = path.resolve(__dirname, "../../../firestore.indexes.json");

export function useLocalFirestore(): { server: () => LocalFirestoreServer } {
  let server: LocalFirestoreServer | undefined;
  beforeAll(async () => {
    const lib = (await import(LIB_PATH)) as LocalFirestoreModule;
    server = await lib.start({ host: "127.0.0.1", port: 0, indexes: INDEXES_PATH });
    process.env.FIRESTORE_EMULATOR_HOST = `${server.host}:${server.port}`;
  });
  beforeEach(async () => {
    server?.faults.clear();
    await server?.clear();
  });
  afterAll(async () => {
    const { getApps, deleteApp } = await import("firebase-admin/app");
    await Promise.all(getApps().map((app) => deleteApp(app)));
    // A query's promise resolves on its last document, before its gRPC stream ends; let such streams end
    // before the server goes away (otherwise gax decodes a late error after jest has torn the module
    // registry down). This is teardown hygiene, not a wait for a test condition.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server?.close();
  });
  return {
    server: () => {
      if (server === undefined) throw new Error("local Firestore not started");
      return server;
    },
  };
}

/** Polls until `check` returns true (no fixed sleeps). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
