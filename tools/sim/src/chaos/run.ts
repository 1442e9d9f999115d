/**
 * One chaos run: set up the world through the real callables, make the clients' startPayment calls, then
 * deliver the provider's events (each 1–3 times, shuffled, concurrently, redelivered after a 5xx like the
 * provider does) while clients keep calling — all with faults injected into the local Firestore. When
 * everything has settled, check the invariants against the model computed from the event set.
 */
import type { FaultRule } from "@course-payments/local-firestore";
import type { CallableLike, LocalPaymentView, StripeEventJson } from "../shared/backend";
import { callCallable, type CallResult, type Caller, type HttpReply } from "../shared/invoke";
import { WorkPool } from "../shared/pool";
import { Rng } from "../shared/rng";
import type { Stack } from "../shared/stack";
import { checkInvariants, type ReturnedCheckout } from "./check";
import { expectedWorld } from "./model";
import { enrollmentKey, generateScenario, type EventSpec, type PaymentRef, type Scenario } from "./scenario";

export interface RunOptions {
  seed: number;
  events: number;
  /** Concurrent webhook deliveries / client calls (default 16). */
  concurrency?: number;
  /** Fault profile: "default", "none" or "heavy". */
  faults?: FaultProfile;
  /** See ScenarioOptions.lookupOnlyEvents (default true). */
  lookupOnlyEvents?: boolean;
}

export type FaultProfile = "default" | "none" | "heavy";

export interface RunResult {
  seed: number;
  events: number;
  ok: boolean;
  /** All broken invariants, in the order found (the first one is reported). */
  violations: string[];
  /** Behaviour worth reporting that is not a broken invariant. */
  notes: string[];
  /** For a failed run: the events that mention the ids in the first violation, and what became of them. */
  explanation: string[];
  deliveries: number;
  redeliveries: number;
  /** Deliveries the provider stopped waiting for (then redelivered). */
  timeouts: number;
  /** Rounds of redeliveries, after all other deliveries, of events answered 503 payment-not-yet-known. */
  waitingRounds: number;
  faults: number;
  /** Outages begun (see outageEvery). */
  outages: number;
  faultsByKind: Record<string, number>;
  lost: number;
  doubled: number;
  deadLetters: number;
  outcomes: Record<string, number>;
  clientCalls: number;
  clientRetries: number;
  clientTimeouts: number;
  clientInternalErrors: number;
  triggers: {
    received: number;
    invocations: number;
    duplicated: number;
    failedInvocations: number;
    gaveUp: number;
  };
  counts: { enrollments: number; ledgerEntries: number; webhookEvents: number; checkouts: number };
  backendErrorLogs: number;
  /** The local Firestore's counters for the run. */
  firestore: {
    reads: number;
    writes: number;
    transactionsBegun: number;
    transactionsAborted: number;
    rpcs: number;
  };
  durationMs: number;
  phaseMs: Record<string, number>;
  buildWarning: string | undefined;
}

export const DEFAULT_CONCURRENCY = 16;
/** Share of trigger events the trigger host delivers twice. */
export const TRIGGER_DUPLICATE_PROBABILITY = 0.3;

/** Transient failures for which a client or the provider simply tries again. */
const RETRYABLE_CODES = new Set([
  "unavailable",
  "internal",
  "aborted",
  "deadline-exceeded",
  "resource-exhausted",
]);
const MAX_CLIENT_ATTEMPTS = 40;
const MAX_DELIVERY_ATTEMPTS = 15;
/**
 * Events answered 503 `payment-not-yet-known` (a refund or dispute that overtook its payment) are redelivered in
 * rounds once every other delivery is done — the provider keeps retrying them for 72 h. One still refused after
 * this many rounds was never accepted.
 */
