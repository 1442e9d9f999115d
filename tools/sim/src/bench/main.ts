/**
 * `npm run bench`: the original app's two ways of applying a payment and this backend's, side by side, in one
 * run on one local Firestore, under the same injected lost-reply faults. Also the cold-load time of the
 * functions entry point against a minimal function module. Writes results/bench-latest.json and .svg and
 * prints markdown tables. A report, not a test: nothing here asserts on speed.
 *
 *   npm run bench -- [--seed N] [--repeat N] [--payments N] [--reply-lost P] [--out DIR] [--only a,b,c] [--no-cold-load]
 *
 * Results go to tools/sim/out/ (git-ignored) unless --out names a directory (relative to where you ran the
 * command); the committed tools/sim/results/bench-latest.* are updated only by `--out tools/sim/results`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BENCH_PROJECT, configureEnvironment, loadBackend, REPO_ROOT, silenceBackendLogs } from "./backend";
import { measureColdLoad } from "./coldLoad";
import { startFirestoreProcess } from "./firestoreProcess";
import { medianRun, runOpsPhase, runPhase, type PhaseSpec } from "./phase";
import { startTriggerProcess } from "./triggerProcess";
import { markdown, svg } from "./report";
import type { BenchResult, MachineInfo, PhaseResult, VariantResult } from "./types";
import { round, seededRandom } from "./util";
import { ProgressBoard, progressSink } from "../shared/progress";
import {
  batchedIncrement,
  CLIENT_RETRY,
  PROVIDER_RETRY,
  readModifyWrite,
  thisBackend,
  VARIANT_LABELS,
  type Variant,
  type VariantKey,
} from "./variants";

const AMOUNT_CENTS = 100;
const CONCURRENCY = 20;
/** Payments of the hot phase and enrollments of the many phase (`--payments`). */
const DEFAULT_PAYMENTS = 200;
const OPS_ENROLLMENTS = 50;
/** `--reply-lost P`: the Commit reply-lost probability of the hot and many phases. */
const DEFAULT_REPLY_LOST = 0.1;
const COLD_LOAD_RUNS = 7;
/** Rounds of the measured phases; each table row is the round with the median payments/s. */
const DEFAULT_REPEAT = 5;

const USAGE = `usage: npm run bench -- [--seed N] [--repeat N] [--payments N] [--reply-lost P] [--out DIR] [--only a,b,c] [--no-cold-load] [--help]
  --seed N    seed of the shuffles, jitter and injected faults (default 42)
  --repeat N  rounds of the measured phases (default ${DEFAULT_REPEAT}); each row is the median round
  --payments N  payments on the hot enrollment, and enrollments paying once in the many phase (default
              ${DEFAULT_PAYMENTS}); longer phases weigh the last retries' backoff less ((a) on one hot enrollment
              is slow: pair a large N with --only b,c)
  --out DIR   where bench-latest.json and bench-latest.svg go (default tools/sim/out/, git-ignored;
              relative to the directory you ran the command in). The README's committed figures are
              tools/sim/results/: --out tools/sim/results
  --reply-lost P  probability that a Commit is applied and its reply lost, in the hot and many phases
              (default ${DEFAULT_REPLY_LOST}; 0 = no faults)
  --only a,b,c  run only these variants (a partial run, e.g. to profile one)
  --no-cold-load  measure the cold load once instead of 7 times
  BENCH_LOGS=1 shows the backend's logs on stderr. Takes 30–90 s; a report, it asserts nothing.`;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The directory the user typed the command in (npm runs scripts from the package root, and says so). */
const invokedFrom = process.env.INIT_CWD ?? process.cwd();

/** The operations of the phase running, on a terminal (see shared/progress); silent elsewhere. */
const board = new ProgressBoard();

function progress(message: string): void {
  board.clear();
  process.stderr.write(`[bench] ${message}\n`);
}

