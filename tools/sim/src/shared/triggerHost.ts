/**
 * An in-process stand-in for the two endpoints of the Cloud Functions emulator that Firestore trigger delivery
 * uses, so the local Firestore delivers its REAL per-commit CloudEvents (exact before/after of every write)
 * to the BUILT trigger functions in this process:
 *
 *   GET  /backends                                   the Firestore triggers found in the loaded entry point
 *   POST /functions/projects/{p}/triggers/{id}-{gen}  one binary-mode CloudEvent (ce-* headers, base64 protobuf
 *                                                    DocumentEventData body) → the function, decoded the way
 *                                                    the functions emulator runtime does it
 *
 * Cloud Functions delivers events at least once and, with `retry: true`, re-delivers after a failure. This
 * host does both on purpose: a failed invocation is retried with backoff (bounded), and a share of events is
 * delivered twice (concurrently or one after the other) to exercise the trigger's de-duplication. The HTTP
 * reply is sent only when all deliveries of the event are done, so `server.triggersIdle()` covers them.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { CloudEventFunctionLike } from "./backend";
import { Rng } from "./rng";

export interface TriggerHostOptions {
  /** Seeded stream for delivery decisions. */
  rng: Rng;
  /** Share of events delivered twice (0…1). */
  duplicateProbability: number;
  /** Attempts per delivery before giving up (a real retrying trigger would keep going for days). */
  maxAttempts?: number;
}

export interface TriggerHostStats {
  /** Distinct CloudEvents received from the local Firestore. */
  received: number;
  /** Function invocations, including duplicates and retries. */
  invocations: number;
  /** Events delivered a second time on purpose. */
  duplicated: number;
  /** Invocations that threw (and were retried). */
  failedInvocations: number;
  /** Deliveries abandoned after maxAttempts failures. */
  gaveUp: number;
}

interface RegisteredTrigger {
  id: string;
  name: string;
  fn: CloudEventFunctionLike;
}

const FIRESTORE_EVENT_PREFIX = "google.cloud.firestore.document.v1.";

/** The Firestore-triggered functions among a module's exports (onEnrollmentWritten, …). */
export function firestoreTriggers(
  functions: Record<string, unknown>,
): Record<string, CloudEventFunctionLike> {
  const out: Record<string, CloudEventFunctionLike> = {};
  for (const [name, value] of Object.entries(functions)) {
    const fn = value as CloudEventFunctionLike;
    if (
      typeof value === "function" &&
      fn.__endpoint?.eventTrigger?.eventType.startsWith(FIRESTORE_EVENT_PREFIX)
    )
      out[name] = fn;
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class TriggerHost {
  readonly stats: TriggerHostStats = zeroStats();
  /** First few invocation errors (message only), for the report. */
  readonly errors: string[] = [];
  private rng: Rng;
  /** Share of events delivered twice (0…1). */
  duplicateProbability: number;
  private server: http.Server | undefined;
  private addressValue = "";
  private readonly triggers: RegisteredTrigger[];
  private readonly maxAttempts: number;

  constructor(functions: Record<string, unknown>, options: TriggerHostOptions) {
    this.maxAttempts = options.maxAttempts ?? 25;
    this.rng = options.rng;
    this.duplicateProbability = options.duplicateProbability;
    this.triggers = [];
    for (const [name, fn] of Object.entries(firestoreTriggers(functions))) {
      const region = fn.__endpoint?.region?.[0] ?? "us-central1";
      this.triggers.push({ id: `${region}-${name}`, name, fn });
    }
  }

  /** Zeroes the stats and errors and installs a new delivery-decision stream (between runs). */
  reset(rng: Rng): void {
    Object.assign(this.stats, zeroStats());
    this.errors.length = 0;
    this.rng = rng;
  }

  /** `host:port`, the local Firestore's `functionsEmulator` option. */
  get address(): string {
    return this.addressValue;
  }

  get triggerNames(): string[] {
    return this.triggers.map((t) => t.name);
  }

  async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(error));
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address() as AddressInfo;
    this.addressValue = `127.0.0.1:${addr.port}`;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    if (req.method === "GET" && url === "/backends") {
      const functionTriggers = this.triggers.map((t) => ({
        id: t.id,
        entryPoint: t.name,
        eventTrigger: t.fn.__endpoint?.eventTrigger,
      }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ backends: [{ functionTriggers }] }));
      return;
    }
    const match = /^\/functions\/projects\/[^/]+\/triggers\/([^/?]+)/.exec(url);
    const body = await readBody(req);
    const key = match?.[1] ?? "";
    const trigger = this.triggers.find((t) => key === `${t.id}-0` || new RegExp(`^${t.id}-\\d+$`).test(key));
    if (req.method !== "POST" || trigger === undefined) {
      const valid = this.triggers.map((t) => `${t.id}-0`).join(", ");
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(`Function ${key} does not exist, valid functions are: ${valid}`);
      return;
    }
    // Binary-mode CloudEvent → the event object the functions emulator runtime builds: every ce-* header as an
    // attribute, the base64-decoded protobuf payload as `data` (firebase-functions decodes it into snapshots).
    const event: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith("ce-") && typeof value === "string") event[name.slice(3)] = value;
    }
    event.data = Buffer.from(body.toString("latin1"), "base64");
    this.stats.received++;
    await this.deliver(trigger, event);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "acknowledged" }));
  }

  private async deliver(trigger: RegisteredTrigger, event: Record<string, unknown>): Promise<void> {
    const rng = this.rng;
    if (!rng.chance(this.duplicateProbability)) {
      await this.invokeUntilDone(trigger, event);
      return;
    }
    this.stats.duplicated++;
    if (rng.chance(0.5)) {
      await Promise.all([this.invokeUntilDone(trigger, event), this.invokeUntilDone(trigger, event)]);
    } else {
      const gap = rng.int(0, 15);
      await this.invokeUntilDone(trigger, event);
      await sleep(gap);
      await this.invokeUntilDone(trigger, event);
    }
  }

  private async invokeUntilDone(trigger: RegisteredTrigger, event: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.stats.invocations++;
      try {
        await trigger.fn({ ...event });
        return;
      } catch (error) {
        this.stats.failedInvocations++;
        if (this.errors.length < 10) {
          this.errors.push(`${trigger.name}: ${error instanceof Error ? error.message : String(error)}`);
        }
        if (attempt >= this.maxAttempts) {
          this.stats.gaveUp++;
          return;
        }
        await sleep(Math.min(10 * 2 ** (attempt - 1), 500));
      }
    }
  }
}

function zeroStats(): TriggerHostStats {
  return { received: 0, invocations: 0, duplicated: 0, failedInvocations: 0, gaveUp: 0 };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}
