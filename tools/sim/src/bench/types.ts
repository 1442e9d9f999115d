/** The shape of `results/bench-latest.json`. */
import type { ColdLoadResult } from "./coldLoad";
import type { VariantKey } from "./variants";

export interface FirestoreCounts {
  reads: number;
  writes: number;
  /** RPCs by method, and their total. */
  rpcs: Record<string, number>;
  rpcCount: number;
  transactionsBegun: number;
  transactionsCommitted: number;
  transactionsAborted: number;
  faultsInjected: number;
}

export interface PhaseResult {
  scenario: string;
  enrollments: number;
  payments: number;
  /** Operations run: payments (a, b) or deliveries (c: each event `copies` times). */
  operations: number;
  copies: number;
  concurrency: number;
  faults: string;
  /** First operation started → last operation answered AND every trigger delivery done (the final state). */
  elapsedMs: number;
  /** Last operation answered → every trigger delivery done: how long the derived fields may trail the totals. */
  settleMs: number;
  /**
   * CPU time per applied payment: `bench` is this process (clients, the webhook and callables), `triggers` the
   * trigger host's process ((c)'s Firestore triggers), `firestore` the local Firestore's. On a loaded machine their
   * sum bounds the throughput.
   */
  cpuMsPerApplied: { bench: number; triggers: number; firestore: number };
  /** Payments whose amount is in amountPaid at least once. */
  applied: number;
  paymentsPerSecond: number;
  /** Every round's payments/s, in round order, when this result is the median of several rounds. */
  runsPaymentsPerSecond?: number[];
  /** Per payment: first attempt started → first success answered (client retries / redeliveries included). */
  latencyMs: { p50: number; p99: number; max: number };
  lost: number;
  /** Extra applications (a payment applied twice counts 1). */
  doubled: number;
  inconsistencies: string[];
  /** Operations whose final answer was not a success (after all retries). */
  failedOperations: number;
  /** Operations that needed more than one attempt. */
  retriedOperations: number;
  /** Final answer of each operation (c: the webhook's `outcome`; a, b: ok or the error code). */
  outcomes: Record<string, number>;
  /** Answers of attempts that were retried or given up on (c: http-500 …; a, b: error-14 …). */
  failedAttempts: Record<string, number>;
  /** The phase's operations; in the clean phase the webhook's own (critical path), the trigger's in `trigger`. */
  firestore: FirestoreCounts;
  rpcsPerApplied: number;
  readsPerApplied: number;
  writesPerApplied: number;
  /** Clean phase: what the trigger deliveries added after the operations had answered (held until then). */
  trigger?: TriggerShare;
}

export interface TriggerShare {
  firestore: FirestoreCounts;
  rpcsPerApplied: number;
  readsPerApplied: number;
  writesPerApplied: number;
}

export interface DuplicateResult {
  /** Operations re-run after every payment was applied: a redelivered event (c), a client re-send (a, b). */
  operations: number;
  firestore: FirestoreCounts;
  rpcsPerDuplicate: number;
  readsPerDuplicate: number;
  writesPerDuplicate: number;
  /** Payments applied once more by the duplicate. */
  appliedAgain: number;
}

export interface OpsResult extends PhaseResult {
  duplicate: DuplicateResult;
}

export interface VariantResult {
  key: VariantKey;
  label: string;
  /** Clean run (no faults, no contention, one delivery): operations per applied payment, then per duplicate. */
  ops: OpsResult;
  /** (c) only: the same for payments started through startPayment (the event carries a checkout id). */
  opsWithCheckout?: OpsResult;
  hot: PhaseResult;
  many: PhaseResult;
  /** (c) only: hot and many with every event delivered once (the main rows deliver each event twice). */
  once?: { hot: PhaseResult; many: PhaseResult };
}

export interface MachineInfo {
  cpus: number;
  model: string;
  node: string;
  platform: string;
  totalMemGiB: number;
  /** 1-minute load average when the run started and when it ended: other work on the machine skews the numbers. */
  loadAverage1m: { start: number; end: number };
  date: string;
}

export interface BenchResult {
  machine: MachineInfo;
  seed: number;
  config: Record<string, unknown>;
  variants: VariantResult[];
  coldLoad: ColdLoadResult;
  /** Backend log lines by severity (silenced during the run; BENCH_LOGS=1 prints them to stderr). */
  backendLogs: Record<string, number>;
  durationMs: number;
}
