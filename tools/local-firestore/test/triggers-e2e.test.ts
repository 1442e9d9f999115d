/**
 * End to end: a v2 Firestore function in the Firebase CLI's functions emulator, driven by this server.
 *
 *   local Firestore (this package) --CloudEvent--> `firebase emulators:start --only functions`
 *        ^                                              | runs test/fixtures/trigger-app/index.js
 *        +------------- firebase-admin writes ----------+ (FIRESTORE_EMULATOR_HOST = this server)
 *
 * Offline: the CLI's UI is disabled and Firestore is not in `--only` (both would download binaries). The
 * functions emulator then marks Firestore triggers "ignored" but still runs them when an event is POSTed
 * to it. That contract is internal to firebase-tools (pinned in the root package.json), so the first
 * describe block checks each fact relied on and fails when an upgrade changes one.
 *
 * By hand: `cd test/fixtures/trigger-app && FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 \
 *   npx firebase emulators:start --only functions --project demo-triggers` next to
 *   `node bin/local-firestore.js --functions_emulator 127.0.0.1:5001 --project demo-triggers`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { type App, deleteApp, initializeApp } from "firebase-admin/app";
import { type DocumentData, type Firestore, getFirestore } from "firebase-admin/firestore";

import { type LocalFirestore, start } from "../src";

const PROJECT = "demo-triggers";
const REPO_ROOT = path.resolve(__dirname, "../../..");
const FIXTURE_DIR = path.join(__dirname, "fixtures", "trigger-app");
const READY_TIMEOUT_MS = 90_000;
const EVENT_TIMEOUT_MS = 15_000;

let server: LocalFirestore | undefined;
let emulator: ChildProcess | undefined;
let emulatorExited: Promise<void> | undefined;
let emulatorOutput = "";
let workDir: string | undefined;
let app: App | undefined;
let db: Firestore;
let functionsHost = "";
let hubHost = "";
const savedFirestoreHost = process.env.FIRESTORE_EMULATOR_HOST;
const timings: Record<string, number> = {};

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) =>
    srv.close(() => {
      resolve();
    }),
  );
  return port;
}

/** `promise`'s outcome, or `onTimeout()`'s after `ms`; leaves no timer behind. */
async function within<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` saying what it waited for. */
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}\n--- emulator output ---\n${emulatorOutput}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function killEmulator(signal: NodeJS.Signals): void {
  if (emulator?.pid !== undefined && emulator.exitCode === null && emulator.signalCode === null) {
    try {
      process.kill(-emulator.pid, signal); // the whole group: the CLI and its function runtimes
    } catch {
      // already gone
    }
  }
}
const killOnExit = (): void => {
  killEmulator("SIGKILL");
};

/** Documents of a collection whose `field` equals `value`, keyed by id. */
async function eventsWhere(
  collection: string,
  field: string,
  value: string,
): Promise<Map<string, DocumentData>> {
  const snap = await db.collection(collection).where(field, "==", value).get();
  return new Map(snap.docs.map((d) => [d.id, d.data()]));
}

/** Waits for exactly one event doc not in `seen` and returns it (adding its id to `seen`). */
async function nextEvent(
  what: string,
  collection: string,
  field: string,
  value: string,
  seen: Set<string>,
): Promise<DocumentData> {
  const fresh = await waitFor(what, async () => {
    const all = await eventsWhere(collection, field, value);
    const unseen = [...all].filter(([id]) => !seen.has(id));
    return unseen.length > 0 ? unseen : undefined;
  });
  expect(fresh).toHaveLength(1);
  const [id, data] = fresh[0] ?? ["", {}];
  seen.add(id);
  return data;
}

beforeAll(async () => {
  const [functionsPort, hubPort, loggingPort] = [await freePort(), await freePort(), await freePort()];
  functionsHost = `127.0.0.1:${functionsPort}`;
  hubHost = `127.0.0.1:${hubPort}`;
  server = await start({ host: "127.0.0.1", port: 0, functionsEmulator: functionsHost, projectId: PROJECT });

  // A throwaway project dir: firebase.json with free ports; functions source = the fixture (a relative
  // path, because the CLI joins it to the project dir). The fixture resolves firebase-functions and
  // firebase-admin from the repo's root node_modules. TMPDIR isolates the hub's locator file.
  workDir = mkdtempSync(path.join(tmpdir(), "lf-triggers-e2e-"));
  writeFileSync(
    path.join(workDir, "firebase.json"),
    JSON.stringify({
      functions: { source: path.relative(workDir, FIXTURE_DIR) },
      emulators: {
        functions: { host: "127.0.0.1", port: functionsPort },
        hub: { host: "127.0.0.1", port: hubPort },
        logging: { host: "127.0.0.1", port: loggingPort },
        ui: { enabled: false },
        singleProjectMode: true,
      },
    }),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, FIRESTORE_EMULATOR_HOST: server.address, TMPDIR: workDir };
  for (const k of [
    "FIREBASE_AUTH_EMULATOR_HOST",
    "FIREBASE_EMULATOR_HUB",
    "GCLOUD_PROJECT",
    "FIREBASE_CONFIG",
  ]) {
    unsetEnv(env, k);
  }
  const cli = realpathSync(path.join(REPO_ROOT, "node_modules", ".bin", "firebase"));
  const spawnedAt = Date.now();
  const child = spawn(
    process.execPath,
    [cli, "emulators:start", "--only", "functions", "--project", PROJECT],
    {
      cwd: workDir,
      env,
      detached: true, // own process group, so afterAll can kill the CLI and the function runtimes together
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  emulator = child;
  process.on("exit", killOnExit);
  emulatorExited = new Promise((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      emulatorOutput += chunk.toString();
      if (emulatorOutput.includes("All emulators ready")) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code, signal) => {
      reject(new Error(`firebase emulators:start exited (${code ?? signal ?? "?"}):\n${emulatorOutput}`));
    });
  });
  await within(ready, READY_TIMEOUT_MS, () => {
    throw new Error(`functions emulator not ready after ${READY_TIMEOUT_MS} ms:\n${emulatorOutput}`);
  });
  timings.emulatorReadyMs = Date.now() - spawnedAt;

  process.env.FIRESTORE_EMULATOR_HOST = server.address;
  app = initializeApp({ projectId: PROJECT }, `triggers-e2e-${Date.now()}`);
  db = getFirestore(app);
}, READY_TIMEOUT_MS + 10_000);

function unsetEnv(env: NodeJS.ProcessEnv, key: string): void {
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
  delete env[key];
}

afterAll(async () => {
  killEmulator("SIGTERM");
  if (emulatorExited) {
    const exited = await within(
      emulatorExited.then(() => true),
      10_000,
      () => false,
    );
    if (!exited) {
      killEmulator("SIGKILL");
      await emulatorExited;
    }
  }
  process.off("exit", killOnExit);
  if (app) await deleteApp(app);
  await server?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  if (savedFirestoreHost === undefined) unsetEnv(process.env, "FIRESTORE_EMULATOR_HOST");
  else process.env.FIRESTORE_EMULATOR_HOST = savedFirestoreHost;
  if (Object.keys(timings).length > 0) {
    process.stderr.write(`triggers-e2e timings: ${JSON.stringify(timings)}\n`);
  }
}, 30_000);

describe("firebase-tools functions emulator contract (the CLI is pinned; this fails when it changes)", () => {
  it("runs the pinned firebase-tools version", () => {
    const rootPkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
      devDependencies?: Record<string, string>;
    };
    const installed = JSON.parse(
      readFileSync(path.join(REPO_ROOT, "node_modules", "firebase-tools", "package.json"), "utf8"),
    ) as { version: string };
    const pin = rootPkg.devDependencies?.["firebase-tools"] ?? "";
    expect(pin).toMatch(/^\d+\.\d+\.\d+$/); // exact, not a range
    expect(installed.version).toBe(pin);
  });

  it("GET /backends lists the v2 Firestore triggers with event type and document pattern", async () => {
    const res = await fetch(`http://${functionsHost}/backends`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      backends: Array<{ functionTriggers: Array<Record<string, unknown>> }>;
    };
    const triggers = body.backends.flatMap((b) => b.functionTriggers);
    expect(triggers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: "us-central1-onNoteWritten",
          platform: "gcfv2",
          eventTrigger: expect.objectContaining({
            eventType: "google.cloud.firestore.document.v1.written",
            eventFilters: expect.objectContaining({ database: "(default)" }) as unknown,
            eventFilterPathPatterns: { document: "notes/{noteId}" },
          }) as unknown,
        }),
        expect.objectContaining({
          id: "us-central1-onItemCreated",
          eventTrigger: expect.objectContaining({
            eventType: "google.cloud.firestore.document.v1.created",
            eventFilterPathPatterns: { document: "lists/{listId}/items/{itemId}" },
          }) as unknown,
        }),
      ]),
    );
  });

  it("answers a POST to an unknown trigger key with 404 and the valid keys (<id>-<generation>)", async () => {
    const res = await fetch(
      `http://${functionsHost}/functions/projects/${PROJECT}/triggers/no-such-trigger`,
      {
        method: "POST",
        body: "",
      },
    );
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(text).toMatch(/^Function no-such-trigger does not exist, valid functions are: /);
    expect(text).toMatch(/\bus-central1-onNoteWritten-\d+\b/);
    expect(text).toMatch(/\bus-central1-onItemCreated-\d+\b/);
  });

  it("marks Firestore triggers ignored (Firestore not in --only) but keeps them loaded", () => {
    expect(emulatorOutput).toMatch(
      /functions\[us-central1-onNoteWritten\]: function ignored because the firestore emulator/,
    );
  });
});