const MAX_WAITING_ROUNDS = 10;
/** The provider's retry window (Stripe: 3 days), measured from the envelope's `created`. */
export const PROVIDER_RETRY_WINDOW_SECONDS = 72 * 3600;
/** How long the provider waits for the webhook's answer before it counts the delivery as failed (Stripe: ~20 s). */
const PROVIDER_TIMEOUT_MS = 1_500;
/** How long a client waits for a callable before it calls again with the same request. */
const CLIENT_TIMEOUT_MS = 1_500;
const ADMIN: Caller = { uid: "sim-admin", admin: true };

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The webhook's answer to an event whose payment it does not know yet (the provider retries it later). */
const isPaymentNotYetKnown = (reply: HttpReply): boolean =>
  reply.status === 503 &&
  typeof reply.body === "object" &&
  reply.body !== null &&
  (reply.body as { error?: unknown }).error === "payment-not-yet-known";

interface Counters {
  deliveries: number;
  redeliveries: number;
  /** Deliveries the provider stopped waiting for. */
  timeouts: number;
  clientCalls: number;
  clientRetries: number;
  clientTimeouts: number;
  clientInternalErrors: number;
  outcomes: Record<string, number>;
  /** Rounds of redeliveries of events waiting for their payment, after all other deliveries. */
  waitingRounds: number;
  /** Per event id: the webhook's answers, in order. */
  answers: Map<string, string[]>;
}

