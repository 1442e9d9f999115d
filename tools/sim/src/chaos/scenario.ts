/**
 * The generated world of one chaos run, a pure function of (seed, number of events):
 * courses (free, priced, one unpublished), students, enrollments, the clients' startPayment requests, and
 * the provider's event stream — payments succeeded (from startPayment or direct), failed, canceled, refunded with
 * cumulative refund lists, disputes created/closed (won/lost), a few events re-sent under a new event id,
 * unknown event types, and genuinely bad events that must dead-letter.
 *
 * Events about startPayment payments are specified against the request that creates the payment; they are
 * turned into Stripe-format JSON once the real startPayment calls have returned (see buildEvents in run.ts).
 */
import type { LocalPaymentView } from "../shared/backend";
import { Rng } from "../shared/rng";

export interface PlanSpec {
  installments: number;
  intervalDays: number;
  graceDays: number;
}

export interface CourseSpec {
  courseId: string;
  title: string;
  price: number;
  currency: string;
  published: boolean;
  /** Installment plans offered (some priced courses): enrollments may choose one. */
  plans?: Record<string, PlanSpec>;
}

export interface EnrollmentSpec {
  uid: string;
  courseId: string;
  /** Enrolled on this installment plan of the course. */
  planId?: string;
}

/** Every plan is due every 30 days with 3 days of grace: at +35 days two deadlines have passed (+3, +33). */
export const PLAN_INTERVAL_DAYS = 30;
export const PLAN_GRACE_DAYS = 3;
/** The simulated clock of the deadline runs: some at +10 days (one deadline passed), the rest at +35 (two). */
export const DEADLINE_CLOCK_DAYS = [10, 35] as const;
export const FINAL_DEADLINES_PASSED = 2;

/** The amounts of `plan`'s installments for `price` (written apart from the backend: equal parts, remainder first). */
export function planAmounts(price: number, plan: PlanSpec): number[] {
  const part = Math.floor(price / plan.installments);
  return Array.from({ length: plan.installments }, (_, i) =>
    i === 0 ? price - part * (plan.installments - 1) : part,
  );
}

/** A quiz of single-choice questions, set by an admin; the key is known here to grade independently. */
export interface QuizSpec {
  courseId: string;
  quizId: string;
  title: string;
  kind: "quiz";
  questions: {
    id: string;
    prompt: string;
    choices: { id: string; text: string }[];
    correct: [string];
    points: number;
  }[];
}

/** The score of `answers` (questionId → choiceId) — the quiz contract written again: points of each right answer. */
export function gradeAnswers(quiz: QuizSpec, answers: Readonly<Record<string, string>>): number {
  return quiz.questions.reduce((sum, q) => sum + (answers[q.id] === q.correct[0] ? q.points : 0), 0);
}

/** One logical client payment: a startPayment request (retried with the same requestId). */
export interface CheckoutPlan {
  index: number;
  uid: string;
  courseId: string;
  requestId: string;
  /** undefined = pay the remaining balance. */
  amount: number | undefined;
  /** Extra concurrent calls with the same requestId (a client retrying after a timeout). */
  concurrentRetries: number;
  /** Whether the client calls again with this requestId while the provider's events arrive. */
  retryDuringEvents: boolean;
}

export type PaymentRef = { kind: "checkout"; plan: number } | { kind: "direct"; view: LocalPaymentView };

export interface RefundSpec {
  id: string;
  amount: number;
  /** Only `succeeded` moves money; `pending` may still succeed or fail. */
  status: "succeeded" | "pending" | "failed";
  metadata?: Record<string, string>;
}

