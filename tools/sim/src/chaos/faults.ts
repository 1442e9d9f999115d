/**
 * The chaos run's fault profiles: the background fault rules injected into the local Firestore, and the short
 * outages every N-th task begins.
 */
import type { FaultRule } from "@course-payments/local-firestore";
import type { Rng } from "../shared/rng";
import type { Stack } from "../shared/stack";

export type FaultProfile = "default" | "none" | "heavy";

export function faultRules(profile: FaultProfile): FaultRule[] {
  if (profile === "none") return [];
  const k = profile === "heavy" ? 2.5 : 1;
  return [
    // Transient errors before the RPC does anything (the SDK or our callers retry).
    { method: "Commit", kind: "unavailable", probability: 0.02 * k },
    { method: "Commit", kind: "aborted", probability: 0.02 * k },
    { method: "BatchGetDocuments", kind: "unavailable", probability: 0.02 * k },
    { method: "BatchGetDocuments", kind: "deadline-exceeded", probability: 0.005 * k },
    { method: "RunQuery", kind: "unavailable", probability: 0.02 * k },
    // The commit is applied, then its reply is lost.
    { method: "Commit", kind: "reply-lost", probability: 0.04 * k },
    // Latency.
    { method: "Commit", kind: "latency", probability: 0.1, latencyMs: 8 },
    { method: "BatchGetDocuments", kind: "latency", probability: 0.1, latencyMs: 4 },
  ];
}

/**
 * Every N-th task of the payment and delivery phases begins a short outage: alternately the next 10–30 RPCs of
 * any kind fail with DEADLINE_EXCEEDED, or the next 5–15 commits are applied and their replies lost. Single
 * faults are absorbed by the SDK (gax re-sends on UNAVAILABLE, runTransaction reruns up to 5 times with 1 s+
 * backoff); runs of them slow handlers past the provider's and clients' timeouts (they redeliver / call again
 * while the first invocation still runs) or exhaust the retries (the webhook answers 5xx, callables an error).
 */
export function outageEvery(profile: FaultProfile): number {
  return profile === "none" ? 0 : profile === "heavy" ? 40 : 100;
}

/** Starts an outage on every N-th task of the profile (see outageEvery); counts them. */
export class Outages {
  count = 0;
  private tasks = 0;

  constructor(
    private readonly stack: Stack,
    private readonly profile: FaultProfile,
    private readonly rng: Rng,
  ) {}

  /** Called as each task of the payment and delivery phases starts. */
  maybeStart(): void {
    const every = outageEvery(this.profile);
    if (every === 0 || ++this.tasks % every !== 0) return;
    this.count++;
    // Alternately: every RPC fails for a while, or a run of commits is applied with their replies lost.
    this.stack.injectFaults(
      this.count % 2 === 1
        ? [{ method: "*", kind: "deadline-exceeded", times: this.rng.int(10, 30) }]
        : [{ method: "Commit", kind: "reply-lost", times: this.rng.int(5, 15) }],
    );
  }
}
