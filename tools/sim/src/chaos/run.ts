/**
 * One chaos run: set up the world through the real callables, make the clients' startPayment calls, then
 * deliver the provider's events (each 1–3 times, shuffled, concurrently, redelivered after a 5xx like the
 * provider does) while clients keep calling — all with faults injected into the local Firestore. When
 * everything has settled, check the invariants against the model computed from the event set.
 */
import {
  heldPaymentRecord,
  reconcileProviderEvents,
  runInstallmentDeadlines,
  sweepParkedEvents,
  type CallableLike,
  type LocalPaymentView,
  type StripeEventJson,
} from "../shared/backend";
import { callCallable, type CallResult, type Caller, type HttpReply } from "../shared/invoke";
import { WorkPool } from "../shared/pool";
import { PhaseCounter, type ProgressSink } from "../shared/progress";
import { Rng } from "../shared/rng";
import type { QuerySnapLike, Stack } from "../shared/stack";
import { checkInvariants, type ReturnedCheckout } from "./check";
import { buildEvents, loadProviderViews, type BuiltEvent } from "./events";
import { faultRules, Outages, type FaultProfile } from "./faults";
import { expectedWorld } from "./model";
import {
  DEADLINE_CLOCK_DAYS,
  FINAL_DEADLINES_PASSED,
  enrollmentKey,
  generateScenario,
  gradeAnswers,
  planAmounts,
  type Scenario,
} from "./scenario";
import { num, readDoc, sleep, str, TIMED_OUT, withTimeout, runAll, setDoc, updateDoc } from "./util";

export type { FaultProfile };
export { faultRules, outageEvery } from "./faults";

export interface RunOptions {
  seed: number;
  events: number;
  /** Concurrent webhook deliveries / client calls (default 16). */
  concurrency?: number;
  /** Fault profile: "default", "none" or "heavy". */
  faults?: FaultProfile;
  /** See ScenarioOptions.lookupOnlyEvents (default true). */
  lookupOnlyEvents?: boolean;
  /** Where progress goes (phase, done/total), when someone watches. */
  progress?: ProgressSink | undefined;
  /**
   * Share of events whose every delivery is lost (the provider holds them; the webhook never sees them): provider
   * reconciliation must apply them, also while some of them are delivered late (default 0).
   */
  dropDeliveries?: number | undefined;
}

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
  faults: number;
  /** Outages begun (see outageEvery). */
  outages: number;
  faultsByKind: Record<string, number>;
  lost: number;
  doubled: number;
  deadLetters: number;
  /** Events never delivered (provider reconciliation's to apply), and the applications reconciliation made. */
  dropped: number;
  reconciled: number;
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
  counts: {
    enrollments: number;
    ledgerEntries: number;
    webhookEvents: number;
    checkouts: number;
    canceledCheckouts: number;
    refundReversals: number;
    disputeReinstatements: number;
  };
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
/** How long the provider waits for the webhook's answer before it counts the delivery as failed (Stripe: ~20 s). */
const PROVIDER_TIMEOUT_MS = 1_500;
/** How long a client waits for a callable before it calls again with the same request. */
const CLIENT_TIMEOUT_MS = 1_500;
const ADMIN: Caller = { uid: "sim-admin", admin: true };

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
  /** Per event id: the webhook's answers, in order. */
  answers: Map<string, string[]>;
}

/** Everything the phases of one run share. */
interface RunContext {
  stack: Stack;
  scenario: Scenario;
  concurrency: number;
  /** The plan's stream (who calls what, which copies, in which order): replays exactly for a seed. */
  rng: Rng;
  /** Draws at moments that depend on timing (redelivery jitter), kept apart so they cannot shift the plan. */
  jitterRng: Rng;
  outages: Outages;
  violations: string[];
  notes: string[];
  counters: Counters;
  /** Client calls still running after the client gave up waiting (it retried meanwhile); awaited before checks. */
  background: Set<Promise<void>>;
  /** Every checkout startPayment returned, by checkout id. */
  returned: Map<string, ReturnedCheckout>;
  /** The provider's record of each startPayment payment, by payment id (filled before the events are built). */
  providerViews: Map<string, LocalPaymentView>;
  /** Payments the provider holds that were made outside startPayment. */
  directPaymentIds: Set<string>;
  /** The first answer of each checkout plan. */
  planResults: Map<number, ReturnedCheckout>;
  /** Every successful answer per (uid, requestId): same requestId ⇒ same checkout and payment, always. */
  answersByRequest: Map<string, Set<string>>;
  phaseMs: Record<string, number>;
  /** Counts the items of the phase running (see shared/progress). */
  counter: (phase: string, total: number) => PhaseCounter;
  seed: number;
  /** Events provider reconciliation applied (all runs), and how many of them its last run still found. */
  reconciled: { dropped: number; applied: number; lastRunApplied: number };
  /** Every answer to a quiz attempt, by uid/requestId: graded (score, attemptId) or refused (code). */
  quizAnswers: Map<string, QuizAnswer[]>;
}

