/**
 * Operations: JSON export/import (programmatic, HTTP and the CLI's --import / --export_on_exit),
 * clean shutdown on SIGTERM/SIGINT, one debug log line per request, and --indexes.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deleteApp, initializeApp, type App } from "firebase-admin/app";
import { getFirestore, Timestamp } from "firebase-admin/firestore";
import { start, type LocalFirestore } from "../src";

const dir = mkdtempSync(path.join(tmpdir(), "local-firestore-ops-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function withAdmin<T>(
  address: string,
  fn: (db: FirebaseFirestore.Firestore) => Promise<T>,
): Promise<T> {
  process.env.FIRESTORE_EMULATOR_HOST = address;
  const app: App = initializeApp({ projectId: "demo-ops" }, `ops-${String(Math.random())}`);
  try {
    return await fn(getFirestore(app));
  } finally {
    await deleteApp(app);
  }
}

const sample = {
  n: 7,
  d: 1.5,
  s: "héllo",
  b: Buffer.from([0, 1, 254]),
  t: Timestamp.fromMillis(1_700_000_000_123),
  m: { nested: [1, "two", { three: true }] },
  nil: null,
};

describe("export and import", () => {
  let server: LocalFirestore;
  beforeAll(async () => {
    server = await start({ port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  it("round-trips every value type through a JSON file (programmatic API)", async () => {
    const file = path.join(dir, "api.json");
    await withAdmin(server.address, (db) => db.doc("things/a").set(sample));
    await server.exportTo(file);
    await server.clear();
    expect(server.stats().documents).toBe(0);
    await server.importFrom(file);
    const data = await withAdmin(server.address, async (db) => (await db.doc("things/a").get()).data());
    expect(data).toEqual(sample);
  });

  it("exports and imports over HTTP", async () => {
    const file = path.join(dir, "http.json");
    await withAdmin(server.address, (db) => db.doc("things/h").set({ v: 1 }));
    const post = (p: string): Promise<Response> =>
      fetch(`http://${server.address}${p}`, { method: "POST", body: JSON.stringify({ path: file }) });
    expect((await post("/emulator/v1/export")).status).toBe(200);
    await server.clear();
    expect((await post("/emulator/v1/import")).status).toBe(200);
    const v = await withAdmin(
      server.address,
      async (db) => (await db.doc("things/h").get()).get("v") as unknown,
    );
    expect(v).toBe(1);
  });
});

/** Runs the CLI until it prints its ready line; resolves with the process and its address. */
function runCli(
  args: string[],
): Promise<{ child: ReturnType<typeof spawn>; address: string; output: () => string }> {
  const bin = path.resolve(__dirname, "../bin/local-firestore.js");
  const child = spawn(process.execPath, [bin, "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`CLI not ready: ${out}`));
    }, 10_000);
    child.stdout.on("data", () => {
      const m = /ready on (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, address: m[1], output: () => out });
      }
    });
  });
}

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      resolve(code);
    }),
  );
}

describe("the local-firestore command", () => {
  it("imports at start, logs one line per request at debug level, exports on SIGTERM and exits 0", async () => {
    const seed = path.join(dir, "seed.json");
    const out = path.join(dir, "out.json");
    {
      const server = await start({ port: 0 });
      await withAdmin(server.address, (db) => db.doc("things/seeded").set({ from: "seed" }));
      await server.exportTo(seed);
      await server.close();
    }
    const cli = await runCli(["--import", seed, "--export_on_exit", out, "--log", "debug"]);
    const seeded = await withAdmin(cli.address, async (db) => {
      await db.doc("things/written").set({ by: "cli" });
      return (await db.doc("things/seeded").get()).get("from") as unknown;
    });
    expect(seeded).toBe("seed");
    expect(cli.output()).toMatch(/\[debug\] Commit ok/);
    expect(cli.output()).toMatch(/\[debug\] BatchGetDocuments ok/);
    const exited = exitOf(cli.child);
    cli.child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const names = (JSON.parse(readFileSync(out, "utf8")) as { documents: { name: string }[] }).documents
      .map((d) => d.name.split("/documents/")[1])
      .sort();
    expect(names).toEqual(["things/seeded", "things/written"]);
  });

  it("shuts down cleanly on SIGINT", async () => {
    const cli = await runCli(["--log", "silent"]);
    const exited = exitOf(cli.child);
    cli.child.kill("SIGINT");
    expect(await exited).toBe(0);
  });

  it("--indexes enforces a firestore.indexes.json: a query missing its index fails, a declared one runs", async () => {
    const file = path.join(dir, "firestore.indexes.json");
    writeFileSync(
      file,
      JSON.stringify({
        indexes: [
          {
            collectionGroup: "things",
            queryScope: "COLLECTION",
            fields: [
              { fieldPath: "a", order: "ASCENDING" },
              { fieldPath: "b", order: "ASCENDING" },
            ],
          },
        ],
      }),
    );
    const cli = await runCli(["--indexes", file, "--log", "silent"]);
    try {
      const outcomes = await withAdmin(cli.address, async (db) => {
        const declared = await db.collection("things").where("a", "==", 1).orderBy("b").get();
        const missing = await db
          .collection("things")
          .where("b", "==", 1)
          .orderBy("a")
          .get()
          .then(
            () => "ok",
            (err: unknown) => (err as { code?: unknown }).code,
          );
        return { declared: declared.size, missing };
      });
      expect(outcomes).toEqual({ declared: 0, missing: 9 });
    } finally {
      const exited = exitOf(cli.child);
      cli.child.kill("SIGTERM");
      await exited;
    }
  });

  it("refuses unknown options with usage and exit code 2", async () => {
    const bin = path.resolve(__dirname, "../bin/local-firestore.js");
    const child = spawn(process.execPath, [bin, "--bogus", "1"], { stdio: "ignore" });
    expect(await exitOf(child)).toBe(2);
  });
});