/** Runs one seed on `stack` (reset first, so runs are independent). */
export async function runChaos(stack: Stack, options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const phaseMs: Record<string, number> = {};
  let phaseStart = started;
  const phase = (name: string): void => {
    const now = Date.now();
    phaseMs[name] = now - phaseStart;
    phaseStart = now;
  };
  const scenario = generateScenario(options.seed, options.events, {
    lookupOnlyEvents: options.lookupOnlyEvents ?? true,
  });
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  // Separate seeded streams: the plan (who calls what, which copies, in which order) replays exactly; draws made
  // at moments that depend on timing (outage sizes, redelivery jitter) cannot shift it.
  const rng = Rng.derive(options.seed, "plan");
  const outageRng = Rng.derive(options.seed, "outages");
  const jitterRng = Rng.derive(options.seed, "jitter");
  const violations: string[] = [];
  const notes: string[] = [];
  const counters: Counters = {
    deliveries: 0,
    redeliveries: 0,
    timeouts: 0,
    clientCalls: 0,
    clientRetries: 0,
    clientTimeouts: 0,
    clientInternalErrors: 0,
    outcomes: {},
    waitingRounds: 0,
    answers: new Map(),
  };

  await stack.reset(options.seed, { triggerDuplicateProbability: TRIGGER_DUPLICATE_PROBABILITY });
  const profile = options.faults ?? "default";
  stack.injectFaults(faultRules(profile));
  let outages = 0;
  let tasksStarted = 0;
  /** Called as each task of phases 2 and 4 starts: every N-th task begins an outage. */
  const maybeOutage = (): void => {
    const every = outageEvery(profile);
    if (every === 0 || ++tasksStarted % every !== 0) return;
    outages++;
    // Alternately: every RPC fails for a while, or a run of commits is applied with their replies lost.
    stack.injectFaults(
      outages % 2 === 1
        ? [{ method: "*", kind: "deadline-exceeded", times: outageRng.int(10, 30) }]
        : [{ method: "Commit", kind: "reply-lost", times: outageRng.int(5, 15) }],
    );
  };
  // Client calls still running after the client gave up waiting (it retried meanwhile); awaited before checks.
  const background = new Set<Promise<void>>();
  const awaitBackground = async (): Promise<void> => {
    while (background.size > 0) await Promise.all([...background]);
  };
  const call = <T>(
    fn: CallableLike,
    caller: Caller,
    data: unknown,
    onLate?: (r: CallResult<T>) => void,
  ): Promise<CallResult<T>> =>
    callWithRetry<T>(fn, caller, data, {
      counters,
      notes,
      late: (p) => {
        const tracked = p.then((r) => onLate?.(r));
        background.add(tracked);
        void tracked.finally(() => background.delete(tracked));
      },
    });
  phase("start");

  // ---- 1. courses and enrollments, through the real callables ----
  await runAll(concurrency, scenario.courses, async (c) => {
    const r = await call(stack.functions.upsertCourse, ADMIN, c);
    if (!r.ok) violations.push(`upsertCourse ${c.courseId} failed: ${r.code} ${r.message}`);
  });
  await runAll(concurrency, scenario.enrollments, async (e) => {
    const copies = rng.chance(0.2) ? 2 : 1; // a double-clicked enroll button
    const results = await Promise.all(
      Array.from({ length: copies }, () =>
        call<{ paymentStatus?: string }>(
          stack.functions.enrollInCourse,
          { uid: e.uid },
          { courseId: e.courseId },
        ),
      ),
    );
    for (const r of results) {
      if (!r.ok) violations.push(`enrollInCourse ${e.uid}/${e.courseId} failed: ${r.code} ${r.message}`);
    }
  });
  for (const refused of scenario.refusedCalls) {
    const fn =
      refused.fn === "enrollInCourse" ? stack.functions.enrollInCourse : stack.functions.startPayment;
    const r = await call(fn, { uid: refused.uid }, refused.data);
    if (r.ok || r.code !== refused.expectedCode) {
      violations.push(
        `${refused.fn}(${JSON.stringify(refused.data)}) answered ${r.ok ? "ok" : r.code}, expected ${refused.expectedCode}`,
      );
    }
  }
  phase("setup");

  // ---- 2. clients start payments (some requests retried concurrently with the same requestId) ----
  const returned = new Map<string, ReturnedCheckout>();
  const planResults = new Map<number, ReturnedCheckout>();
  /** Every successful answer per (uid, requestId): same requestId ⇒ same checkout and payment, always. */
  const answersByRequest = new Map<string, Set<string>>();
  const remember = (requestId: string, r: ReturnedCheckout): void => {
    const known = returned.get(r.checkoutId);
    if (known !== undefined && known.paymentId !== r.paymentId) {
      violations.push(
        `checkout ${r.checkoutId} returned two payments: ${known.paymentId} and ${r.paymentId}`,
      );
    }
    returned.set(r.checkoutId, r);
    const key = `${r.uid}/${requestId}`;
    answersByRequest.set(key, (answersByRequest.get(key) ?? new Set()).add(`${r.checkoutId}/${r.paymentId}`));
  };
  const startPaymentAs = (
    uid: string,
    data: { courseId: string; requestId: string; amount?: number },
  ): Promise<CallResult<StartPaymentResult>> =>
    call<StartPaymentResult>(stack.functions.startPayment, { uid }, data, (late) => {
      if (late.ok) remember(data.requestId, { ...pick(late.value), uid, courseId: data.courseId });
    });
  await runAll(concurrency, scenario.checkoutPlans, async (plan) => {
    maybeOutage();
    const data = {
      courseId: plan.courseId,
      requestId: plan.requestId,
      ...(plan.amount === undefined ? {} : { amount: plan.amount }),
    };
    const results = await Promise.all(
      Array.from({ length: 1 + plan.concurrentRetries }, () => startPaymentAs(plan.uid, data)),
    );
    for (const r of results) {
      if (!r.ok) {
        violations.push(`startPayment ${plan.requestId} failed: ${r.code} ${r.message}`);
        return;
      }
      remember(plan.requestId, { ...pick(r.value), uid: plan.uid, courseId: plan.courseId });
    }
    const first = results[0];
    if (first?.ok === true) {
      planResults.set(plan.index, { ...pick(first.value), uid: plan.uid, courseId: plan.courseId });
    }
  });
  await awaitBackground();
  // Two tabs paying the remaining balance of one enrollment get one payment.
  const remainingByEnrollment = new Map<string, Set<string>>();
  for (const plan of scenario.checkoutPlans) {
    const r = planResults.get(plan.index);
    if (plan.amount !== undefined || r === undefined) continue;
    const key = enrollmentKey(plan.uid, plan.courseId);
    const set = remainingByEnrollment.get(key) ?? new Set<string>();
    set.add(r.paymentId);
    remainingByEnrollment.set(key, set);
  }
  for (const [key, set] of remainingByEnrollment) {
    if (set.size > 1) violations.push(`${key}: remaining-balance requests got ${set.size} provider payments`);
  }
  phase("startPayment");

  // ---- 3. the provider's events, built from the provider's own payment records ----
  const views = await loadProviderViews(stack, [...planResults.values()], violations);
  const built = buildEvents(stack, scenario, planResults, views);

  // ---- 4. deliver, 1–3 times each, shuffled, concurrently; clients keep calling meanwhile ----
  const pool = new WorkPool(concurrency);
  /** Events answered 503 `payment-not-yet-known`, redelivered in rounds after all other deliveries. */
  const waiting = new Map<string, BuiltEvent>();
  let waitingRounds = false;
  const redeliverLater = (event: BuiltEvent, attempt: number): void => {
    counters.redeliveries++;
    const delay = Math.min(20 * 2 ** (attempt - 1), 1_000) + jitterRng.int(0, 20);
    pool.addLater(delay, () => deliver(event, attempt + 1));
  };
  const deliver = async (event: BuiltEvent, attempt: number): Promise<void> => {
    counters.deliveries++;
    const pending = stack.postWebhook(event.rawBody);
    // Like the provider, stop waiting after a timeout and redeliver later; the first invocation keeps running.
    const first = await withTimeout(pending, PROVIDER_TIMEOUT_MS);
    if (first === TIMED_OUT) {
      counters.timeouts++;
      pool.track(pending.then((late) => record(event, late, "late ")));
      if (attempt < MAX_DELIVERY_ATTEMPTS) redeliverLater(event, attempt);
      else
        violations.push(
          `event ${event.id} (${event.label}) never acknowledged: ${attempt} deliveries timed out`,
        );
      return;
    }
    const reply = record(event, first, "");
    if (reply.status < 500) return; // 2xx: done; 4xx: already a violation
    if (isPaymentNotYetKnown(reply)) {
      // The provider retries it later (for 72 h): a few times now, then once everything else was delivered.
      if (!waitingRounds && attempt < MAX_DELIVERY_ATTEMPTS) redeliverLater(event, attempt);
      else waiting.set(event.id, event);
      return;
    }
    if (attempt < MAX_DELIVERY_ATTEMPTS) redeliverLater(event, attempt);
    else
      violations.push(
        `event ${event.id} (${event.label}) never acknowledged: ${attempt} deliveries answered 5xx`,
      );
  };
  /** Counts an answer (`late `: one the provider had stopped waiting for). */
  const record = (event: BuiltEvent, reply: HttpReply, prefix: string): HttpReply => {
    const body = reply.body as { outcome?: unknown; error?: unknown } | string | undefined;
    const outcome =
      typeof body === "object" && typeof body.outcome === "string"
        ? body.outcome
        : typeof body === "object" && typeof body.error === "string"
          ? body.error
          : reply.status >= 500 && typeof body !== "object"
            ? "unhandled-error"
            : String(reply.status);
    const key = `${prefix}${reply.status >= 200 && reply.status < 300 ? outcome : `${reply.status} ${outcome}`}`;
    counters.outcomes[key] = (counters.outcomes[key] ?? 0) + 1;
    counters.answers.set(event.id, [
      ...(counters.answers.get(event.id) ?? []),
      `${prefix}${reply.status} ${outcome}`,
    ]);
    if (reply.status >= 400 && reply.status < 500) {
      violations.push(
        `event ${event.id} (${event.label}) answered ${reply.status} ${JSON.stringify(reply.body)}`,
      );
    }
    return reply;
  };
  type Item = { kind: "event"; event: BuiltEvent; copies: number } | { kind: "call"; index: number };
  const items: Item[] = [];
  for (const event of built) {
    const copies = 1 + (rng.chance(0.4) ? 1 : 0) + (rng.chance(0.15) ? 1 : 0);
    if (copies > 1 && rng.chance(0.25))
      items.push({ kind: "event", event, copies }); // a concurrent burst
    else for (let i = 0; i < copies; i++) items.push({ kind: "event", event, copies: 1 });
  }
  scenario.lateCalls.forEach((_, index) => items.push({ kind: "call", index }));
  for (const item of rng.shuffle(items)) {
    pool.add(async () => {
      maybeOutage();
      if (item.kind === "event") {
        await Promise.all(Array.from({ length: item.copies }, () => deliver(item.event, 1)));
        return;
      }
      await lateCall(stack, scenario, item.index, { startPaymentAs, remember, call, violations });
    });
  }
  await pool.drain();
  // Events still waiting for their payment: redelivered in rounds (faults still on) until none is refused.
  waitingRounds = true;
  let rounds = 0;
  while (waiting.size > 0 && rounds < MAX_WAITING_ROUNDS) {
    rounds++;
    const batch = [...waiting.values()];
    waiting.clear();
    for (const event of batch) {
      counters.redeliveries++;
      pool.add(() => deliver(event, 1));
    }
    await pool.drain();
  }
  for (const event of waiting.values()) {
    violations.push(
      `event ${event.id} (${event.label}) never accepted: still answered 503 payment-not-yet-known after ` +
        `${rounds} rounds of redeliveries once every other event was delivered`,
    );
  }
  counters.waitingRounds = rounds;
  phase("deliveries");

  // ---- 5. settle: every trigger event delivered (with its duplicates and retries); faults off ----
  await awaitBackground();
  await stack.settle();
  stack.clearFaults();
  await stack.settle();
  phase("settle");

  // ---- 6. check ----
  const expected = expectedWorld({
    enrollments: scenario.enrollments.map((e) => {
      const course = scenario.courses.find((c) => c.courseId === e.courseId);
      return { ...e, price: course?.price ?? 0, currency: course?.currency ?? "usd" };
    }),
    checkoutPayments: new Map([...returned.values()].map((c) => [c.paymentId, c])),
    events: built.map((b) => b.json),
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  for (const [key, answers] of [...answersByRequest].sort(([a], [b]) => a.localeCompare(b))) {
    if (answers.size > 1)
      violations.push(
        `startPayment ${key} answered ${answers.size} different payments: ${[...answers].join(", ")}`,
      );
  }
  const checked = await checkInvariants({
    db: stack.db,
    expected,
    courses: scenario.courses,
    checkouts: returned,
  });
  violations.push(...checked.violations);
  const triggerStats = { ...stack.triggers.stats };
  if (triggerStats.gaveUp > 0) {
    violations.push(`${triggerStats.gaveUp} trigger deliveries abandoned after repeated failures`);
  }
  const serverTriggers = stack.server.stats().triggers;
  if (serverTriggers.failed > 0)
    violations.push(`${serverTriggers.failed} trigger events could not be delivered`);
  if (counters.clientInternalErrors > 0) {
    notes.push(`${counters.clientInternalErrors} callable answers were 'internal' (retried)`);
  }
  for (const e of stack.triggers.errors.slice(0, 3)) notes.push(`trigger invocation failed (retried): ${e}`);
  for (const e of stack.logs.firstErrors.slice(0, 3)) {
    const field = (name: string): string => {
      const v = e.fields[name];
      return typeof v === "string" || typeof v === "number" ? String(v) : "";
    };
    notes.push(
      `backend logged ERROR "${e.message.split("\n")[0] ?? ""}" ${field("fn") || field("type")} ` +
        `${field("errorName")}: ${field("errorMessage").slice(0, 160)}`,
    );
  }

  const explanation =
    violations.length > 0 ? await explain(stack, violations[0] ?? "", built, counters.answers) : [];
  phase("check");

  const faultsByKind = Object.fromEntries([...stack.faultCounts].sort(([a], [b]) => a.localeCompare(b)));
  return {
    seed: options.seed,
    events: built.length,
    ok: violations.length === 0,
    violations,
    notes,
    explanation,
    deliveries: counters.deliveries,
    redeliveries: counters.redeliveries,
    timeouts: counters.timeouts,
    waitingRounds: counters.waitingRounds,
    faults: stack.server.stats().faultsInjected,
    outages,
    faultsByKind,
    lost: checked.lost,
    doubled: checked.doubled,
    deadLetters: checked.counts.deadLetters,
    outcomes: counters.outcomes,
    clientCalls: counters.clientCalls,
    clientRetries: counters.clientRetries,
    clientTimeouts: counters.clientTimeouts,
    clientInternalErrors: counters.clientInternalErrors,
    triggers: triggerStats,
    counts: { ...checked.counts, checkouts: returned.size },
    backendErrorLogs: stack.logs.count("ERROR"),
    firestore: firestoreCounters(stack),
    durationMs: Date.now() - started,
    phaseMs,
    buildWarning: stack.buildWarning,
  };
}

function firestoreCounters(stack: Stack): RunResult["firestore"] {
  const s = stack.server.stats();
  return {
    reads: s.reads,
    writes: s.writes,
    transactionsBegun: s.transactionsBegun,
    transactionsAborted: s.transactionsAborted,
    rpcs: Object.values(s.rpcs).reduce((a, b) => a + b, 0),
  };
}

interface StartPaymentResult {
  checkoutId: string;
  paymentId: string;
  amount: number;
}

function pick(r: StartPaymentResult): Pick<ReturnedCheckout, "checkoutId" | "paymentId" | "amount"> {
  return { checkoutId: r.checkoutId, paymentId: r.paymentId, amount: r.amount };
}

interface CallContext<T> {
  counters: Counters;
  notes: string[];
  /** Takes a call the client stopped waiting for (it keeps running; its answer still counts). */
  late: (pending: Promise<CallResult<T>>) => void;
}

/**
 * A client: calls, and on a transient error or when no answer comes within CLIENT_TIMEOUT_MS calls again with
 * the same data (the same requestId), as an app would. A timed-out call keeps running in the background.
 */
async function callWithRetry<T>(
  fn: CallableLike,
  caller: Caller,
  data: unknown,
  ctx: CallContext<T>,
): Promise<CallResult<T>> {
  const { counters, notes } = ctx;
  let result: CallResult<T> | undefined;
  for (let attempt = 1; attempt <= MAX_CLIENT_ATTEMPTS; attempt++) {
    counters.clientCalls++;
    const pending = callCallable<T>(fn, caller, data);
    const answer = await withTimeout(pending, CLIENT_TIMEOUT_MS);
    if (answer === TIMED_OUT) {
      counters.clientTimeouts++;
      ctx.late(pending);
      continue;
    }
    result = answer;
    if (result.ok || !RETRYABLE_CODES.has(result.code)) return result;
    counters.clientRetries++;
    if (result.code === "internal") {
      counters.clientInternalErrors++;
      if (counters.clientInternalErrors === 1) notes.push(`first 'internal' answer: ${JSON.stringify(data)}`);
    }
    await sleep(Math.min(5 * 2 ** attempt, 300));
  }
  return (
    result ?? { ok: false, code: "client-timeout", message: `no answer in ${MAX_CLIENT_ATTEMPTS} attempts` }
  );
}

const TIMED_OUT = Symbol("timed out");

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => {
          resolve(TIMED_OUT);
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function runAll<T>(
  concurrency: number,
  items: readonly T[],
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const pool = new WorkPool(concurrency);
  for (const item of items) pool.add(() => fn(item));
  await pool.drain();
}

/** The events that mention the provider ids in `violation`, their answers, records and dead letters. */
async function explain(
  stack: Stack,
  violation: string,
  built: readonly BuiltEvent[],
  answers: ReadonlyMap<string, string[]>,
): Promise<string[]> {
  const ids = new Set(violation.match(/\b(?:pi|re|dp|ch|evt)_[A-Za-z0-9_]+/g) ?? []);
  const lines: string[] = [];
  for (const id of ids) {
    for (const e of built) {
      if (!e.rawBody.includes(`"${id}"`)) continue;
      const record = await readDoc(stack, `webhookEvents/${e.id}`);
      const dead = await readDoc(stack, `deadLetters/${e.id}`);
      const o = e.json.data.object;
      const refunds = (o.refunds as { data?: { id?: unknown; status?: unknown }[] } | undefined)?.data;
      lines.push(
        `${e.id} ${e.json.type} ${e.label} object=${String(o.id)} status=${String(o.status)}` +
          ` metadata=${JSON.stringify(o.metadata)}` +
          (refunds === undefined
            ? ""
            : ` refunds=${refunds.map((r) => `${String(r.id)}:${String(r.status)}`).join(",")}`) +
          ` answers=[${(answers.get(e.id) ?? []).join(", ")}] recorded=${String(record?.outcome)}` +
          (dead === undefined ? "" : ` deadLetter=${String(dead.reason)}`),
      );
    }
  }
  return lines;
}

/** Reads one document, retrying transient read failures (faults are on). */
async function readDoc(stack: Stack, path: string): Promise<Record<string, unknown> | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await stack.db.doc(path).get()).data();
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(20);
    }
  }
}