type QuizAnswer = { ok: true; score: number; attemptId: string } | { ok: false; code: string };

/** Runs one seed on `stack` (reset first, so runs are independent). */
export async function runChaos(stack: Stack, options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const ctx = await createContext(stack, options);
  await runPhase(ctx, "setup", () => setUpWorld(ctx));
  await runPhase(ctx, "startPayment", () => startPayments(ctx));
  const { built, dropped } = await runPhase(ctx, "deliveries", () =>
    deliverEvents(ctx, options.dropDeliveries ?? 0),
  );
  await runPhase(ctx, "parked", () => checkParkedAfterDeliveries(ctx));
  await runPhase(ctx, "reconcile", () => reconcileDropped(ctx, dropped));
  await runPhase(ctx, "settle", () => settle(ctx));
  const checked = await runPhase(ctx, "check", () => check(ctx, built));
  return result(ctx, options, built, checked, Date.now() - started);
}

/** Times one phase (its duration goes to `phaseMs`). */
async function runPhase<T>(ctx: RunContext, name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const value = await fn();
  ctx.phaseMs[name] = Date.now() - start;
  return value;
}

/** The scenario, the seeded streams, and the stack reset with the profile's faults on. */
async function createContext(stack: Stack, options: RunOptions): Promise<RunContext> {
  const started = Date.now();
  const scenario = generateScenario(options.seed, options.events, {
    lookupOnlyEvents: options.lookupOnlyEvents ?? true,
  });
  await stack.reset(options.seed, { triggerDuplicateProbability: TRIGGER_DUPLICATE_PROBABILITY });
  const profile = options.faults ?? "default";
  stack.injectFaults(faultRules(profile));
  return {
    stack,
    scenario,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    rng: Rng.derive(options.seed, "plan"),
    jitterRng: Rng.derive(options.seed, "jitter"),
    outages: new Outages(stack, profile, Rng.derive(options.seed, "outages")),
    violations: [],
    notes: [],
    counters: {
      deliveries: 0,
      redeliveries: 0,
      timeouts: 0,
      clientCalls: 0,
      clientRetries: 0,
      clientTimeouts: 0,
      clientInternalErrors: 0,
      outcomes: {},
      answers: new Map(),
    },
    background: new Set(),
    returned: new Map(),
    providerViews: new Map(),
    directPaymentIds: new Set(),
    planResults: new Map(),
    answersByRequest: new Map(),
    phaseMs: { start: Date.now() - started },
    counter: (phase, total) => new PhaseCounter(options.progress, `seed ${options.seed}`, phase, total),
    quizAnswers: new Map(),
    seed: options.seed,
    reconciled: { dropped: 0, applied: 0, lastRunApplied: 0 },
  };
}

/** A client's call: retried on transient errors and timeouts; a late answer is handed to `onLate`. */
function call<T>(
  ctx: RunContext,
  fn: CallableLike,
  caller: Caller,
  data: unknown,
  onLate?: (r: CallResult<T>) => void,
): Promise<CallResult<T>> {
  return callWithRetry<T>(fn, caller, data, {
    counters: ctx.counters,
    notes: ctx.notes,
    late: (p) => {
      const tracked = p.then((r) => onLate?.(r));
      ctx.background.add(tracked);
      void tracked.finally(() => ctx.background.delete(tracked));
    },
  });
}

async function awaitBackground(ctx: RunContext): Promise<void> {
  while (ctx.background.size > 0) await Promise.all([...ctx.background]);
}

/** Records a startPayment answer; two payments for one checkout is a violation. */
function remember(ctx: RunContext, requestId: string, r: ReturnedCheckout): void {
  const known = ctx.returned.get(r.checkoutId);
  if (known !== undefined && known.paymentId !== r.paymentId) {
    ctx.violations.push(
      `checkout ${r.checkoutId} returned two payments: ${known.paymentId} and ${r.paymentId}`,
    );
  }
  ctx.returned.set(r.checkoutId, r);
  const key = `${r.uid}/${requestId}`;
  ctx.answersByRequest.set(
    key,
    (ctx.answersByRequest.get(key) ?? new Set()).add(`${r.checkoutId}/${r.paymentId}`),
  );
}

function startPaymentAs(
  ctx: RunContext,
  uid: string,
  data: { courseId: string; requestId: string; amount?: number },
): Promise<CallResult<StartPaymentResult>> {
  return call<StartPaymentResult>(ctx, ctx.stack.functions.startPayment, { uid }, data, (late) => {
    if (late.ok) remember(ctx, data.requestId, { ...pick(late.value), uid, courseId: data.courseId });
  });
}