describe("v2 Firestore triggers driven by the local Firestore", () => {
  it("onDocumentWritten sees correct before/after for create, update and delete", async () => {
    const seen = new Set<string>();
    const events = (what: string): Promise<DocumentData> =>
      nextEvent(what, "noteEvents", "params.noteId", "n1", seen);

    let t0 = Date.now();
    await db.doc("notes/n1").set({ text: "a" });
    const created = await events("the create event of notes/n1");
    timings.firstTriggerMs = Date.now() - t0;
    expect(created).toMatchObject({
      beforeExists: false,
      afterExists: true,
      beforeText: null,
      afterText: "a",
      eventType: "google.cloud.firestore.document.v1.written",
      document: "notes/n1",
      params: { noteId: "n1" },
    });
    expect(created.eventId).toEqual(expect.any(String));

    t0 = Date.now();
    await db.doc("notes/n1").update({ text: "b" });
    const updated = await events("the update event of notes/n1");
    timings.warmTriggerMs = Date.now() - t0;
    expect(updated).toMatchObject({ beforeExists: true, afterExists: true, beforeText: "a", afterText: "b" });

    await db.doc("notes/n1").delete();
    const deleted = await events("the delete event of notes/n1");
    expect(deleted).toMatchObject({
      beforeExists: true,
      afterExists: false,
      beforeText: "b",
      afterText: null,
    });

    await server?.triggersIdle();
    expect((await eventsWhere("noteEvents", "params.noteId", "n1")).size).toBe(3);
  });

  it("delivers one event per document per commit", async () => {
    const batch = db.batch();
    batch.set(db.doc("notes/n2"), { text: "x" });
    batch.update(db.doc("notes/n2"), { text: "y" });
    await batch.commit();
    const event = await nextEvent(
      "the batch event of notes/n2",
      "noteEvents",
      "params.noteId",
      "n2",
      new Set(),
    );
    expect(event).toMatchObject({ beforeExists: false, afterExists: true, beforeText: null, afterText: "y" });
    await server?.triggersIdle();
    expect((await eventsWhere("noteEvents", "params.noteId", "n2")).size).toBe(1);
  });

  it("onDocumentCreated on a nested pattern fires once, with both params", async () => {
    await db.doc("lists/l1/items/i1").set({ text: "milk" });
    const event = await nextEvent(
      "the create event of lists/l1/items/i1",
      "itemEvents",
      "params.itemId",
      "i1",
      new Set(),
    );
    expect(event).toMatchObject({
      text: "milk",
      eventType: "google.cloud.firestore.document.v1.created",
      document: "lists/l1/items/i1",
      params: { listId: "l1", itemId: "i1" },
    });
    expect(event.createTimeSeconds).toEqual(expect.any(Number));

    await db.doc("lists/l1/items/i1").update({ text: "oat milk" }); // an update: not a created event
    await server?.triggersIdle();
    expect((await eventsWhere("itemEvents", "params.itemId", "i1")).size).toBe(1);
  });

  it("writes that match no pattern fire nothing", async () => {
    await server?.triggersIdle();
    const before = server?.stats().triggers;
    const countAll = async (): Promise<number> =>
      (await db.collection("noteEvents").count().get()).data().count +
      (await db.collection("itemEvents").count().get()).data().count;
    const eventsBefore = await countAll();

    await db.doc("others/o1").set({ text: "a" }); // unrelated collection
    await db.doc("notesArchive/n1").set({ text: "a" }); // literal segment differs
    await db.doc("notes/n9/comments/c1").set({ text: "a" }); // deeper than notes/{noteId}
    await db.doc("lists/l9").set({ text: "a" }); // shallower than lists/{listId}/items/{itemId}
    await server?.triggersIdle();

    expect(server?.stats().triggers).toEqual(before);
    expect(await countAll()).toBe(eventsBefore);
  });

  it("keeps delivering after the hub disables and re-enables background triggers (new generation)", async () => {
    // What @firebase/rules-unit-testing's withFunctionTriggersDisabled does: the CLI answers 204 while
    // disabled, and on re-enable registers every trigger again under the next generation key.
    const hub = async (action: "disable" | "enable"): Promise<void> => {
      const res = await fetch(`http://${hubHost}/functions/${action}BackgroundTriggers`, { method: "PUT" });
      expect(res.status).toBe(200);
    };
    const seen = new Set<string>();
    await hub("disable");
    await db.doc("notes/n3").set({ text: "while disabled" });
    await server?.triggersIdle();
    expect((await eventsWhere("noteEvents", "params.noteId", "n3")).size).toBe(0);

    await hub("enable");
    await db.doc("notes/n3").update({ text: "after enable" });
    const event = await nextEvent(
      "the event of notes/n3 after re-enabling",
      "noteEvents",
      "params.noteId",
      "n3",
      seen,
    );
    expect(event).toMatchObject({ beforeText: "while disabled", afterText: "after enable" });

    const res = await fetch(
      `http://${functionsHost}/functions/projects/${PROJECT}/triggers/no-such-trigger`,
      {
        method: "POST",
        body: "",
      },
    );
    expect(await res.text()).toMatch(/\bus-central1-onNoteWritten-1\b/);
  }, 45_000);
});