function machine(loadAtStart: number): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    model: cpus[0]?.model.trim() ?? "unknown",
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    totalMemGiB: round(os.totalmem() / 1024 ** 3, 1),
    loadAverage1m: { start: round(loadAtStart, 2), end: round(os.loadavg()[0] ?? 0, 2) },
    date: new Date().toISOString(),
  };
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const began = performance.now();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const seed = Number(argValue("--seed") ?? "42");
  if (!Number.isInteger(seed)) throw new Error("--seed must be an integer");
  const repeat = Number(argValue("--repeat") ?? String(DEFAULT_REPEAT));
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error("--repeat must be a positive integer");
  const payments = Number(argValue("--payments") ?? String(DEFAULT_PAYMENTS));
  if (!Number.isInteger(payments) || payments < 1) throw new Error("--payments must be a positive integer");
  const replyLost = Number(argValue("--reply-lost") ?? String(DEFAULT_REPLY_LOST));
  if (!(replyLost >= 0 && replyLost < 1)) throw new Error("--reply-lost must be a probability in [0, 1)");
  const out = argValue("--out");
  const outDir = out === undefined ? path.join(REPO_ROOT, "tools/sim/out") : path.resolve(invokedFrom, out);

  progress(`cold load: ${COLD_LOAD_RUNS} fresh processes per module`);
  const coldLoad = measureColdLoad(process.argv.includes("--no-cold-load") ? 1 : COLD_LOAD_RUNS);

  const logs = silenceBackendLogs();
  configureEnvironment();
  const backend = loadBackend();
  const triggerHost = await startTriggerProcess(seed);
  const server = await startFirestoreProcess({
    projectId: BENCH_PROJECT,
    functionsEmulator: triggerHost.address,
  });
  process.env.FIRESTORE_EMULATOR_HOST = server.address;
  await triggerHost.useFirestore(server.address);

  const factories: Record<VariantKey, (random: () => number) => Variant> = {
    a: (random) => readModifyWrite(backend, random, AMOUNT_CENTS),
    b: (random) => batchedIncrement(backend, random, AMOUNT_CENTS),
    c: (random) => thisBackend(backend, random, AMOUNT_CENTS),
  };
  const base = { amount: AMOUNT_CENTS, concurrency: CONCURRENCY, seed, progress: progressSink(board) };
  const specs = {
    ops: {
      ...base,
      scenario: "ops",
      enrollments: OPS_ENROLLMENTS,
      paymentsPerEnrollment: 1,
      copies: 1,
      replyLostProbability: 0,
    },
    hot: {
      ...base,
      scenario: "hot",
      enrollments: 1,
      paymentsPerEnrollment: payments,
      replyLostProbability: replyLost,
    },
    many: {
      ...base,
      scenario: "many",
      enrollments: payments,
      paymentsPerEnrollment: 1,
      replyLostProbability: replyLost,
    },
  } satisfies Record<string, Omit<PhaseSpec, "copies"> & { copies?: number }>;

  const variants: VariantResult[] = [];
  try {
    // `--only c` (or `--only b,c`): a partial run, for profiling; the README's tables come from full runs.
    const only = argValue("--only")?.split(",");
    const keys = (["a", "b", "c"] as const).filter((k) => only?.includes(k) ?? true);
    // Every phase gets the same seeded generator (shuffles, jitter) and the same fault seed.
    const fresh = (key: VariantKey): Variant => factories[key](seededRandom(seed));
    const copiesOf = (key: VariantKey): number => (key === "c" ? 2 : 1);
    const phase = async (key: VariantKey, spec: PhaseSpec): Promise<PhaseResult> =>
      (await runPhase(server, triggerHost, fresh(key), spec, seededRandom(seed))).result;

    const clean = new Map<VariantKey, Pick<VariantResult, "ops" | "opsWithCheckout">>();
    for (const key of keys) {
      progress(`${VARIANT_LABELS[key]}: clean run + duplicates`);
      const ops = await runOpsPhase(server, triggerHost, fresh(key), specs.ops, seededRandom(seed));
      const opsWithCheckout =
        key === "c"
          ? await runOpsPhase(
              server,
              triggerHost,
              fresh(key),
              { ...specs.ops, scenario: "ops-checkout", viaStartPayment: true },
              seededRandom(seed),
            )
          : undefined;
      clean.set(key, { ops, ...(opsWithCheckout === undefined ? {} : { opsWithCheckout }) });
    }
    // Unmeasured warm-up: each variant's code through the JIT once, so no variant is timed while it compiles.
    for (const key of keys) {
      progress(`${VARIANT_LABELS[key]}: warm-up (not measured)`);
      await phase(key, { ...specs.many, copies: copiesOf(key) });
    }
    // The measured phases, variants interleaved within each round, so a slow spell of the machine falls on all.
    const runs = new Map<string, PhaseResult[]>();
    const record = (name: string, result: PhaseResult): void => {
      runs.set(name, [...(runs.get(name) ?? []), result]);
    };
    for (let round = 1; round <= repeat; round++) {
      for (const key of keys) {
        const copies = copiesOf(key);
        progress(`${VARIANT_LABELS[key]}: round ${round} of ${repeat}, one hot enrollment`);
        record(`${key}/hot`, await phase(key, { ...specs.hot, copies }));
        progress(`${VARIANT_LABELS[key]}: round ${round} of ${repeat}, many enrollments`);
        record(`${key}/many`, await phase(key, { ...specs.many, copies }));
        // (c) once more with each event delivered once, like (a) and (b) pay once: what redelivery costs apart.
        if (key === "c") {
          progress(`${VARIANT_LABELS[key]}: round ${round} of ${repeat}, each event delivered once`);
          record(`${key}/once-hot`, await phase(key, { ...specs.hot, copies: 1 }));
          record(`${key}/once-many`, await phase(key, { ...specs.many, copies: 1 }));
        }
      }
    }
    const median = (name: string): PhaseResult => medianRun(runs.get(name) ?? []);
    for (const key of keys) {
      variants.push({
        key,
        label: VARIANT_LABELS[key],
        ...(clean.get(key) as Pick<VariantResult, "ops" | "opsWithCheckout">),
        hot: median(`${key}/hot`),
        many: median(`${key}/many`),
        ...(key === "c" ? { once: { hot: median("c/once-hot"), many: median("c/once-many") } } : {}),
      });
    }
  } finally {
    await server.clearFaults().catch(() => undefined);
    await backend.deleteAllApps();
    await server.close();
    await triggerHost.close();
  }

  const result: BenchResult = {
    machine: machine(loadAtStart),
    seed,
    config: {
      amountCents: AMOUNT_CENTS,
      concurrency: CONCURRENCY,
      hot: { enrollments: 1, payments },
      many: { enrollments: payments, paymentsPerEnrollment: 1 },
      clean: { enrollments: OPS_ENROLLMENTS, paymentsPerEnrollment: 1, faults: "none" },
      faults: { method: "Commit", kind: "reply-lost", probability: replyLost, seed },
      deliveriesPerEventC: 2,
      rounds: repeat,
      firestore:
        "local Firestore in its own process, (c)'s Firestore triggers in another (the benchmark's process holds the clients, the webhook and the callables)",
      triggersC: `every Firestore trigger of the backend (${triggerHost.triggers.join(", ")}), each event delivered once by the local Firestore, included in (c)'s time`,
      clientRetry: { ...CLIENT_RETRY, jitter: "±20%", retryOn: "gRPC 4, 8, 10, 13, 14" },
      providerRetry: { ...PROVIDER_RETRY, jitter: "±20%", retryOn: "any non-2xx" },
    },
    variants,
    coldLoad,
    backendLogs: logs,
    durationMs: round(performance.now() - began),
  };

  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "bench-latest.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(outDir, "bench-latest.svg"), svg(result));
  board.clear();
  process.stdout.write(`${markdown(result)}\n\n`);
  process.stdout.write(
    `Wrote ${path.relative(invokedFrom, path.join(outDir, "bench-latest.json"))} and bench-latest.svg\n`,
  );
}

main().then(
  () => {
    // firebase-admin's gRPC channels may keep the event loop alive for a while after deleteApp.
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