/** The provider's record of each startPayment payment (charge id, metadata), read like a provider would. */
async function loadProviderViews(
  stack: Stack,
  results: readonly ReturnedCheckout[],
  violations: string[],
): Promise<Map<string, LocalPaymentView>> {
  const views = new Map<string, LocalPaymentView>();
  const ids = [...new Set(results.map((r) => r.paymentId))];
  await runAll(16, ids, async (id) => {
    const d = await readDoc(stack, `localProvider/${id}`);
    if (d === undefined) {
      violations.push(`startPayment returned payment ${id}, which the provider does not have`);
      return;
    }
    views.set(id, {
      id,
      chargeId: String(d.chargeId),
      amount: Number(d.amount),
      currency: String(d.currency),
      metadata: d.metadata as Record<string, string>,
      refunds: [],
    });
  });
  return views;
}

export interface BuiltEvent {
  id: string;
  label: string;
  json: StripeEventJson;
  rawBody: string;
}

function buildEvents(
  stack: Stack,
  scenario: Scenario,
  planResults: ReadonlyMap<number, ReturnedCheckout>,
  views: ReadonlyMap<string, LocalPaymentView>,
): BuiltEvent[] {
  const ev = stack.localEvents;
  const viewOf = (pay: PaymentRef): LocalPaymentView | undefined => {
    if (pay.kind === "direct") return pay.view;
    const r = planResults.get(pay.plan);
    return r === undefined ? undefined : views.get(r.paymentId);
  };
  const out: BuiltEvent[] = [];
  for (const spec of scenario.events) {
    const json = buildOne(ev, spec, viewOf);
    if (json === undefined) continue; // its startPayment failed (already a violation)
    out.push({ id: json.id, label: labelOf(spec), json, rawBody: JSON.stringify(json) });
  }
  return out;
}