export type EventSpec =
  | { kind: "succeeded" | "failed" | "canceled"; eventId: string; pay: PaymentRef }
  /** charge.refunded: with the cumulative refund list (API before 2022-11-15), or without it (current API). */
  | { kind: "refunded"; eventId: string; pay: PaymentRef; refunds: RefundSpec[] | null }
  /** refund.created / refund.updated: one refund in its current state. */
  | {
      kind: "refund";
      eventId: string;
      pay: PaymentRef;
      type: "refund.created" | "refund.updated" | "refund.failed";
      refund: RefundSpec;
    }
  | {
      kind: "dispute";
      eventId: string;
      pay: PaymentRef;
      type:
        | "charge.dispute.created"
        | "charge.dispute.updated"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated"
        | "charge.dispute.closed";
      /** `funds`: the dispute's balance movements so far (withdrawn, then reinstated). */
      dispute: { id: string; amount: number; status: string; funds?: ("withdrawn" | "reinstated")[] };
      /** Direct payments have no checkout to look the enrollment up by: the dispute carries metadata. */
      withMetadata: boolean;
    }
  | { kind: "raw"; eventId: string; label: string; json: RawEvent }
  /**
   * A genuinely signed payment made outside startPayment that names another payment's checkout: for another
   * enrolled student (`other-user`), or for another amount (`other-amount`). Dead-lettered `checkout-mismatch`.
   */
  | {
      kind: "foreign";
      eventId: string;
      paymentId: string;
      victim: PaymentRef;
      payer: { uid: string; courseId: string };
      variant: "other-user" | "other-amount";
      type: "payment_intent.succeeded" | "payment_intent.payment_failed";
    };

/** An event built directly (bad and unknown-type events): the envelope's `data.object` and type. */
export interface RawEvent {
  type: string;
  object: Record<string, unknown>;
  /** The envelope's `created` lies this many seconds in the past (default 0: sent now). */
  ageSeconds?: number;
}

/** A client call made while the provider's events are delivered. */
export type LateCall =
  | { kind: "startPaymentRetry"; plan: number }
  | { kind: "startPaymentNew"; uid: string; courseId: string; requestId: string; amount: number | undefined }
  | { kind: "enrollRetry"; uid: string; courseId: string }
  /** The installment deadline job, run with the clock this many days ahead (some in concurrent pairs). */
  | { kind: "deadlines"; aheadDays: number; copies: number }
  /** A quiz attempt (1–3 concurrent copies of one requestId; some requestIds sent again later). */
  | {
      kind: "quiz";
      uid: string;
      courseId: string;
      quizId: string;
      requestId: string;
      answers: Record<string, string>;
      copies: number;
    };

/** A call that must be refused and write nothing. */
export interface RefusedCall {
  fn: "enrollInCourse" | "startPayment";
  uid: string;
  data: Record<string, unknown>;
  expectedCode: string;
}

export interface Scenario {
  seed: number;
  courses: CourseSpec[];
  students: string[];
  enrollments: EnrollmentSpec[];
  checkoutPlans: CheckoutPlan[];
  events: EventSpec[];
  lateCalls: LateCall[];
  refusedCalls: RefusedCall[];
  /** Quizzes on the free course and on one priced course (students submit attempts while events arrive). */
  quizzes: QuizSpec[];
}

const PRICES = [1_999, 4_900, 9_900, 25_000, 49_900, 120_000];
const MIN_PARTIAL_CENTS = 100;

export function enrollmentKey(uid: string, courseId: string): string {
  return `${uid}/${courseId}`;
}

export interface ScenarioOptions {
  /**
   * Generate refund and dispute events WITHOUT metadata about payments made outside startPayment (default
   * true). The backend can only find their enrollment through the payment's ledger entry, i.e. only once the
   * payment itself has been recorded. `false` leaves them out (to look past that order dependence).
   */
  lookupOnlyEvents?: boolean;
}

/** What every step of the generation shares: the seeded stream and the id factory. */
interface Generator {
  rng: Rng;
  /** A fresh id `<prefix>_s<seed>_<n>`. */
  next: (prefix: string) => string;
  tag: string;
  eventCount: number;
  lookupOnly: boolean;
}