/** Phase 1: courses and enrollments through the real callables, and the calls that must be refused. */
async function setUpWorld(ctx: RunContext): Promise<void> {
  const { stack, scenario, violations } = ctx;
  await runAll(ctx.concurrency, scenario.courses, async (c) => {
    const r = await call(ctx, stack.functions.upsertCourse, ADMIN, c);
    if (!r.ok) violations.push(`upsertCourse ${c.courseId} failed: ${r.code} ${r.message}`);
  });
  await runAll(ctx.concurrency, scenario.quizzes, async (quiz) => {
    const r = await call(ctx, stack.functions.upsertQuiz, ADMIN, quiz);
    if (!r.ok) violations.push(`upsertQuiz ${quiz.quizId} failed: ${r.code} ${r.message}`);
  });
  const progress = ctx.counter("setup", scenario.enrollments.length);
  await runAll(ctx.concurrency, scenario.enrollments, async (e) => {
    const copies = ctx.rng.chance(0.2) ? 2 : 1; // a double-clicked enroll button
    const results = await Promise.all(
      Array.from({ length: copies }, () =>
        call<{ paymentStatus?: string }>(
          ctx,
          stack.functions.enrollInCourse,
          { uid: e.uid },
          { courseId: e.courseId, ...(e.planId === undefined ? {} : { planId: e.planId }) },
        ),
      ),
    );
    for (const r of results) {
      if (!r.ok) violations.push(`enrollInCourse ${e.uid}/${e.courseId} failed: ${r.code} ${r.message}`);
    }
    progress.tick();
  });
  for (const refused of scenario.refusedCalls) {
    const fn =
      refused.fn === "enrollInCourse" ? stack.functions.enrollInCourse : stack.functions.startPayment;
    const r = await call(ctx, fn, { uid: refused.uid }, refused.data);
    if (r.ok || r.code !== refused.expectedCode) {
      violations.push(
        `${refused.fn}(${JSON.stringify(refused.data)}) answered ${r.ok ? "ok" : r.code}, expected ${refused.expectedCode}`,
      );
    }
  }
}

/** Phase 2: clients start payments (some requests retried concurrently with the same requestId). */
async function startPayments(ctx: RunContext): Promise<void> {
  const { scenario, violations } = ctx;
  const progress = ctx.counter("startPayment", scenario.checkoutPlans.length);
  await runAll(ctx.concurrency, scenario.checkoutPlans, async (plan) => {
    progress.tick();
    ctx.outages.maybeStart();
    const data = {
      courseId: plan.courseId,
      requestId: plan.requestId,
      ...(plan.amount === undefined ? {} : { amount: plan.amount }),
    };
    const results = await Promise.all(
      Array.from({ length: 1 + plan.concurrentRetries }, () => startPaymentAs(ctx, plan.uid, data)),
    );
    for (const r of results) {
      if (!r.ok) {
        violations.push(`startPayment ${plan.requestId} failed: ${r.code} ${r.message}`);
        return;
      }
      remember(ctx, plan.requestId, { ...pick(r.value), uid: plan.uid, courseId: plan.courseId });
    }
    const first = results[0];
    if (first?.ok === true) {
      ctx.planResults.set(plan.index, { ...pick(first.value), uid: plan.uid, courseId: plan.courseId });
    }
  });
  await awaitBackground(ctx);
  // Two tabs paying the remaining balance of one enrollment get one payment.
  const remainingByEnrollment = new Map<string, Set<string>>();
  for (const plan of scenario.checkoutPlans) {
    const r = ctx.planResults.get(plan.index);
    if (plan.amount !== undefined || r === undefined) continue;
    const key = enrollmentKey(plan.uid, plan.courseId);
    remainingByEnrollment.set(key, (remainingByEnrollment.get(key) ?? new Set<string>()).add(r.paymentId));
  }
  for (const [key, set] of remainingByEnrollment) {
    if (set.size > 1) violations.push(`${key}: remaining-balance requests got ${set.size} provider payments`);
  }
}

/** Delivery state of phase 3: the pool, and the events answered 503 `payment-not-yet-known`. */
interface Deliveries {
  pool: WorkPool;
}

/**
 * Phase 3: the provider's events, built from its own payment records, delivered 1–3 times each, shuffled and
 * concurrently, while clients keep calling. Events that overtake their payment are parked by the backend and
 * applied by its ledger-entry trigger (the trigger host runs it), not redelivered.
 */
