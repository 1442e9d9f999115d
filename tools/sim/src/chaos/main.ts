/**
 * Chaos simulation CLI.
 *
 *   npm run chaos -- --seed 7 --events 500          one seed (from the repo root; builds tools/sim first)
 *   node tools/sim/lib/chaos/main.js --ci            the fixed CI seeds, side by side (npm test -w tools/sim)
 *   node tools/sim/lib/chaos/main.js --seeds 1-20 --events 300 --jobs 4
 *
 * Options: --seed N | --seeds A-B | --ci, --events M (default 300), --concurrency C (default 16),
 * --jobs J (seeds in J parallel processes; --ci: 3),
 * --faults default|none|heavy, --drop-deliveries P (a share of events never delivered, for provider reconciliation to
 * apply; --ci: 0.1), --verbose (details before each summary line), --logs (backend logs to stderr),
 * --no-lookup-only-events (leave out refund/dispute events whose enrollment can only be found through the
 * payment's ledger entry; see ScenarioOptions).
 *
 * Prints one summary line per seed:
 *   chaos seed=7 events=500 deliveries=1034 faults=212 lost=0 doubled=0 deadLetters=15 ok
 * and on a broken invariant the seed, the first broken invariant and how to replay; exits 1.
 */
import { spawn } from "node:child_process";
import { ProgressBoard, progressSink, type ProgressUpdate } from "../shared/progress";
import { startSimStack } from "../shared/stack";
import { DEFAULT_CONCURRENCY, runChaos, type FaultProfile, type RunResult } from "./run";

/** CI: fixed seeds, a few hundred events each, run side by side. */
export const CI_SEEDS = [1, 2, 3];
export const CI_EVENTS = 300;
/** CI also loses a tenth of the deliveries: provider reconciliation must restore every enrollment exactly. */
export const CI_DROP_DELIVERIES = 0.1;
const DEFAULT_EVENTS = 300;