/** The courses and enrollments the stories happen in. */
interface World {
  courses: CourseSpec[];
  unpublished: CourseSpec;
  published: CourseSpec[];
  priceOf: Map<string, CourseSpec>;
  students: string[];
  enrollments: EnrollmentSpec[];
  paidEnrollments: EnrollmentSpec[];
  /** A paid enrollment, hot ones more often (contention on one document). */
  pickEnrollment: () => EnrollmentSpec;
}

/**
 * The scenario of one seed, step by step (each step draws from the same seeded stream, in this order, so a seed
 * always yields the same scenario): the world, the payment stories, the bad and ignored events, then the client
 * calls made while events arrive and the calls that must be refused.
 */
export function generateScenario(seed: number, eventCount: number, options: ScenarioOptions = {}): Scenario {
  const tag = `s${seed}`;
  let serial = 0;
  const g: Generator = {
    rng: Rng.derive(seed, "scenario"),
    next: (prefix) => `${prefix}_${tag}_${(++serial).toString(36)}`,
    tag,
    eventCount,
    lookupOnly: options.lookupOnlyEvents ?? true,
  };
  const world = generateWorld(g);
  const quizzes = generateQuizzes(g, world);
  const badBudget = Math.max(1, Math.round(eventCount * 0.03));
  const ignoredBudget = Math.max(1, Math.round(eventCount * 0.01));
  const foreignBudget = Math.max(1, Math.round(eventCount * 0.01));
  const { events, checkoutPlans } = generateStories(
    g,
    world,
    eventCount - badBudget - ignoredBudget - foreignBudget,
  );
  events.push(
    ...generateBadEvents(g, world, badBudget),
    ...generateIgnoredEvents(g, ignoredBudget),
    ...generateForeignEvents(g, world, checkoutPlans, foreignBudget),
  );
  return {
    seed,
    courses: world.courses,
    quizzes,
    students: world.students,
    enrollments: world.enrollments,
    checkoutPlans,
    events,
    lateCalls: [...generateLateCalls(g, world, checkoutPlans), ...quizAttempts(g, world, quizzes)],
    refusedCalls: generateRefusedCalls(g, world),
  };
}

/** Courses (≥1 free, ≥2 priced, one in eur, one unpublished), students, enrollments (1–3 courses each). */
function generateWorld(g: Generator): World {
  const { rng, tag, eventCount } = g;
  const courseCount = clamp(Math.round(eventCount / 40), 3, 60);
  const courses: CourseSpec[] = [];
  for (let i = 0; i < courseCount; i++) {
    const free = i === 0 || (i > 2 && rng.chance(0.15));
    // Every third priced course offers an installment plan (2 or 3 parts).
    const plans =
      !free && i % 3 === 1
        ? {
            parts: {
              installments: rng.int(2, 3),
              intervalDays: PLAN_INTERVAL_DAYS,
              graceDays: PLAN_GRACE_DAYS,
            },
          }
        : undefined;
    courses.push({
      courseId: `course_${tag}_${i}`,
      title: `Course ${i}`,
      price: free ? 0 : rng.pick(PRICES),
      currency: i === 2 ? "eur" : "usd",
      published: true,
      ...(plans === undefined ? {} : { plans }),
    });
  }
  const unpublished: CourseSpec = {
    courseId: `course_${tag}_draft`,
    title: "Draft",
    price: 9_900,
    currency: "usd",
    published: false,
  };
  courses.push(unpublished);
  const published = courses.filter((c) => c.published);
  const priceOf = new Map(courses.map((c) => [c.courseId, c]));

  const studentCount = clamp(Math.round(eventCount / 10), 4, 2000);
  const students = Array.from({ length: studentCount }, (_, i) => `user_${tag}_${i}`);
  const enrollments: EnrollmentSpec[] = [];
  for (const uid of students) {
    const picked = rng.shuffle(published).slice(0, rng.int(1, 3));
    for (const c of picked) {
      const onPlan = c.plans !== undefined && rng.chance(0.5);
      enrollments.push({ uid, courseId: c.courseId, ...(onPlan ? { planId: "parts" } : {}) });
    }
  }
  const paidEnrollments = enrollments.filter((e) => (priceOf.get(e.courseId)?.price ?? 0) > 0);
  if (paidEnrollments.length === 0) {
    const uid = students[0] ?? "user";
    const course = published.find((c) => c.price > 0);
    if (course === undefined) throw new Error("no priced course");
    const e = { uid, courseId: course.courseId };
    enrollments.push(e);
    paidEnrollments.push(e);
  }
  // A few hot enrollments take a share of the payment stories (contention on one document): a quarter in small
  // runs, about 50 stories each in large ones (their transactions run one at a time).
  const hot = paidEnrollments.slice(0, Math.min(3, paidEnrollments.length));
  const hotShare = Math.min(0.25, (50 * hot.length) / (eventCount / 2.5));
  return {
    courses,
    unpublished,
    published,
    priceOf,
    students,
    enrollments,
    paidEnrollments,
    pickEnrollment: (): EnrollmentSpec => rng.pick(rng.chance(hotShare) ? hot : paidEnrollments),
  };
}