async function deliverEvents(
  ctx: RunContext,
  dropShare: number,
): Promise<{ built: BuiltEvent[]; dropped: BuiltEvent[] }> {
  const { stack, scenario } = ctx;
  const { views, canceled } = await loadProviderViews(stack, [...ctx.planResults.values()], ctx.violations);
  const built = buildEvents(stack, scenario, ctx.planResults, views, canceled);
  // The provider holds the payments made outside startPayment too (the backend asks it whose an early refund is).
  for (const view of directPayments(scenario)) {
    ctx.directPaymentIds.add(view.id);
    views.set(view.id, view);
  }
  await runAll(16, [...ctx.directPaymentIds], (id) => registerDirectPayment(ctx, views.get(id)));
  ctx.providerViews = views;
  await markProviderStatuses(ctx, built, views);
  await recordProviderEvents(ctx, built);
  const state: Deliveries = { pool: new WorkPool(ctx.concurrency) };
  type Item = { kind: "event"; event: BuiltEvent; copies: number } | { kind: "call"; index: number };
  const items: Item[] = [];
  // Its own stream, so that a run without drops draws exactly as before.
  const dropRng = Rng.derive(ctx.seed, "drop");
  const dropped = dropShare > 0 ? built.filter(() => dropRng.chance(dropShare)) : [];
  const lost = new Set(dropped);
  ctx.reconciled.dropped = dropped.length;
  for (const event of built) {
    if (lost.has(event)) continue;
    const copies = 1 + (ctx.rng.chance(0.4) ? 1 : 0) + (ctx.rng.chance(0.15) ? 1 : 0);
    if (copies > 1 && ctx.rng.chance(0.25))
      items.push({ kind: "event", event, copies }); // a concurrent burst
    else for (let i = 0; i < copies; i++) items.push({ kind: "event", event, copies: 1 });
  }
  scenario.lateCalls.forEach((_, index) => items.push({ kind: "call", index }));
  const progress = ctx.counter("deliveries", items.length);
  for (const item of ctx.rng.shuffle(items)) {
    state.pool.add(async () => {
      progress.tick();
      ctx.outages.maybeStart();
      if (item.kind === "event") {
        await Promise.all(Array.from({ length: item.copies }, () => deliver(ctx, state, item.event, 1)));
        return;
      }
      await lateCall(stack, scenario, item.index, {
        startPaymentAs: (uid, data) => startPaymentAs(ctx, uid, data),
        remember: (requestId, r) => {
          remember(ctx, requestId, r);
        },
        call: (fn, caller, data, onLate) => call(ctx, fn, caller, data, onLate),
        violations: ctx.violations,
        notes: ctx.notes,
        quizAnswers: ctx.quizAnswers,
      });
    });
  }
  await state.pool.drain();
  return { built, dropped };
}

/**
 * The provider holds every event it sends (Stripe's events API; the local provider's `sentEvents`), whether or not
 * a delivery arrives: provider reconciliation lists them from there.
 */
async function recordProviderEvents(ctx: RunContext, built: readonly BuiltEvent[]): Promise<void> {
  await runAll(16, built, (e) =>
    setDoc(ctx.stack, `localProvider/sentEvents/events/${e.id}`, {
      type: e.json.type,
      json: e.rawBody,
      sentAt: new Date(e.json.created * 1000),
    }),
  );
}

/**
 * Every event the provider holds: the ones the run built and sent, and the ones the backend's own provider calls
 * made (recorded by the local provider as it sends them). Reconciliation applies all of them, so the model's event
 * set is this one.
 */
async function providerHeldEvents(
  ctx: RunContext,
  built: readonly BuiltEvent[],
): Promise<{
  events: StripeEventJson[];
  ownPayments: { id: string; amount: number; currency: string; metadata: Record<string, string> }[];
}> {
  const ids = new Set(built.map((b) => b.id));
  const held = await ctx.stack.db.collection("localProvider/sentEvents/events").get();
  const own = held.docs
    .filter((d) => !ids.has(d.id))
    .map((d) => JSON.parse(String(d.data()?.json)) as StripeEventJson);
  const ownPayments = own
    .filter((e) => e.type.startsWith("payment_intent."))
    .map((e) => {
      const o = e.data.object;
      const metadata = Object.fromEntries(
        Object.entries((o.metadata ?? {}) as Record<string, unknown>).filter(
          (entry): entry is [string, string] => typeof entry[1] === "string",
        ),
      );
      return { id: str(o.id), amount: num(o.amount), currency: str(o.currency), metadata };
    });
  return { events: [...built.map((b) => b.json), ...own], ownPayments };
}

/** The window every reconciliation run of a chaos run covers: all its events (some are dated up to a day back). */
function reconcileWindow(): [number, number] {
  return [Date.now() - 2 * 24 * 3600 * 1000, Date.now() + 60_000];
}

/**
 * Phase 3a, once every delivery and every trigger delivery is done, before any reconciliation (which would apply
 * what it finds): a parked event whose payment is recorded, that no redelivery applied either and that raised its
 * enrollment's count, is one the trigger path missed — onEnrollmentWritten replays an enrollment's parked events when
 * a payment's write finds the count. (One applied by a redelivery after its park's second look failed keeps a
 * parked copy until the sweep removes it: allowed.) Reads are retried through the faults, still on.
 */
