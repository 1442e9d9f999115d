/**
 * The access matrix (support/matrix.ts) through the Firebase web SDK in headless Chromium: the same
 * cells as matrix.test.ts, but each request is made by `firebase/firestore`'s browser build, which
 * speaks WebChannel (Listen and Write channels) to the emulator instead of gRPC. Each cell gets a
 * fresh app signed in as its role (the SDK's emulator `mockUserToken`, as rules-unit-testing uses),
 * and the database is seeded and read back from Node, exactly as in the Node runner.
 */
import { openSdkPage, type SdkSession, type SdkWindow } from "@course-payments/browser-tests";
import type { DocumentData } from "firebase/firestore";

import {
  createTestEnvironment,
  emulatorFromEnv,
  EnvironmentHolder,
  PROJECT_ID,
  ROLE_AUTH,
  type EmulatorAddress,
  type Role,
} from "./support/env";
import { PATHS } from "./support/fixtures";
import { CELLS, runCell, type CellClient, type ListQuery } from "./support/matrix";

// Fails the whole file, loudly, when no emulator is configured.
const emulator = emulatorFromEnv();

type BrowserRequest =
  | { op: "get"; path: string }
  | { op: "list"; list: ListQuery }
  | { op: "create" | "update"; path: string; data: DocumentData }
  | { op: "delete"; path: string };

type BrowserReply = { ok: true; value: unknown } | { ok: false; code: string; message: string };

interface BrowserCall {
  request: BrowserRequest;
  auth: (typeof ROLE_AUTH)[Role];
  appName: string;
  projectId: string;
  emulator: EmulatorAddress;
  timeoutMs: number;
}

/** Runs in the page: one request through a fresh web SDK app, answered as plain JSON. */
async function callInBrowser(call: BrowserCall): Promise<BrowserReply> {
  const { app: appSdk, firestore: fs } = (globalThis as unknown as SdkWindow).sdk;
  const app = appSdk.initializeApp({ projectId: call.projectId, apiKey: "fake-api-key" }, call.appName);
  const db = fs.getFirestore(app);
  fs.connectFirestoreEmulator(
    db,
    call.emulator.host,
    call.emulator.port,
    call.auth === null ? {} : { mockUserToken: { user_id: call.auth.uid, ...call.auth.claims } },
  );
  const run = async (request: BrowserRequest): Promise<unknown> => {
    switch (request.op) {
      case "get":
        return JSON.parse(JSON.stringify((await fs.getDoc(fs.doc(db, request.path))).data() ?? null));
      case "list": {
        const ref = fs.collection(db, request.list.path);
        const q = request.list.where === undefined ? ref : fs.query(ref, fs.where(...request.list.where));
        return (await fs.getDocs(q)).docs.map((d) => d.ref.path);
      }
      case "create":
        return fs.setDoc(fs.doc(db, request.path), request.data);
      case "update":
        return fs.updateDoc(fs.doc(db, request.path), request.data);
      case "delete":
        return fs.deleteDoc(fs.doc(db, request.path));
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(Object.assign(new Error(`no answer within ${call.timeoutMs} ms`), { code: "timeout" }));
      }, call.timeoutMs);
    });
    return { ok: true, value: (await Promise.race([run(call.request), timeout])) ?? null };
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return { ok: false, code: String(code), message: String(message) };
  } finally {
    clearTimeout(timer);
    await fs.terminate(db);
    await appSdk.deleteApp(app);
  }
}

let session: SdkSession | undefined;
let calls = 0;

async function callAs(role: Role, request: BrowserRequest, timeoutMs = 10_000): Promise<unknown> {
  if (session === undefined) throw new Error("Chromium did not start (see the beforeAll error above).");
  const call: BrowserCall = {
    request,
    auth: ROLE_AUTH[role],
    appName: `cell-${++calls}`,
    projectId: PROJECT_ID,
    emulator,
    timeoutMs,
  };
  const reply = await session.page.evaluate(callInBrowser, call);
  if (!reply.ok) throw Object.assign(new Error(`${reply.code}: ${reply.message}`), { code: reply.code });
  return reply.value;
}

/** The CellClient whose requests the web SDK in Chromium makes, as `role`. */
function browserClient(role: Role): CellClient {
  return {
    get: async (path) => {
      const value = await callAs(role, { op: "get", path });
      return value === null ? undefined : value;
    },
    list: async (list) => (await callAs(role, { op: "list", list })) as string[],
    create: async (path, data) => {
      await callAs(role, { op: "create", path, data });
    },
    update: async (path, data) => {
      await callAs(role, { op: "update", path, data });
    },
    delete: async (path) => {
      await callAs(role, { op: "delete", path });
    },
  };
}

const holder = new EnvironmentHolder();
/** Set when the web SDK cannot reach the emulator at all: every cell then fails at once with it. */
let transportError: Error | undefined;

beforeAll(async () => {
  holder.set(await createTestEnvironment(emulator));
  session = await openSdkPage();
  // One allowed read first: if the emulator does not speak the web SDK's transport, say so once instead
  // of letting every cell wait for its timeout.
  try {
    await callAs("anonymous", { op: "get", path: PATHS.publishedCourse }, 5_000);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "unavailable" || code === "timeout") {
      transportError = new Error(
        `the web SDK in Chromium cannot talk to the emulator at ${emulator.host}:${emulator.port} ` +
          `(WebChannel): ${String(error)}\n${session.log.slice(-20).join("\n")}`,
      );
    }
  }
}, 60_000);

beforeEach(async () => {
  await holder.get().clearFirestore();
});

afterAll(async () => {
  await session?.close();
  await holder.cleanup();
});

describe("access matrix through the web SDK in Chromium (WebChannel)", () => {
  test.each(CELLS)("$name", async (cell) => {
    if (transportError !== undefined) throw transportError;
    await runCell(holder.get(), browserClient(cell.role), cell);
  });
});
