/**
 * The benchmark's trigger host in a process of its own (started by ./triggerProcess.ts over IPC): the built
 * backend's Firestore triggers, each CloudEvent from the local Firestore delivered once. In production and in the
 * functions emulator a Firestore trigger runs in its own function instance or worker, not in the process that
 * answers the webhook, so its CPU is not the webhook's.
 *
 * Messages from the parent: `{ id, op }` with op `firestore` (`address`: where firebase-admin connects; before
 * any event arrives), `hold`/`release` (the gate of ./triggers.ts), `cpu` (this process's CPU time so far,
 * microseconds), `close`. Each is answered `{ id, ok: true, value? }` or `{ id, ok: false, error }`.
 */
import { configureEnvironment, loadBackend, silenceBackendLogs } from "./backend";
import { startTriggerHost, TriggerGate } from "./triggers";

interface Request {
  id: number;
  op: "firestore" | "hold" | "release" | "cpu" | "close";
  address?: string;
}

function send(message: unknown): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error("triggerWorker runs as a child with an IPC channel");
  silenceBackendLogs();
  const seed = Number(process.argv[2] ?? "42");
  configureEnvironment();
  const backend = loadBackend();
  const gate = new TriggerGate();
  const host = await startTriggerHost(backend.triggers, gate, seed);

  const handle = async (request: Request): Promise<unknown> => {
    switch (request.op) {
      case "firestore":
        // firebase-admin reads it on first use: no trigger has run yet.
        process.env.FIRESTORE_EMULATOR_HOST = request.address;
        return undefined;
      case "hold":
        gate.close();
        return undefined;
      case "release":
        gate.release();
        return undefined;
      case "cpu": {
        const cpu = process.cpuUsage();
        return cpu.user + cpu.system;
      }
      case "close":
        await host.close();
        await backend.deleteAllApps();
        setImmediate(() => process.exit(0));
        return undefined;
    }
  };
  process.on("message", (request: Request) => {
    handle(request).then(
      (value) => {
        send({ id: request.id, ok: true, value });
      },
      (error: unknown) => {
        send({ id: request.id, ok: false, error: String(error) });
      },
    );
  });
  // The parent went away: nothing else will close this process.
  process.on("disconnect", () => process.exit(0));
  send({ ready: true, address: host.address, triggers: host.triggerNames });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