async function checkParkedAfterDeliveries(ctx: RunContext): Promise<void> {
  await awaitBackground(ctx);
  await ctx.stack.settle();
  const { db } = ctx.stack;
  let read: [QuerySnapLike, QuerySnapLike, QuerySnapLike] | undefined;
  for (let attempt = 1; read === undefined; attempt++) {
    try {
      read = await Promise.all([
        db.collection("parkedEvents").get(),
        db.collection("webhookEvents").get(),
        db.collectionGroup("ledger").get(),
      ]);
    } catch (error) {
      if (attempt >= 20) throw error;
    }
  }
  const [parked, recorded, ledger] = read;
  const processed = new Set(recorded.docs.map((d) => d.id));
  const paid = new Set(ledger.docs.filter((d) => d.data()?.type === "payment").map((d) => d.id));
  for (const doc of parked.docs) {
    const data = doc.data() ?? {};
    const payment = String(data.providerPaymentId);
    if (data.counted === true && !processed.has(doc.id) && paid.has(payment))
      ctx.violations.push(
        `parkedEvents/${doc.id} still waits after every delivery although its payment ${payment} is recorded: ` +
          "the trigger path missed it",
      );
  }
}

/**
 * Phase 3b, with faults still on: two reconciliation runs at once, racing the late deliveries of half of the
 * dropped events. A run stopped by a fault is what the hourly schedule runs again; settle runs the last one.
 */
async function reconcileDropped(ctx: RunContext, dropped: readonly BuiltEvent[]): Promise<void> {
  if (dropped.length === 0) return;
  const state: Deliveries = { pool: new WorkPool(ctx.concurrency) };
  for (const event of dropped.filter((_, i) => i % 2 === 0))
    state.pool.add(() => deliver(ctx, state, event, 1));
  const runs = await Promise.allSettled([
    reconcileProviderEvents(...reconcileWindow()),
    reconcileProviderEvents(...reconcileWindow()),
  ]);
  await state.pool.drain();
  for (const run of runs) {
    if (run.status === "fulfilled") ctx.reconciled.applied += run.value.outcomes.applied;
    else
      ctx.notes.push(
        `a reconciliation run failed (the next run redoes it): ${String(run.reason).slice(0, 120)}`,
      );
  }
}

/** The payments of the scenario made outside startPayment (no checkout). */
function directPayments(scenario: Scenario): LocalPaymentView[] {
  const out = new Map<string, LocalPaymentView>();
  for (const e of scenario.events)
    if ("pay" in e && e.pay.kind === "direct") out.set(e.pay.view.id, { ...e.pay.view, refunds: [] });
  return [...out.values()];
}

/** The provider's record of a payment made outside startPayment, as it holds it before any event. */
async function registerDirectPayment(ctx: RunContext, view: LocalPaymentView | undefined): Promise<void> {
  if (view === undefined) return;
  await setDoc(ctx.stack, `localProvider/${view.id}`, heldPaymentRecord(view, "requires_payment_method"));
}

/**
 * A payment intent has succeeded (or was canceled) at the provider before its `payment_intent.succeeded` (or
 * `.canceled`) is sent: the provider's record says so from the start of the deliveries, so startPayment cannot
 * cancel a payment whose success is in flight (the provider refuses to cancel a succeeded intent, as Stripe does),
 * and a checkout the provider canceled has a canceled provider payment.
 */
async function markProviderStatuses(
  ctx: RunContext,
  built: readonly BuiltEvent[],
  views: ReadonlyMap<string, unknown>,
): Promise<void> {
  const statusOf = new Map<string, "succeeded" | "canceled">();
  for (const e of built) {
    const id = String(e.json.data.object.id);
    if (!views.has(id)) continue;
    if (e.json.type === "payment_intent.succeeded") statusOf.set(id, "succeeded");
    else if (e.json.type === "payment_intent.canceled" && statusOf.get(id) !== "succeeded")
      statusOf.set(id, "canceled");
  }
  await runAll(16, [...statusOf], ([id, status]) => updateDoc(ctx.stack, `localProvider/${id}`, { status }));
}

function redeliverLater(ctx: RunContext, state: Deliveries, event: BuiltEvent, attempt: number): void {
  ctx.counters.redeliveries++;
  const delay = Math.min(20 * 2 ** (attempt - 1), 1_000) + ctx.jitterRng.int(0, 20);
  state.pool.addLater(delay, () => deliver(ctx, state, event, attempt + 1));
}

