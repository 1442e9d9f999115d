/**
 * The local Firestore in its own process, driven over its emulator endpoints (`/emulator/v1/...`), as the official
 * Firestore emulator runs apart from the code under test. In production Firestore is a remote service and every
 * function instance has its own CPU; running the server in the benchmark's process instead made every variant pay
 * for the server's work on the same thread as its clients, backend and triggers.
 *
 * The benchmark's process holds the clients and the backend's webhook and callables; this child holds the database,
 * and another (./triggerProcess.ts) the backend's Firestore triggers.
 * Its CPU time is read from the server (`GET /emulator/v1/process`) and reported next to the benchmark's own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as http from "node:http";
import path from "node:path";
import type { FaultRule, Stats } from "@course-payments/local-firestore";
import { REPO_ROOT } from "./backend";

const CLI = path.join(REPO_ROOT, "tools/local-firestore/bin/local-firestore.js");
const READY = /local-firestore ready on (\S+)/;

export interface ServerProcessInfo {
  pid: number;
  cpuMicros: { user: number; system: number };
  rssBytes: number;
}

/** The operations the benchmark needs from the server, the same whether it runs here or in a child. */
export interface BenchFirestore {
  readonly address: string;
  clear(): Promise<void>;
  stats(): Promise<Stats>;
  resetStats(): Promise<void>;
  /** Seeds the fault generator and adds rules (none: only seeds). */
  injectFaults(seed: number, ...rules: FaultRule[]): Promise<void>;
  clearFaults(): Promise<void>;
  /** Waits until every trigger delivery queued so far is done; answers how many were queued meanwhile. */
  triggersIdle(): Promise<{ pending: number }>;
  /** CPU time the server's process has used so far (microseconds). */
  cpuMicros(): Promise<number>;
  close(): Promise<void>;
}

function request(address: string, method: string, urlPath: string, body?: unknown): Promise<unknown> {
  const [host, port] = address.split(":");
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: Number(port),
        method,
        path: urlPath,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 500) >= 300) {
            reject(new Error(`${method} ${urlPath}: HTTP ${res.statusCode ?? "?"} ${text}`));
            return;
          }
          try {
            resolve(text === "" ? undefined : JSON.parse(text));
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * Starts `local-firestore` (the built CLI) in a child process on a free port, with the repo's
 * `firestore.indexes.json` enforced as in production, delivering trigger events to `functionsEmulator`. Resolves
 * once it has announced its address.
 */
export async function startFirestoreProcess(options: {
  projectId: string;
  functionsEmulator: string;
}): Promise<BenchFirestore> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      "--port",
      "0",
      "--project",
      options.projectId,
      "--functions_emulator",
      options.functionsEmulator,
      "--indexes",
      path.join(REPO_ROOT, "firestore.indexes.json"),
      "--log",
      "silent",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const address = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    const onExit = (code: number | null): void => {
      reject(new Error(`local-firestore exited (${String(code)}) before it was ready:\n${stderr}`));
    };
    child.once("exit", onExit);
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
      const m = READY.exec(stdout);
      if (m?.[1] !== undefined) {
        child.off("exit", onExit);
        resolve(m[1]);
      }
    });
  });
  const call = (method: string, urlPath: string, body?: unknown) => request(address, method, urlPath, body);
  return {
    address,
    clear: async () => {
      await call("DELETE", `/emulator/v1/projects/${options.projectId}/databases/(default)/documents`);
    },
    stats: async () => (await call("GET", "/emulator/v1/stats")) as Stats,
    resetStats: async () => {
      await call("POST", "/emulator/v1/stats:reset");
    },
    injectFaults: async (seed, ...rules) => {
      await call("POST", "/emulator/v1/faults", { seed, rules });
    },
    clearFaults: async () => {
      await call("DELETE", "/emulator/v1/faults");
    },
    // The endpoint answers the delivery counters once idle: events a trigger's own write queued show as pending.
    triggersIdle: async () => (await call("POST", "/emulator/v1/triggers:idle")) as { pending: number },
    cpuMicros: async () => {
      const info = (await call("GET", "/emulator/v1/process")) as ServerProcessInfo;
      return info.cpuMicros.user + info.cpuMicros.system;
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => {
        child.once("exit", () => {
          resolve();
        });
      });
      child.kill("SIGTERM");
      await exited;
    },
  };
}