function buildOne(
  ev: Stack["localEvents"],
  spec: EventSpec,
  viewOf: (pay: PaymentRef) => LocalPaymentView | undefined,
): StripeEventJson | undefined {
  if (spec.kind === "raw") {
    return {
      id: spec.eventId,
      object: "event",
      api_version: "2025-01-01",
      created: Math.floor(Date.now() / 1000) - (spec.json.ageSeconds ?? 0),
      livemode: false,
      pending_webhooks: 1,
      type: spec.json.type,
      data: { object: spec.json.object },
    };
  }
  const view = viewOf(spec.pay);
  if (view === undefined) return undefined;
  switch (spec.kind) {
    case "succeeded":
      return ev.paymentSucceededEvent(view, spec.eventId);
    case "failed":
      return ev.paymentFailedEvent(view, spec.eventId);
    case "refunded":
      return spec.refunds === null
        ? ev.chargeRefundedEvent(view, spec.eventId, { refundList: false })
        : ev.chargeRefundedEvent({ ...view, refunds: spec.refunds }, spec.eventId);
    case "refund":
      return ev.refundEvent(view, spec.refund, spec.type, spec.eventId);
    case "dispute": {
      const json = ev.disputeEvent(view, spec.dispute, spec.type, spec.eventId);
      if (spec.withMetadata) {
        json.data.object.metadata = { uid: view.metadata.uid ?? "", courseId: view.metadata.courseId ?? "" };
      }
      return json;
    }
  }
}