/** One delivery, as the provider makes it: a timeout or a 5xx means "redeliver later". */
async function deliver(
  ctx: RunContext,
  state: Deliveries,
  event: BuiltEvent,
  attempt: number,
): Promise<void> {
  ctx.counters.deliveries++;
  const pending = ctx.stack.postWebhook(event.rawBody);
  // Like the provider, stop waiting after a timeout and redeliver later; the first invocation keeps running.
  const first = await withTimeout(pending, PROVIDER_TIMEOUT_MS);
  if (first === TIMED_OUT) {
    ctx.counters.timeouts++;
    state.pool.track(pending.then((late) => recordAnswer(ctx, event, late, "late ")));
    if (attempt < MAX_DELIVERY_ATTEMPTS) redeliverLater(ctx, state, event, attempt);
    else
      ctx.violations.push(
        `event ${event.id} (${event.label}) never acknowledged: ${attempt} deliveries timed out`,
      );
    return;
  }
  const reply = recordAnswer(ctx, event, first, "");
  if (reply.status < 500) return; // 2xx: done; 4xx: already a violation
  if (attempt < MAX_DELIVERY_ATTEMPTS) redeliverLater(ctx, state, event, attempt);
  else
    ctx.violations.push(
      `event ${event.id} (${event.label}) never acknowledged: ${attempt} deliveries answered 5xx`,
    );
}

/** Counts an answer (`late `: one the provider had stopped waiting for). */
function recordAnswer(ctx: RunContext, event: BuiltEvent, reply: HttpReply, prefix: string): HttpReply {
  const { counters } = ctx;
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
    ctx.violations.push(
      `event ${event.id} (${event.label}) answered ${reply.status} ${JSON.stringify(reply.body)}`,
    );
  }
  return reply;
}

/**
 * Phase 4: every trigger event delivered (with its duplicates and retries), then faults off, and the deadline job's
 * next run (at the simulated clock's latest time) for whatever a fault or a conflict left to it.
 */
async function settle(ctx: RunContext): Promise<void> {
  await awaitBackground(ctx);
  await ctx.stack.settle();
  ctx.stack.clearFaults();
  await ctx.stack.settle();
  // The next scheduled reconciliation, faults over: whatever the provider holds that no delivery (or earlier run)
  // applied — the dropped events, and the events the backend's own provider calls made (a replaced checkout's
  // payment canceled at the provider sends payment_intent.canceled, which the simulation never delivers).
  const last = await reconcileProviderEvents(...reconcileWindow());
  ctx.reconciled.applied += last.outcomes.applied;
  ctx.reconciled.lastRunApplied = last.outcomes.applied;
  await ctx.stack.settle();
  // The parked-event sweep's next run (every 15 minutes in production). onEnrollmentWritten replays what was parked
  // for an enrollment when a payment's write finds the park's count there; the sweep is the backstop for a park
  // whose own re-read of the ledger failed under a fault after the payment had committed. The provider's redelivery
  // of the event then applies it directly, and the parked copy stays until the sweep finds it processed and removes
  // it: allowed. An event the sweep has to APPLY itself is one whose payment was recorded but that neither the
  // trigger nor a redelivery applied: the trigger path missed it.
  const sweep = await sweepParkedEvents();
  const removed = sweep.replayed - sweep.applied;
  if (removed > 0)
    ctx.notes.push(`the parked-event sweep removed ${removed} parked copy(ies) of applied events`);
  if (sweep.applied > 0)
    ctx.violations.push(
      `the parked-event sweep applied ${sweep.applied} parked event(s) whose payment was recorded: the trigger missed them`,
    );
  if (sweep.failed > 0)
    ctx.violations.push(`the parked-event sweep failed on ${sweep.failed} parked event(s)`);
  await ctx.stack.settle();
  const latest = Math.max(...DEADLINE_CLOCK_DAYS);
  for (let run = 0; run < 100 && (await runInstallmentDeadlines(latest)).more; run++);
  await ctx.stack.settle();
}

interface CheckOutcome {
  checked: Awaited<ReturnType<typeof checkInvariants>>;
  triggerStats: Stack["triggers"]["stats"];
  explanation: string[];
}

/**
 * Quiz attempts against what the students were answered: per (student, quiz), the requestIds graded at least once
 * are the attempts counted (`attemptCount`), each graded as the model grades its answers, every answer of one
 * requestId naming the same attempt; `bestScore` is the best of them; nothing is stored for a quiz never graded.
 */