interface Args {
  seeds: number[];
  events: number;
  concurrency: number;
  faults: FaultProfile;
  verbose: boolean;
  logs: boolean;
  lookupOnlyEvents: boolean;
  /** Seeds run in parallel child processes (one local Firestore each). */
  jobs: number;
  /** Share of events never delivered, for provider reconciliation to apply (--ci: 0.1). */
  dropDeliveries: number;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: chaos (--seed N | --seeds A-B | --ci) [--events M] [--concurrency C] ` +
      `[--jobs J] [--faults default|none|heavy] [--drop-deliveries P] [--verbose] [--logs] [--no-lookup-only-events]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seeds: [],
    events: DEFAULT_EVENTS,
    concurrency: DEFAULT_CONCURRENCY,
    faults: "default",
    verbose: false,
    logs: false,
    lookupOnlyEvents: true,
    jobs: 1,
    dropDeliveries: 0,
  };
  let jobsGiven = false;
  let dropGiven = false;
  let ci = false;
  const int = (value: string | undefined, name: string, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isSafeInteger(n) || n < min)
      usage(`${name} needs an integer ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const [flag, inline] = arg.includes("=") ? (arg.split("=", 2) as [string, string]) : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case "--seed":
        args.seeds.push(int(value(), "--seed", 0));
        break;
      case "--seeds": {
        const m = /^(\d+)-(\d+)$/.exec(value() ?? "");
        if (!m) usage("--seeds needs a range A-B");
        for (let s = Number(m[1]); s <= Number(m[2]); s++) args.seeds.push(s);
        break;
      }
      case "--events":
        args.events = int(value(), "--events", 20);
        break;
      case "--concurrency":
        args.concurrency = int(value(), "--concurrency", 1);
        break;
      case "--faults": {
        const v = value();
        if (v !== "default" && v !== "none" && v !== "heavy") usage("--faults is default, none or heavy");
        args.faults = v;
        break;
      }
      case "--ci":
        ci = true;
        break;
      case "--verbose":
        args.verbose = true;
        break;
      case "--logs":
        args.logs = true;
        break;
      case "--jobs":
        args.jobs = int(value(), "--jobs", 1);
        jobsGiven = true;
        break;
      case "--drop-deliveries": {
        const share = Number(value());
        if (!(share >= 0 && share < 1)) usage("--drop-deliveries needs a share in [0, 1)");
        args.dropDeliveries = share;
        dropGiven = true;
        break;
      }
      case "--no-lookup-only-events":
        args.lookupOnlyEvents = false;
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  if (ci) {
    args.seeds.push(...CI_SEEDS);
    if (!argv.some((a) => a.startsWith("--events"))) args.events = CI_EVENTS;
    if (!jobsGiven) args.jobs = CI_SEEDS.length;
    if (!dropGiven) args.dropDeliveries = CI_DROP_DELIVERIES;
  }
  if (args.seeds.length === 0) usage("give --seed N, --seeds A-B or --ci");
  return args;
}

/** The progress line on this terminal (nothing when stderr is not one). */
const board = new ProgressBoard();

function out(line: string): void {
  board.clear();
  process.stdout.write(`${line}\n`);
}

function summaryLine(r: RunResult): string {
  const head = `chaos seed=${r.seed} events=${r.events} deliveries=${r.deliveries} faults=${r.faults}`;
  const dropped = r.dropped > 0 ? ` dropped=${r.dropped} reconciled=${r.reconciled}` : "";
  return `${head}${dropped} lost=${r.lost} doubled=${r.doubled} deadLetters=${r.deadLetters} ${r.ok ? "ok" : "FAILED"}`;
}

function details(r: RunResult): string[] {
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
  const kv = (o: Record<string, number>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
  return [
    `  time ${s(r.durationMs)} (${kv(Object.fromEntries(Object.entries(r.phaseMs).map(([k, v]) => [k, v])))} ms); ` +
      `${Math.round((r.events / r.durationMs) * 1000)} events/s, ` +
      `${Math.round((r.deliveries / (r.phaseMs.deliveries ?? r.durationMs)) * 1000)} deliveries/s while delivering`,
    `  webhook answers: ${kv(r.outcomes)}; redeliveries: ${r.redeliveries} (timeouts: ${r.timeouts})`,
    `  faults injected: ${kv(r.faultsByKind)}; outages: ${r.outages}`,
    `  client calls: ${r.clientCalls} (retried after an error ${r.clientRetries} — 'internal' ${r.clientInternalErrors} —, ` +
      `after a timeout ${r.clientTimeouts})`,
    `  trigger events: received=${r.triggers.received} invocations=${r.triggers.invocations} ` +
      `duplicated=${r.triggers.duplicated} failed+retried=${r.triggers.failedInvocations} gaveUp=${r.triggers.gaveUp}`,
    `  local Firestore: ${kv(r.firestore)}`,
    `  read back: ${kv(r.counts)}; backend ERROR log entries: ${r.backendErrorLogs}`,
    ...r.notes.slice(0, 10).map((n) => `  note: ${n}`),
  ];
}

/** The flags of one seed's run (for a child process, and for the replay line). */
function seedArgs(args: Args, seed: number): string[] {
  return [
    "--seed",
    String(seed),
    "--events",
    String(args.events),
    ...(args.concurrency === DEFAULT_CONCURRENCY ? [] : ["--concurrency", String(args.concurrency)]),
    ...(args.faults === "default" ? [] : ["--faults", args.faults]),
    ...(args.lookupOnlyEvents ? [] : ["--no-lookup-only-events"]),
    ...(args.dropDeliveries === 0 ? [] : ["--drop-deliveries", String(args.dropDeliveries)]),
  ];
}

/** Runs each seed in its own child process, `jobs` at a time; prints their output in seed order. */
async function runParallel(args: Args): Promise<boolean> {
  const extra = [...(args.verbose ? ["--verbose"] : []), ...(args.logs ? ["--logs"] : [])];
  const outputs = new Map<number, { text: string; ok: boolean }>();
  let printed = 0;
  const flush = (): void => {
    for (;;) {
      const seed = args.seeds[printed];
      const done = seed === undefined ? undefined : outputs.get(printed);
      if (done === undefined) return;
      process.stdout.write(done.text);
      printed++;
    }
  };
  const runOne = (index: number): Promise<void> =>
    new Promise((resolve) => {
      const seed = args.seeds[index] ?? 0;
      // Progress comes over IPC (one line for all children); the seed's report over stdout, printed in order.
      const child = spawn(process.execPath, [__filename, ...seedArgs(args, seed), ...extra], {
        stdio: ["ignore", "pipe", "inherit", "ipc"],
        env: { ...process.env, PROGRESS_IPC: board.active ? "1" : "0" },
      });
      let text = "";
      child.stdout?.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      child.on("message", (message: { progress?: ProgressUpdate }) => {
        if (message.progress !== undefined) board.update(message.progress);
      });
      child.on("close", (code) => {
        board.remove(`seed ${seed}`);
        outputs.set(index, { text, ok: code === 0 });
        board.clear();
        flush();
        resolve();
      });
    });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < args.seeds.length) await runOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(args.jobs, args.seeds.length) }, worker));
  return [...outputs.values()].every((o) => o.ok);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.jobs > 1 && args.seeds.length > 1) {
    const started = Date.now();
    const ok = await runParallel(args);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    out(`chaos ${args.seeds.length} seeds (${args.jobs} at a time) in ${seconds}s: ${ok ? "ok" : "FAILED"}`);
    process.exitCode = ok ? 0 : 1;
    return;
  }
  const first = args.seeds[0] ?? 0;
  const stack = await startSimStack({ seed: first, showLogs: args.logs });
  if (stack.buildWarning !== undefined) process.stderr.write(`warning: ${stack.buildWarning}\n`);
  let failed = false;
  const started = Date.now();
  try {
    for (const seed of args.seeds) {
      const result = await runChaos(stack, {
        seed,
        events: args.events,
        concurrency: args.concurrency,
        faults: args.faults,
        lookupOnlyEvents: args.lookupOnlyEvents,
        progress: progressSink(board),
        dropDeliveries: args.dropDeliveries,
      });
      board.remove(`seed ${seed}`);
      if (args.verbose || !result.ok) for (const line of details(result)) out(line);
      out(summaryLine(result));
      if (!result.ok) {
        failed = true;
        out(`chaos seed=${seed} VIOLATION (1 of ${result.violations.length}): ${result.violations[0] ?? ""}`);
        for (const v of result.violations.slice(1, 10)) out(`  also: ${v}`);
        for (const line of result.explanation) out(`  event: ${line}`);
        out(`replay: npm run chaos -- ${seedArgs(args, seed).join(" ")}`);
      }
    }
  } finally {
    await stack.close();
  }
  if (args.seeds.length > 1) {
    out(
      `chaos ${args.seeds.length} seeds in ${((Date.now() - started) / 1000).toFixed(1)}s: ${failed ? "FAILED" : "ok"}`,
    );
  }
  process.exitCode = failed ? 1 : 0;
  board.clear();
  // A child of a parallel run: its IPC channel would keep it alive.
  if (process.connected) process.disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
