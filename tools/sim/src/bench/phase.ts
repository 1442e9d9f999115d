/**
 * One benchmark phase: fresh database, set-up (not measured), then the operations through a worker pool with
 * the Firestore counters reset and the faults on, then the database read back to count lost and doubled
 * payments.
 */
import { PhaseCounter, type ProgressSink } from "../shared/progress";
import type { Stats } from "@course-payments/local-firestore";
import type { BenchFirestore } from "./firestoreProcess";
import type { TriggerControl } from "./triggerProcess";
import { settleTriggers } from "./triggers";
import type { DuplicateResult, FirestoreCounts, OpsResult, PhaseResult, TriggerShare } from "./types";
import { percentile, round, runPool, shuffle } from "./util";
import type { Enrollment, Operation, OperationOutcome, Payment, Variant } from "./variants";

export interface PhaseSpec {
  scenario: string;
  enrollments: number;
  paymentsPerEnrollment: number;
  amount: number;
  concurrency: number;
  /** Deliveries per event (c); (a) and (b) always pay once and rely on their client retries. */
  copies: number;
  /** Commit reply-lost probability (0 = no faults). */
  replyLostProbability: number;
  seed: number;
  viaStartPayment?: boolean;
  /** Hold trigger deliveries until the operations have answered, to count the critical path and the trigger apart. */
  holdTriggers?: boolean;
  /** Where progress goes (operations done/total), when a terminal watches. */
  progress?: ProgressSink | undefined;
}

function counts(stats: Stats): FirestoreCounts {
  return {
    reads: stats.reads,
    writes: stats.writes + stats.deletes,
    rpcs: { ...stats.rpcs },
    rpcCount: Object.values(stats.rpcs).reduce((sum, n) => sum + n, 0),
    transactionsBegun: stats.transactionsBegun,
    transactionsCommitted: stats.transactionsCommitted,
    transactionsAborted: stats.transactionsAborted,
    faultsInjected: stats.faultsInjected,
  };
}

interface Tally {
  firstStart: (number | undefined)[];
  firstOk: (number | undefined)[];
  outcomes: Record<string, number>;
  failedAttempts: Record<string, number>;
  failed: number;
  retried: number;
}

async function runOperations(
  ops: readonly Operation[],
  payments: number,
  concurrency: number,
  progress?: PhaseCounter,
): Promise<Tally> {
  const tally: Tally = {
    firstStart: Array.from({ length: payments }, () => undefined),
    firstOk: Array.from({ length: payments }, () => undefined),
    outcomes: {},
    failedAttempts: {},
    failed: 0,
    retried: 0,
  };
  await runPool(ops, concurrency, async (op) => {
    const start = performance.now();
    tally.firstStart[op.payment] ??= start;
    let outcome: OperationOutcome;
    try {
      outcome = await op.run();
    } catch (error) {
      const label = error instanceof Error ? error.name : "thrown";
      outcome = { ok: false, attempts: 1, label, failedAttempts: [label] };
    }
    if (outcome.ok) tally.firstOk[op.payment] ??= performance.now();
    else tally.failed++;
    if (outcome.attempts > 1) tally.retried++;
    tally.outcomes[outcome.label] = (tally.outcomes[outcome.label] ?? 0) + 1;
    for (const f of outcome.failedAttempts) tally.failedAttempts[f] = (tally.failedAttempts[f] ?? 0) + 1;
    progress?.tick();
  });
  return tally;
}

/** `total − part`, method by method. */
function minus(total: FirestoreCounts, part: FirestoreCounts): FirestoreCounts {
  const rpcs: Record<string, number> = {};
  for (const [method, n] of Object.entries(total.rpcs)) {
    const d = n - (part.rpcs[method] ?? 0);
    if (d !== 0) rpcs[method] = d;
  }
  return {
    reads: total.reads - part.reads,
    writes: total.writes - part.writes,
    rpcs,
    rpcCount: total.rpcCount - part.rpcCount,
    transactionsBegun: total.transactionsBegun - part.transactionsBegun,
    transactionsCommitted: total.transactionsCommitted - part.transactionsCommitted,
    transactionsAborted: total.transactionsAborted - part.transactionsAborted,
    faultsInjected: total.faultsInjected - part.faultsInjected,
  };
}

const per = (n: number, applied: number): number => (applied === 0 ? Number.NaN : round(n / applied, 2));

/** A phase's result plus what it ran on, so that the clean phase can re-run the same operations. */
export interface PhaseRun {
  result: PhaseResult;
  enrollmentList: Enrollment[];
  paymentList: Payment[];
  ops: Operation[];
}

