/**
 * Shared set-up for the conformance suite: small firebase-admin scenarios that run against
 * this package's server by default, and against any other Firestore emulator when
 * FIRESTORE_EMULATOR_HOST is already set when jest starts (then no server is started).
 *
 * Every file calls `useFirestore("<file tag>")` once at top level. It starts the server in
 * beforeAll (local mode), points firebase-admin at it before the first getFirestore(), clears
 * the database before each test (HTTP DELETE, which the official emulator implements too)
 * and tears everything down in afterAll.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import { deleteApp, initializeApp } from "firebase-admin/app";
import type { App } from "firebase-admin/app";
import { getFirestore, initializeFirestore } from "firebase-admin/firestore";
import type { CollectionReference, Firestore } from "firebase-admin/firestore";

import { start } from "../../src";
import type { LocalFirestore, Stats } from "../../src";

export const PROJECT_ID = "demo-conformance";

// Emulators need no Google credentials; keep google-auth-library from probing the GCE metadata
// server (it logs a MetadataLookupWarning where that address answers but is not a metadata server).
process.env.METADATA_SERVER_DETECTION ??= "none";

/** The emulator given from outside, if any (read once, before this file sets the variable). */
const EXTERNAL_HOST: string | undefined = process.env.FIRESTORE_EMULATOR_HOST || undefined;

/**
 * `CONFORMANCE_PREFER_REST=1` runs the suite with firebase-admin's `preferRest: true`: the SDK
 * then speaks the REST API (HTTP/1.1, proto3 JSON) instead of gRPC for everything but listeners.
 */
export const PREFER_REST = process.env.CONFORMANCE_PREFER_REST === "1";

/**
 * With `preferRest`, the SDK's REST client ignores the emulator's `Bearer owner` and wants
 * application default credentials (googleapis/nodejs-firestore#1811). A throwaway service
 * account key, made here, lets it sign its own JWTs offline; the server treats a service
 * account as a server identity, as production does.
 */
function useThrowawayServiceAccount(): void {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const file = path.join(mkdtempSync(path.join(tmpdir(), "conformance-sa-")), "key.json");
  const key = {
    type: "service_account",
    project_id: PROJECT_ID,
    private_key_id: "local",
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
    client_email: `conformance@${PROJECT_ID}.iam.gserviceaccount.com`,
    client_id: "1",
  };
  writeFileSync(file, JSON.stringify(key));
  process.env.GOOGLE_APPLICATION_CREDENTIALS = file;
}

/** True when the suite runs against this package's own server (fault and stats tests run only then). */
export const LOCAL = EXTERNAL_HOST === undefined;

/**
 * One id per test file and run (jest loads this module afresh for every file); collection names
 * start with it, plus the test's number, so runs and tests never share data on a shared emulator.
 */
const RUN_ID = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;

export interface ConformanceContext {
  /** The Firestore instance of this file's app. */
  readonly db: Firestore;
  /** The local server (throws when running against another emulator). */
  readonly server: LocalFirestore;
  /** `host:port` of the server under test. */
  readonly host: string;
  /** A root collection unique to this run and test: `<run>-<file>-<test no>-<name>`. */
  col(name: string): CollectionReference;
  /** A collection id unique to this run and test, for collection-group queries and sub-collections. */
  id(name: string): string;
  /** Local server statistics (local mode only). */
  stats(): Stats;
  /**
   * Defines a test only when running against the local server (fault injection, statistics).
   * Against another emulator the test is not defined at all; its name is printed after the file.
   */
  localIt: (name: string, fn: () => Promise<void>, timeoutMs?: number) => void;
  /**
   * Defines a test that needs the exact status code of a FAILED_PRECONDITION or ALREADY_EXISTS
   * error: not in `preferRest` mode, where the SDK's REST client derives the code from the HTTP
   * status (google-gax `rpcCodeFromHttpStatusCode`: 400 → INVALID_ARGUMENT, 409 → ABORTED, so a
   * create() of an existing document is retried as ABORTED until the call times out).
   */
  exactCodeIt: (name: string, fn: () => Promise<void>, timeoutMs?: number) => void;
}

interface MutableContext {
  app: App | undefined;
  db: Firestore | undefined;
  server: LocalFirestore | undefined;
  host: string;
  prefix: string;
  excluded: string[];
}