/** The provider's event stream, story by story: a payment, its failure or success, then refunds or a dispute. */
function generateStories(
  g: Generator,
  world: World,
  storyBudget: number,
): { events: EventSpec[]; checkoutPlans: CheckoutPlan[] } {
  const events: EventSpec[] = [];
  const checkoutPlans: CheckoutPlan[] = [];
  while (events.length < storyBudget) paymentStory(g, world, events, checkoutPlans);
  events.splice(storyBudget);
  return { events, checkoutPlans };
}

function paymentStory(g: Generator, world: World, events: EventSpec[], checkoutPlans: CheckoutPlan[]): void {
  const { rng, next } = g;
  const enrollment = world.pickEnrollment();
  const course = world.priceOf.get(enrollment.courseId);
  if (course === undefined) throw new Error("unknown course");
  let pay: PaymentRef;
  let amount: number;
  if (rng.chance(0.6)) {
    // Partial amounts stay above every currency's minimum charge (the provider refuses smaller payments).
    const requested = rng.chance(0.45) ? undefined : rng.int(MIN_PARTIAL_CENTS, course.price);
    const plan: CheckoutPlan = {
      index: checkoutPlans.length,
      uid: enrollment.uid,
      courseId: enrollment.courseId,
      requestId: next("req"),
      amount: requested,
      concurrentRetries: rng.chance(0.3) ? rng.int(1, 2) : 0,
      retryDuringEvents: rng.chance(0.15),
    };
    checkoutPlans.push(plan);
    pay = { kind: "checkout", plan: plan.index };
    // A request with no amount pays the whole price, or on a plan its first installment (nothing is paid while
    // requests are made, and no deadline has passed).
    const onPlan = enrollment.planId === undefined ? undefined : course.plans?.[enrollment.planId];
    amount = requested ?? (onPlan === undefined ? course.price : (planAmounts(course.price, onPlan)[0] ?? 0));
  } else {
    const overpay = rng.chance(0.1);
    amount = overpay
      ? course.price + rng.int(1, 5_000)
      : rng.chance(0.5)
        ? course.price
        : rng.int(1, course.price);
    const id = next("pi");
    pay = {
      kind: "direct",
      view: {
        id,
        chargeId: id.replace(/^pi_/, "ch_"),
        amount,
        currency: course.currency,
        metadata: { uid: enrollment.uid, courseId: enrollment.courseId },
        refunds: [],
      },
    };
  }

  const fate = rng.next();
  const succeeded = fate < 0.85;
  if (rng.chance(0.15) || (fate >= 0.85 && fate < 0.95)) {
    events.push({ kind: "failed", eventId: next("evt"), pay });
  }
  if (!succeeded) {
    // Failed only, or abandoned; half of those are then canceled (the payment page closed, the intent expired).
    if (rng.chance(0.5)) events.push({ kind: "canceled", eventId: next("evt"), pay });
    return;
  }
  events.push({ kind: "succeeded", eventId: next("evt"), pay });
  if (rng.chance(0.05)) events.push({ kind: "succeeded", eventId: next("evt"), pay }); // re-sent, new id

  const after = rng.next();
  // Payments made outside startPayment have no checkout: refunds and disputes about them that carry no
  // metadata are matched to their enrollment through the payment's ledger entry.
  const withEnrollment = { uid: enrollment.uid, courseId: enrollment.courseId };
  const storyMetadata = (): Record<string, string> =>
    rng.chance(pay.kind === "direct" ? 0.7 : 0.5) || (pay.kind === "direct" && !g.lookupOnly)
      ? withEnrollment
      : {};
  if (after < 0.2) {
    const refunds: RefundSpec[] = [];
    let refundable = amount;
    const n = rng.int(1, 3);
    if (rng.chance(0.5)) {
      // Older API: each charge.refunded lists every refund so far (final statuses), with the charge's metadata.
      for (let i = 0; i < n && refundable > 0; i++) {
        if (rng.chance(0.15)) {
          refunds.push({ id: next("re"), amount: rng.int(1, refundable), status: "failed" });
        } else {
          const a = i === n - 1 && rng.chance(0.5) ? refundable : rng.int(1, refundable);
          refunds.push({ id: next("re"), amount: a, status: "succeeded" });
          refundable -= a;
        }
        events.push({
          kind: "refunded",
          eventId: next("evt"),
          pay,
          refunds: refunds.map((r) => ({ ...r })),
        });
      }
    } else {
      // Current API: refund.created (succeeded, or pending then refund.updated), charge.refunded without a list.
      for (let i = 0; i < n && refundable > 0; i++) {
        const a = i === n - 1 && rng.chance(0.5) ? refundable : rng.int(1, refundable);
        const refund: RefundSpec = {
          id: next("re"),
          amount: a,
          status: "succeeded",
          metadata: storyMetadata(),
        };
        if (rng.chance(0.3)) {
          const finalStatus = rng.chance(0.8) ? "succeeded" : "failed";
          const pendingRefund: RefundSpec = { ...refund, status: "pending" };
          events.push({
            kind: "refund",
            eventId: next("evt"),
            pay,
            type: "refund.created",
            refund: pendingRefund,
          });
          const updated: RefundSpec = { ...refund, status: finalStatus };
          events.push({
            kind: "refund",
            eventId: next("evt"),
            pay,
            type: "refund.updated",
            refund: updated,
          });
          if (finalStatus === "succeeded") refundable -= a;
        } else {
          events.push({ kind: "refund", eventId: next("evt"), pay, type: "refund.created", refund });
          refundable -= a;
          // A refund that succeeded and then failed (the card expired): the money comes back.
          if (rng.chance(0.15)) {
            const failed: RefundSpec = { ...refund, status: "failed" };
            events.push({ kind: "refund", eventId: next("evt"), pay, type: "refund.failed", refund: failed });
          }
        }
        if (rng.chance(0.5)) events.push({ kind: "refunded", eventId: next("evt"), pay, refunds: null });
      }
    }
  } else if (after < 0.32) {
    const dispute = { id: next("dp"), amount: rng.chance(0.7) ? amount : rng.int(1, amount) };
    // A dispute carries no metadata in Stripe; direct payments sometimes get it here (set by the sender).
    const withMetadata = pay.kind === "direct" && (rng.chance(0.7) || !g.lookupOnly);
    const shape = rng.next();
    // A chargeback takes the funds at once (funds_withdrawn); an inquiry (warning_*) never does.
    const inquiry = rng.chance(0.15);
    const open = inquiry ? "warning_needs_response" : "needs_response";
    const withdrawn: ("withdrawn" | "reinstated")[] = inquiry ? [] : ["withdrawn"];
    const push = (
      type: Extract<EventSpec, { kind: "dispute" }>["type"],
      status: string,
      funds = withdrawn,
    ) => {
      events.push({
        kind: "dispute",
        eventId: next("evt"),
        pay,
        type,
        dispute: { ...dispute, status, funds },
        withMetadata,
      });
    };
    // < 0.2: created, stays open · 0.2–0.9: created and closed · ≥ 0.9: only the close is sent
    if (shape < 0.9) {
      push("charge.dispute.created", open, []);
      if (!inquiry && rng.chance(0.6)) push("charge.dispute.funds_withdrawn", open);
      if (rng.chance(0.3)) push("charge.dispute.updated", inquiry ? "warning_under_review" : "under_review");
    }
    if (shape < 0.2) return;
    if (inquiry) {
      push("charge.dispute.closed", "warning_closed", []);
      return;
    }
    const won = rng.chance(0.5);
    push("charge.dispute.closed", won ? "won" : "lost");
    const reinstated: ("withdrawn" | "reinstated")[] = ["withdrawn", "reinstated"];
    if (won) {
      // Stripe gives the funds back once the chargeback is won.
      if (rng.chance(0.8)) push("charge.dispute.funds_reinstated", "won", reinstated);
    } else if (rng.chance(0.3)) {
      // Appealed (pre-arbitration) and won after all: the dispute turns won and the funds come back.
      push("charge.dispute.updated", "won", reinstated);
      push("charge.dispute.funds_reinstated", "won", reinstated);
    }
  }
}

