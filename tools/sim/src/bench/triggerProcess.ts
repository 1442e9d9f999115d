/**
 * Variant (c)'s Firestore triggers in a child process (./triggerWorker.ts), driven over IPC: its address for the
 * local Firestore's trigger delivery, the gate that holds invocations during the clean phase, and its CPU time,
 * reported next to the benchmark's and the Firestore's.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";

const WORKER = path.join(__dirname, "triggerWorker.js");

/** What a phase needs of the trigger host: hold invocations (the clean phase's critical path), then let them run. */
export interface TriggerControl {
  hold(): Promise<void>;
  release(): Promise<void>;
  /** CPU time the trigger host's process has used so far (microseconds). */
  cpuMicros(): Promise<number>;
}

export interface TriggerProcess extends TriggerControl {
  /** `host:port`, the local Firestore's `functionsEmulator` option. */
  readonly address: string;
  /** The Firestore triggers it hosts (every one the built entry point exports). */
  readonly triggers: readonly string[];
  /** Where the triggers' firebase-admin connects (once the local Firestore has started; before any event). */
  useFirestore(address: string): Promise<void>;
  close(): Promise<void>;
}

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

interface Ready {
  ready: true;
  address: string;
  triggers: string[];
}

export async function startTriggerProcess(seed: number): Promise<TriggerProcess> {
  const child: ChildProcess = fork(WORKER, [String(seed)], {
    stdio: ["ignore", "inherit", "pipe", "ipc"],
    env: process.env,
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    const text = c.toString("utf8");
    stderr += text;
    if (process.env.BENCH_LOGS === "1") process.stderr.write(text);
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const ready = await new Promise<Ready>((resolve, reject) => {
    const onExit = (code: number | null): void => {
      reject(new Error(`trigger worker exited (${String(code)}) before it was ready:\n${stderr}`));
    };
    child.once("exit", onExit);
    child.on("message", (message: Ready | Reply) => {
      if ("ready" in message) {
        child.off("exit", onExit);
        resolve(message);
        return;
      }
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) waiter?.resolve(message.value);
      else waiter?.reject(new Error(`trigger worker: ${message.error ?? "failed"}`));
    });
  });
  child.on("exit", (code) => {
    for (const waiter of pending.values())
      waiter.reject(new Error(`trigger worker exited (${String(code)}):\n${stderr}`));
    pending.clear();
  });
  const call = (op: string, extra: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || !child.connected) {
        reject(new Error(`trigger worker is not running (${op})`));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, op, ...extra });
    });
  return {
    address: ready.address,
    triggers: ready.triggers,
    useFirestore: async (address) => {
      await call("firestore", { address });
    },
    hold: async () => {
      await call("hold");
    },
    release: async () => {
      await call("release");
    },
    cpuMicros: async () => Number(await call("cpu")),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => {
        child.once("exit", () => {
          resolve();
        });
      });
      await call("close").catch(() => {
        child.kill("SIGTERM");
      });
      await exited;
    },
  };
}