async function checkQuizzes(ctx: RunContext): Promise<{ quizAttempts: number; quizRefused: number }> {
  const { stack, scenario, violations } = ctx;
  const expected = new Map<string, { uid: string; courseId: string; quizId: string; scores: number[] }>();
  let refused = 0;
  const seen = new Set<string>();
  for (const c of scenario.lateCalls) {
    if (c.kind !== "quiz") continue;
    const key = `${c.uid}/${c.requestId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const quiz = scenario.quizzes.find((q) => q.quizId === c.quizId);
    const answers = ctx.quizAnswers.get(key) ?? [];
    const graded = answers.filter((a) => a.ok);
    refused += answers.length - graded.length;
    const group = `${c.uid}/${c.courseId}/${c.quizId}`;
    const entry = expected.get(group) ?? { uid: c.uid, courseId: c.courseId, quizId: c.quizId, scores: [] };
    expected.set(group, entry);
    if (graded.length === 0 || quiz === undefined) continue;
    const want = gradeAnswers(quiz, c.answers);
    if (new Set(graded.map((a) => a.attemptId)).size > 1)
      violations.push(`quiz attempt ${key}: answered ${graded.length} times with different attempts`);
    if (graded.some((a) => a.score !== want))
      violations.push(
        `quiz attempt ${key}: graded ${graded.map((a) => a.score).join("/")}, expected ${want}`,
      );
    entry.scores.push(want);
  }
  let attempts = 0;
  for (const [group, e] of expected) {
    const base = `users/${e.uid}/courses/${e.courseId}`;
    const result = (await readDoc(stack, `${base}/quizResults/${e.quizId}`)) as
      { attemptCount?: unknown; bestScore?: unknown } | undefined;
    const stored = (await stack.db.collection(`${base}/quizAttempts`).get()).docs.filter(
      (d) => d.data()?.quizId === e.quizId,
    ).length;
    attempts += stored;
    if (e.scores.length === 0) {
      if (result !== undefined || stored > 0)
        violations.push(`quiz ${group}: results stored for no graded attempt`);
      continue;
    }
    const best = Math.max(...e.scores);
    if (result?.attemptCount !== e.scores.length || result.bestScore !== best || stored !== e.scores.length)
      violations.push(
        `quiz ${group}: attemptCount ${String(result?.attemptCount)} bestScore ${String(result?.bestScore)} ` +
          `attempts stored ${stored}, expected ${e.scores.length} / ${best}`,
      );
  }
  return { quizAttempts: attempts, quizRefused: refused };
}

/** Phase 5: the stored world against the model computed from the event set; notes on what was retried. */
async function check(ctx: RunContext, built: readonly BuiltEvent[]): Promise<CheckOutcome> {
  const { stack, scenario, violations, notes } = ctx;
  const held = await providerHeldEvents(ctx, built);
  // The backend's payments: the ones startPayment answered with, and those its own provider calls sent events about
  // (a payment made for a checkout whose answer the client never got, canceled when a newer one replaced it).
  const payments: { id: string; amount: number; currency: string; metadata: Record<string, string> }[] = [
    ...ctx.providerViews.values(),
    ...held.ownPayments.filter((p) => !ctx.providerViews.has(p.id)),
  ];
  const expected = expectedWorld({
    enrollments: scenario.enrollments.map((e) => {
      const course = scenario.courses.find((c) => c.courseId === e.courseId);
      const price = course?.price ?? 0;
      const plan = e.planId === undefined ? undefined : course?.plans?.[e.planId];
      return {
        ...e,
        price,
        currency: course?.currency ?? "usd",
        plan:
          plan === undefined
            ? undefined
            : { amounts: planAmounts(price, plan), deadlinesPassed: FINAL_DEADLINES_PASSED },
      };
    }),
    checkouts: new Map(
      payments.flatMap((v) => {
        const { uid, courseId, checkoutId } = v.metadata;
        if (uid === undefined || courseId === undefined || checkoutId === undefined) return [];
        return [[checkoutId, { uid, courseId, amount: v.amount, currency: v.currency, paymentId: v.id }]];
      }),
    ),
    events: held.events,
    providerMetadata: new Map(payments.map((v) => [v.id, v.metadata])),
  });
  for (const [key, answers] of [...ctx.answersByRequest].sort(([a], [b]) => a.localeCompare(b))) {
    if (answers.size > 1)
      violations.push(
        `startPayment ${key} answered ${answers.size} different payments: ${[...answers].join(", ")}`,
      );
  }
  const checked = await checkInvariants({
    db: stack.db,
    expected,
    courses: scenario.courses,
    checkouts: ctx.returned,
    directPayments: ctx.directPaymentIds,
  });
  violations.push(...checked.violations);
  const quizCounts = await checkQuizzes(ctx);
  Object.assign(checked.counts, quizCounts);
  const triggerStats = { ...stack.triggers.stats };
  if (triggerStats.gaveUp > 0) {
    violations.push(`${triggerStats.gaveUp} trigger deliveries abandoned after repeated failures`);
  }
  const serverTriggers = stack.server.stats().triggers;
  if (serverTriggers.failed > 0)
    violations.push(`${serverTriggers.failed} trigger events could not be delivered`);
  if (ctx.counters.clientInternalErrors > 0) {
    notes.push(`${ctx.counters.clientInternalErrors} callable answers were 'internal' (retried)`);
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
    violations.length > 0 ? await explain(stack, violations[0] ?? "", built, ctx.counters.answers) : [];
  return { checked, triggerStats, explanation };
}

function result(
  ctx: RunContext,
  options: RunOptions,
  built: readonly BuiltEvent[],
  { checked, triggerStats, explanation }: CheckOutcome,
  durationMs: number,
): RunResult {
  const { stack, counters, violations } = ctx;
  const faultsByKind = Object.fromEntries([...stack.faultCounts].sort(([a], [b]) => a.localeCompare(b)));
  return {
    seed: options.seed,
    events: built.length,
    ok: violations.length === 0,
    violations,
    notes: ctx.notes,
    explanation,
    deliveries: counters.deliveries,
    redeliveries: counters.redeliveries,
    timeouts: counters.timeouts,
    faults: stack.server.stats().faultsInjected,
    outages: ctx.outages.count,
    faultsByKind,
    lost: checked.lost,
    doubled: checked.doubled,
    deadLetters: checked.counts.deadLetters,
    dropped: ctx.reconciled.dropped,
    reconciled: ctx.reconciled.applied,
    outcomes: counters.outcomes,
    clientCalls: counters.clientCalls,
    clientRetries: counters.clientRetries,
    clientTimeouts: counters.clientTimeouts,
    clientInternalErrors: counters.clientInternalErrors,
    triggers: triggerStats,
    counts: { ...checked.counts, checkouts: ctx.returned.size },
    backendErrorLogs: stack.logs.count("ERROR"),
    firestore: firestoreCounters(stack),
    durationMs,
    phaseMs: ctx.phaseMs,
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

interface LateCallContext {
  startPaymentAs: (
    uid: string,
    data: { courseId: string; requestId: string; amount?: number },
  ) => Promise<CallResult<StartPaymentResult>>;
  remember: (requestId: string, r: ReturnedCheckout) => void;
  /** A client's call (see `call`); `onLate` takes the answer of an attempt the client stopped waiting for. */
  call: <T>(
    fn: CallableLike,
    caller: Caller,
    data: unknown,
    onLate?: (r: CallResult<T>) => void,
  ) => Promise<CallResult<T>>;
  violations: string[];
  notes: string[];
  quizAnswers: Map<string, QuizAnswer[]>;
}

/** startPayment's answer to a retry of a checkout that is for more than is owed now. */
const STALE_CHECKOUT = /more than is now owed|payment was canceled/;

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
      // Once other payments lowered what is owed below its amount, a retry cancels the checkout instead (or says
      // it is being processed); checkInvariants holds the checkout and its provider payment to that.
      else if (!(r.code === "failed-precondition" && STALE_CHECKOUT.test(r.message)))
        violations.push(`startPayment retry of ${plan.requestId} failed: ${r.code} ${r.message}`);
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
    case "deadlines": {
      // The scheduled job, once or twice at the same time, while payments land. A run that a Firestore fault
      // stops is retried by the schedule (here: the next run, and the one in settle).
      const runs = await Promise.allSettled(
        Array.from({ length: c.copies }, () => runInstallmentDeadlines(c.aheadDays)),
      );
      for (const r of runs) {
        if (r.status === "rejected")
          ctx.notes.push(`a deadline run failed (the next run redoes it): ${String(r.reason).slice(0, 120)}`);
      }
      return;
    }
    case "quiz": {
      // Graded once per requestId while the student's access is active; refused (permission-denied) while not.
      // An attempt the client stopped waiting for still answers, and counts: it may have read the access while
      // active and graded after the retry found it suspended by a refund or dispute that landed in between.
      const { uid, courseId, quizId, requestId, answers } = c;
      const key = `${uid}/${requestId}`;
      const take = (r: CallResult<{ score: number; attemptId: string }>): void => {
        const answer: QuizAnswer = r.ok
          ? { ok: true, score: r.value.score, attemptId: r.value.attemptId }
          : { ok: false, code: r.code };
        ctx.quizAnswers.set(key, [...(ctx.quizAnswers.get(key) ?? []), answer]);
        if (!r.ok && r.code !== "permission-denied")
          violations.push(`submitQuizAttempt ${requestId} failed: ${r.code} ${r.message}`);
      };
      const results = await Promise.all(
        Array.from({ length: c.copies }, () =>
          call<{ score: number; attemptId: string }>(
            stack.functions.submitQuizAttempt,
            { uid },
            { courseId, quizId, requestId, answers },
            (late) => {
              // A late transient failure says nothing: the client retried past it.
              if (late.ok || !RETRYABLE_CODES.has(late.code)) take(late);
            },
          ),
        ),
      );
      for (const r of results) take(r);
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