/** Genuinely bad events: each must end as exactly one dead letter. */
function generateBadEvents(g: Generator, world: World, badBudget: number): EventSpec[] {
  const { rng, next } = g;
  const { priceOf, published, enrollments, unpublished, paidEnrollments } = world;
  const events: EventSpec[] = [];
  const someEnrollment = (): EnrollmentSpec => rng.pick(paidEnrollments);
  const badKinds = [
    "unknown-user",
    "unknown-course",
    "not-enrolled",
    "missing-metadata",
    "currency-mismatch",
    "foreign-payment-dispute",
    "foreign-payment-refund",
    "missing-metadata-failed",
    "foreign-payment-refund-event",
  ] as const;
  for (let i = 0; i < badBudget; i++) {
    const kind = badKinds[i % badKinds.length] ?? "missing-metadata";
    const e = someEnrollment();
    const course = priceOf.get(e.courseId);
    const currency = course?.currency ?? "usd";
    const id = next("pi");
    const pi = (metadata: Record<string, string>, cur = currency): Record<string, unknown> => ({
      id,
      object: "payment_intent",
      amount: 1_000,
      amount_received: 1_000,
      currency: cur,
      status: "succeeded",
      metadata,
    });
    let json: RawEvent;
    switch (kind) {
      case "unknown-user":
        json = { type: "payment_intent.succeeded", object: pi({ uid: next("ghost"), courseId: e.courseId }) };
        break;
      case "unknown-course":
        json = { type: "payment_intent.succeeded", object: pi({ uid: e.uid, courseId: next("nocourse") }) };
        break;
      case "not-enrolled": {
        const other = published.find(
          (c) => !enrollments.some((x) => x.uid === e.uid && x.courseId === c.courseId),
        );
        json = {
          type: "payment_intent.succeeded",
          object: pi({ uid: e.uid, courseId: other?.courseId ?? unpublished.courseId }),
        };
        break;
      }
      case "missing-metadata":
        json = { type: "payment_intent.succeeded", object: pi({}) };
        break;
      case "missing-metadata-failed":
        json = {
          type: "payment_intent.payment_failed",
          object: { ...pi({}), status: "requires_payment_method", amount_received: 0 },
        };
        break;
      case "currency-mismatch":
        json = {
          type: "payment_intent.succeeded",
          object: pi({ uid: e.uid, courseId: e.courseId }, currency === "usd" ? "eur" : "usd"),
        };
        break;
      case "foreign-payment-dispute":
        json = {
          type: "charge.dispute.created",
          object: {
            id: next("dp"),
            object: "dispute",
            amount: 1_000,
            currency,
            status: "needs_response",
            charge: next("ch"),
            payment_intent: id,
            metadata: {},
          },
        };
        break;
      case "foreign-payment-refund":
        json = {
          type: "charge.refunded",
          object: {
            id: next("ch"),
            object: "charge",
            amount: 1_000,
            amount_refunded: 500,
            currency,
            payment_intent: id,
            refunded: false,
            metadata: {},
            refunds: {
              object: "list",
              data: [{ id: next("re"), object: "refund", amount: 500, currency, status: "succeeded" }],
            },
          },
        };
        break;
      case "foreign-payment-refund-event":
        json = {
          type: "refund.created",
          object: {
            id: next("re"),
            object: "refund",
            amount: 700,
            currency,
            status: "succeeded",
            payment_intent: id,
            charge: next("ch"),
            metadata: {},
          },
        };
        break;
    }
    events.push({ kind: "raw", eventId: next("evt"), label: `bad:${kind}`, json });
  }
  return events;
}

