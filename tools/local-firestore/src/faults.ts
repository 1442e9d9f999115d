import { status } from "@grpc/grpc-js";
import { RpcError } from "./errors";

/**
 * Fault injection for tests, chaos runs and benchmarks.
 * - `unavailable` / `deadline-exceeded` / `aborted`: the RPC fails before it does anything.
 * - `reply-lost`: the RPC is carried out (a commit is applied), then the client is answered
 *   UNAVAILABLE as if the reply had been lost on the network. This is what breaks naive retries.
 * - `latency`: the RPC is delayed by `latencyMs` before it runs.
 */
export type FaultKind = "unavailable" | "deadline-exceeded" | "aborted" | "reply-lost" | "latency";

export interface FaultRule {
  /** gRPC method name (Commit, BatchGetDocuments, RunQuery, …) or "*" for every method. */
  method: string;
  kind: FaultKind;
  /** How many matching requests the rule affects before it is used up (default: unlimited). */
  times?: number;
  /** Chance in [0, 1] that a matching request is affected (default 1). Drawn from the seeded generator. */
  probability?: number;
  /** Only requests that touch a document whose name contains this string. */
  pathContains?: string;
  /** Delay for `latency` rules. */
  latencyMs?: number;
}

export interface FaultDecision {
  delayMs: number;
  /** Fail before running the RPC. */
  failBefore: RpcError | undefined;
  /** Run the RPC, then answer with this error instead of the reply. */
  failAfter: RpcError | undefined;
}

interface ActiveRule extends FaultRule {
  remaining: number;
}

/** Small seeded PRNG (mulberry32) so chaos runs replay exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KINDS: ReadonlySet<string> = new Set([
  "unavailable",
  "deadline-exceeded",
  "aborted",
  "reply-lost",
  "latency",
]);

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private random: () => number = mulberry32(1);
  private injectedCount = 0;

  /** Adds rules (validated). */
  inject(...rules: FaultRule[]): void {
    for (const r of rules) {
      if (typeof r.method !== "string" || r.method.length === 0) throw new Error("fault rule needs a method");
      if (!KINDS.has(r.kind)) throw new Error(`unknown fault kind: ${r.kind as string}`);
      if (r.probability !== undefined && !(r.probability >= 0 && r.probability <= 1)) {
        throw new Error("fault probability must be within [0, 1]");
      }
      if (r.kind === "latency" && !(typeof r.latencyMs === "number" && r.latencyMs >= 0)) {
        throw new Error("latency faults need latencyMs >= 0");
      }
      this.rules.push({ ...r, remaining: r.times ?? Number.POSITIVE_INFINITY });
    }
  }

  seed(seed: number): void {
    this.random = mulberry32(seed);
  }

  clear(): void {
    this.rules = [];
  }

  /** Number of faults injected since the last reset of the stats. */
  get injected(): number {
    return this.injectedCount;
  }

  resetCount(): void {
    this.injectedCount = 0;
  }

  list(): FaultRule[] {
    return this.rules.map(({ remaining, ...r }) => ({
      ...r,
      times: Number.isFinite(remaining) ? remaining : undefined,
    }));
  }

  decide(method: string, names: readonly string[]): FaultDecision {
    const decision: FaultDecision = { delayMs: 0, failBefore: undefined, failAfter: undefined };
    for (const rule of this.rules) {
      if (rule.remaining <= 0) continue;
      if (rule.method !== "*" && rule.method !== method) continue;
      const needle = rule.pathContains;
      if (needle !== undefined && !names.some((n) => n.includes(needle))) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      if (rule.kind === "latency") {
        rule.remaining--;
        decision.delayMs += rule.latencyMs ?? 0;
        continue;
      }
      if (decision.failBefore || decision.failAfter) continue;
      rule.remaining--;
      this.injectedCount++;
      const msg = `Injected fault (${rule.kind}) on ${method}`;
      switch (rule.kind) {
        case "unavailable":
          decision.failBefore = new RpcError(status.UNAVAILABLE, msg);
          break;
        case "deadline-exceeded":
          decision.failBefore = new RpcError(status.DEADLINE_EXCEEDED, msg);
          break;
        case "aborted":
          decision.failBefore = new RpcError(status.ABORTED, msg);
          break;
        case "reply-lost":
          decision.failAfter = new RpcError(
            status.UNAVAILABLE,
            `${msg}: the request was applied but its reply was lost`,
          );
          break;
      }
    }
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return decision;
  }
}