function labelOf(spec: EventSpec): string {
  if (spec.kind === "raw") return spec.label;
  const source = spec.pay.kind;
  if (spec.kind === "dispute" || spec.kind === "refund") return `${spec.type} (${source})`;
  return `${spec.kind} (${source})`;
}

interface LateCallContext {
  startPaymentAs: (
    uid: string,
    data: { courseId: string; requestId: string; amount?: number },
  ) => Promise<CallResult<StartPaymentResult>>;
  remember: (requestId: string, r: ReturnedCheckout) => void;
  call: <T>(fn: CallableLike, caller: Caller, data: unknown) => Promise<CallResult<T>>;
  violations: string[];
}

async function lateCall(
  stack: Stack,
  scenario: Scenario,
  index: number,
  ctx: LateCallContext,
): Promise<void> {
  const { startPaymentAs, remember, call, violations } = ctx;
  const c = scenario.lateCalls[index];
  if (c === undefined) return;
  switch (c.kind) {
    case "startPaymentRetry": {
      // A retry of a request answered before (also one that joined another tab's checkout): must succeed, and
      // with the same payment (checked over all answers per requestId).
      const plan = scenario.checkoutPlans[c.plan];
      if (plan === undefined) return;
      const data = {
        courseId: plan.courseId,
        requestId: plan.requestId,
        ...(plan.amount === undefined ? {} : { amount: plan.amount }),
      };
      const r = await startPaymentAs(plan.uid, data);
      if (r.ok) remember(plan.requestId, { ...pick(r.value), uid: plan.uid, courseId: plan.courseId });
      else violations.push(`startPayment retry of ${plan.requestId} failed: ${r.code} ${r.message}`);
      return;
    }
    case "startPaymentNew": {
      const data = {
        courseId: c.courseId,
        requestId: c.requestId,
        ...(c.amount === undefined ? {} : { amount: c.amount }),
      };
      const r = await startPaymentAs(c.uid, data);
      if (r.ok) remember(c.requestId, { ...pick(r.value), uid: c.uid, courseId: c.courseId });
      else if (r.code !== "failed-precondition")
        violations.push(`startPayment ${c.requestId} failed: ${r.code} ${r.message}`);
      return;
    }
    case "enrollRetry": {
      const r = await call<{ created?: boolean }>(
        stack.functions.enrollInCourse,
        { uid: c.uid },
        { courseId: c.courseId },
      );
      if (!r.ok)
        violations.push(`enrollInCourse retry ${c.uid}/${c.courseId} failed: ${r.code} ${r.message}`);
      else if (r.value.created !== false)
        violations.push(`enrollInCourse retry ${c.uid}/${c.courseId} created it again`);
      return;
    }
  }
}