/** Signed payments naming someone else's checkout, or their own for another amount (see EventSpec "foreign"). */
function generateForeignEvents(
  g: Generator,
  world: World,
  checkoutPlans: readonly CheckoutPlan[],
  budget: number,
): EventSpec[] {
  const { rng, next } = g;
  const events: EventSpec[] = [];
  if (checkoutPlans.length === 0) return events;
  for (let i = 0; i < budget; i++) {
    const plan = rng.pick(checkoutPlans);
    const others = world.paidEnrollments.filter((e) => e.uid !== plan.uid);
    const variant = i % 2 === 0 && others.length > 0 ? "other-user" : "other-amount";
    const payer = variant === "other-user" ? rng.pick(others) : { uid: plan.uid, courseId: plan.courseId };
    events.push({
      kind: "foreign",
      eventId: next("evt"),
      paymentId: next("pi"),
      victim: { kind: "checkout", plan: plan.index },
      payer: { uid: payer.uid, courseId: payer.courseId },
      variant,
      type: rng.chance(0.8) ? "payment_intent.succeeded" : "payment_intent.payment_failed",
    });
  }
  return events;
}

/** Event types the webhook does not handle: answered 200 and ignored. */
function generateIgnoredEvents(g: Generator, ignoredBudget: number): EventSpec[] {
  const { rng, next } = g;
  const events: EventSpec[] = [];
  for (let i = 0; i < ignoredBudget; i++) {
    events.push({
      kind: "raw",
      eventId: next("evt"),
      label: "ignored",
      json: {
        type: rng.pick(["customer.created", "invoice.paid", "charge.updated"]),
        object: { id: next("obj") },
      },
    });
  }
  return events;
}