export async function runPhase(
  server: BenchFirestore,
  triggers: TriggerControl,
  variant: Variant,
  spec: PhaseSpec,
  random: () => number,
): Promise<PhaseRun> {
  await server.clearFaults();
  await server.clear();
  const enrollmentList: Enrollment[] = Array.from({ length: spec.enrollments }, (_, i) => ({
    uid: `bench-${variant.key}-${spec.scenario}-u${String(i).padStart(4, "0")}`,
    courseId: `bench-${spec.scenario}`,
    price: spec.paymentsPerEnrollment * spec.amount,
  }));
  const paymentList = await variant.setup(enrollmentList, { viaStartPayment: spec.viaStartPayment === true });
  const ops = shuffle(await variant.operations(paymentList, spec.copies), random);
  await settleTriggers(server); // the set-up's own trigger work is not measured

  await server.resetStats();
  if (spec.replyLostProbability > 0) {
    await server.injectFaults(spec.seed, {
      method: "Commit",
      kind: "reply-lost",
      probability: spec.replyLostProbability,
    });
  }
  if (spec.holdTriggers === true) await triggers.hold();
  const serverCpu0 = await server.cpuMicros();
  const triggerCpu0 = await triggers.cpuMicros();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const progress = new PhaseCounter(
    spec.progress,
    `(${variant.key}) ${spec.scenario}`,
    "operations",
    ops.length,
  );
  const tally = await runOperations(ops, paymentList.length, spec.concurrency, progress);
  const answeredMs = performance.now() - t0;
  const answered = counts(await server.stats());
  await triggers.release();
  await settleTriggers(server);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const serverCpuMicros = (await server.cpuMicros()) - serverCpu0;
  const triggerCpuMicros = (await triggers.cpuMicros()) - triggerCpu0;
  await server.clearFaults();
  const all = counts(await server.stats());
  const firestore = spec.holdTriggers === true ? answered : all;

  const applications = await variant.count(enrollmentList, paymentList);
  const applied = applications.perPayment.filter((n) => n > 0).length;
  const latencies = paymentList
    .map((_, i) => {
      const s = tally.firstStart[i];
      const e = tally.firstOk[i];
      return s === undefined || e === undefined ? undefined : e - s;
    })
    .filter((v): v is number => v !== undefined);
  const result: PhaseResult = {
    scenario: spec.scenario,
    enrollments: spec.enrollments,
    payments: paymentList.length,
    operations: ops.length,
    copies: spec.copies,
    concurrency: spec.concurrency,
    faults:
      spec.replyLostProbability > 0
        ? `Commit reply-lost p=${spec.replyLostProbability} seed=${spec.seed}`
        : "none",
    elapsedMs: round(elapsedMs),
    settleMs: round(elapsedMs - answeredMs),
    cpuMsPerApplied: {
      bench: per((cpu.user + cpu.system) / 1000, applied),
      triggers: per(triggerCpuMicros / 1000, applied),
      firestore: per(serverCpuMicros / 1000, applied),
    },
    applied,
    paymentsPerSecond: round((applied / elapsedMs) * 1000),
    latencyMs: {
      p50: round(percentile(latencies, 50)),
      p99: round(percentile(latencies, 99)),
      max: round(percentile(latencies, 100)),
    },
    lost: applications.perPayment.filter((n) => n === 0).length,
    doubled: applications.perPayment.reduce((s, n) => s + Math.max(0, n - 1), 0),
    inconsistencies: applications.inconsistencies.slice(0, 10),
    failedOperations: tally.failed,
    retriedOperations: tally.retried,
    outcomes: tally.outcomes,
    failedAttempts: tally.failedAttempts,
    firestore,
    rpcsPerApplied: per(firestore.rpcCount, applied),
    readsPerApplied: per(firestore.reads, applied),
    writesPerApplied: per(firestore.writes, applied),
    ...(spec.holdTriggers === true ? { trigger: triggerShare(minus(all, answered), applied) } : {}),
  };
  return { result, enrollmentList, paymentList, ops };
}

function triggerShare(firestore: FirestoreCounts, applied: number): TriggerShare {
  return {
    firestore,
    rpcsPerApplied: per(firestore.rpcCount, applied),
    readsPerApplied: per(firestore.reads, applied),
    writesPerApplied: per(firestore.writes, applied),
  };
}

/** Clean phase, then every operation once more: what a duplicate costs and whether it applies again. */
export async function runOpsPhase(
  server: BenchFirestore,
  triggers: TriggerControl,
  variant: Variant,
  spec: PhaseSpec,
  random: () => number,
): Promise<OpsResult> {
  const { result, enrollmentList, paymentList, ops } = await runPhase(
    server,
    triggers,
    variant,
    { ...spec, holdTriggers: true },
    random,
  );
  const before = await variant.count(enrollmentList, paymentList);
  await server.resetStats();
  const again = new PhaseCounter(
    spec.progress,
    `(${variant.key}) ${spec.scenario}`,
    "duplicates",
    ops.length,
  );
  await runOperations(ops, paymentList.length, spec.concurrency, again);
  await settleTriggers(server);
  const firestore = counts(await server.stats());
  const after = await variant.count(enrollmentList, paymentList);
  const total = (n: number[]) => n.reduce((s, x) => s + x, 0);
  const duplicate: DuplicateResult = {
    operations: ops.length,
    firestore,
    rpcsPerDuplicate: round(firestore.rpcCount / ops.length, 2),
    readsPerDuplicate: round(firestore.reads / ops.length, 2),
    writesPerDuplicate: round(firestore.writes / ops.length, 2),
    appliedAgain: total(after.perPayment) - total(before.perPayment),
  };
  return { ...result, duplicate };
}

/**
 * The run with the median payments/s (of an even count, the lower middle one), carrying every run's payments/s so
 * the report can show the spread.
 */
export function medianRun(results: readonly PhaseResult[]): PhaseResult {
  const sorted = [...results].sort((x, y) => x.paymentsPerSecond - y.paymentsPerSecond);
  const middle = sorted[Math.floor((sorted.length - 1) / 2)];
  if (middle === undefined) throw new Error("no runs to take the median of");
  return { ...middle, runsPaymentsPerSecond: results.map((r) => r.paymentsPerSecond) };
}