/** Registers beforeAll/beforeEach/afterAll for one test file and returns its context. */
export function useFirestore(fileTag: string): ConformanceContext {
  const state: MutableContext = {
    app: undefined,
    db: undefined,
    server: undefined,
    host: EXTERNAL_HOST ?? "",
    prefix: "",
    excluded: [],
  };
  let testNo = 0;

  beforeAll(async () => {
    if (LOCAL) {
      state.server = await start({ host: "127.0.0.1", port: 0, projectId: PROJECT_ID });
      state.host = state.server.address;
      // The Firestore client reads the variable when it is created (at the first getFirestore()).
      // Jest gives every test file its own copy of process.env, so this does not leak.
      process.env.FIRESTORE_EMULATOR_HOST = state.host;
    }
    if (PREFER_REST) useThrowawayServiceAccount();
    state.app = initializeApp({ projectId: PROJECT_ID }, `conformance-${fileTag}-${RUN_ID}`);
    state.db = PREFER_REST ? initializeFirestore(state.app, { preferRest: true }) : getFirestore(state.app);
  });

  beforeEach(async () => {
    testNo++;
    state.prefix = `${RUN_ID}-${fileTag}-${testNo}`;
    await clearDatabase(state.host);
    state.server?.faults.clear();
    state.server?.resetStats();
  });

  afterAll(async () => {
    if (state.excluded.length > 0) {
      process.stdout.write(
        `[conformance] ${fileTag}: not run against ${state.host}${PREFER_REST ? " with preferRest" : ""}: ${state.excluded.join("; ")}\n`,
      );
    }
    await state.db?.terminate();
    if (state.app) await deleteApp(state.app);
    await state.server?.close();
  });

  return {
    get db(): Firestore {
      if (!state.db) throw new Error("the Firestore app is created in beforeAll");
      return state.db;
    },
    get server(): LocalFirestore {
      if (!state.server) throw new Error("no local server: this test must be defined with ctx.localIt()");
      return state.server;
    },
    get host(): string {
      return state.host;
    },
    col(name: string): CollectionReference {
      return this.db.collection(this.id(name));
    },
    id(name: string): string {
      return `${state.prefix}-${name}`;
    },
    stats(): Stats {
      return this.server.stats();
    },
    localIt(name: string, fn: () => Promise<void>, timeoutMs?: number): void {
      if (LOCAL) it(name, fn, timeoutMs);
      else state.excluded.push(name);
    },
    exactCodeIt(name: string, fn: () => Promise<void>, timeoutMs?: number): void {
      if (!PREFER_REST) it(name, fn, timeoutMs);
      else state.excluded.push(`${name} (needs the exact status code)`);
    },
  };
}

/** DELETE /emulator/v1/projects/{p}/databases/(default)/documents — clears every document. */
export async function clearDatabase(host: string): Promise<void> {
  const res = await httpRequest(
    host,
    "DELETE",
    `/emulator/v1/projects/${PROJECT_ID}/databases/(default)/documents`,
  );
  if (res.status !== 200) throw new Error(`clearing ${host} failed: HTTP ${res.status} ${res.body}`);
}

export function httpRequest(
  host: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const sep = host.lastIndexOf(":");
  const hostname = host.slice(0, sep).replace(/^\[|\]$/g, "");
  const port = Number(host.slice(sep + 1));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname,
        port,
        method,
        path,
        headers: {
          Authorization: "Bearer owner",
          ...(payload
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** The gRPC status code of a rejected firebase-admin call (undefined if it has none). */
export async function codeOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "number" ? code : undefined;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** A promise with its resolve function exposed, for ordering steps of concurrent scenarios. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Orders two Firestore timestamps exactly (microseconds matter; toMillis() would drop them). */
export function compareTimestamps(
  a: { seconds: number; nanoseconds: number },
  b: { seconds: number; nanoseconds: number },
): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanoseconds - b.nanoseconds;
}

/** Ids of a query result, in order. */
export function ids(snap: { docs: Array<{ id: string }> }): string[] {
  return snap.docs.map((d) => d.id);
}

/** Polls until `condition` holds; fails after `timeoutMs`. Never a fixed sleep. */
export async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