/** Client calls made while events arrive: retries of earlier requests, new payments, repeated enrollments. */
function generateLateCalls(g: Generator, world: World, checkoutPlans: readonly CheckoutPlan[]): LateCall[] {
  const { rng, next, eventCount } = g;
  const lateCalls: LateCall[] = [];
  for (const plan of checkoutPlans) {
    if (plan.retryDuringEvents) lateCalls.push({ kind: "startPaymentRetry", plan: plan.index });
  }
  const newPayments = Math.max(1, Math.round(eventCount / 40));
  for (let i = 0; i < newPayments; i++) {
    const e = world.pickEnrollment();
    lateCalls.push({
      kind: "startPaymentNew",
      uid: e.uid,
      courseId: e.courseId,
      requestId: next("req"),
      amount: rng.chance(0.5) ? undefined : rng.int(1, 500),
    });
  }
  for (let i = 0; i < Math.max(1, Math.round(eventCount / 60)); i++) {
    const e = rng.pick(world.enrollments);
    lateCalls.push({ kind: "enrollRetry", uid: e.uid, courseId: e.courseId });
  }
  for (let i = 0; i < Math.max(3, Math.round(eventCount / 300)); i++) {
    lateCalls.push({
      kind: "deadlines",
      aheadDays: rng.pick(DEADLINE_CLOCK_DAYS),
      copies: rng.chance(0.3) ? 2 : 1,
    });
  }
  return lateCalls;
}

/** A quiz on the free course (access active at once) and one on a priced course (active only once paid). */
function generateQuizzes(g: Generator, world: World): QuizSpec[] {
  const { rng, next } = g;
  const free = world.published.find((c) => c.price === 0);
  const priced = world.published.find((c) => c.price > 0);
  return [free, priced].flatMap((course) => {
    if (course === undefined) return [];
    const questions = Array.from({ length: 3 }, (_, i) => {
      const choices = Array.from({ length: rng.int(2, 4) }, (_, j) => ({ id: `c${j}`, text: `Choice ${j}` }));
      const correct: [string] = [rng.pick(choices).id];
      return { id: `q${i}`, prompt: `Question ${i}?`, choices, correct, points: rng.int(1, 3) };
    });
    return [
      {
        courseId: course.courseId,
        quizId: next("quiz"),
        title: "Chaos quiz",
        kind: "quiz" as const,
        questions,
      },
    ];
  });
}

/** Students of the quizzes' courses submit attempts: random answers, concurrent copies, some sent again later. */
function quizAttempts(g: Generator, world: World, quizzes: readonly QuizSpec[]): LateCall[] {
  const { rng, next, eventCount } = g;
  const calls: LateCall[] = [];
  for (let i = 0; i < Math.max(4, Math.round(eventCount / 15)) && quizzes.length > 0; i++) {
    const quiz = rng.pick(quizzes);
    const students = world.enrollments.filter((e) => e.courseId === quiz.courseId);
    if (students.length === 0) continue;
    const { uid } = rng.pick(students);
    const answers = Object.fromEntries(quiz.questions.map((q) => [q.id, rng.pick(q.choices).id]));
    const attempt = {
      kind: "quiz" as const,
      uid,
      courseId: quiz.courseId,
      quizId: quiz.quizId,
      requestId: next("quizreq"),
      answers,
      copies: rng.chance(0.3) ? rng.int(2, 3) : 1,
    };
    calls.push(attempt);
    if (rng.chance(0.2)) calls.push({ ...attempt, copies: 1 }); // the same attempt sent again later
  }
  return calls;
}

/** Calls that must be refused with a given code. */
function generateRefusedCalls(g: Generator, world: World): RefusedCall[] {
  const { next } = g;
  const { students, paidEnrollments, unpublished, priceOf } = world;
  const anyStudent = students[0] ?? "user";
  const anyPaid = paidEnrollments[0] ?? { uid: anyStudent, courseId: unpublished.courseId };
  return [
    {
      fn: "enrollInCourse",
      uid: anyStudent,
      data: { courseId: unpublished.courseId },
      // An unpublished course answers as a missing one (no existence oracle).
      expectedCode: "not-found",
    },
    {
      fn: "enrollInCourse",
      uid: anyStudent,
      data: { courseId: next("nocourse") },
      expectedCode: "not-found",
    },
    {
      fn: "startPayment",
      uid: anyPaid.uid,
      data: {
        courseId: anyPaid.courseId,
        requestId: next("req"),
        amount: (priceOf.get(anyPaid.courseId)?.price ?? 0) + 1,
      },
      expectedCode: "failed-precondition",
    },
    {
      fn: "startPayment",
      uid: next("stranger"),
      data: { courseId: anyPaid.courseId, requestId: next("req") },
      expectedCode: "failed-precondition",
    },
    // A plan the course does not offer; another plan than the one enrolled on (or none).
    {
      fn: "enrollInCourse",
      uid: next("stranger"),
      data: { courseId: anyPaid.courseId, planId: "no-such-plan" },
      expectedCode: "not-found",
    },
    {
      fn: "enrollInCourse",
      uid: anyPaid.uid,
      data: { courseId: anyPaid.courseId, planId: anyPaid.planId === undefined ? "parts" : "other-plan" },
      expectedCode: "failed-precondition",
    },
  ];
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(Math.max(n, min), max);
}
