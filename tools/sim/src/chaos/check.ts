/**
 * The invariants, checked on the database read back after everything settled (deliveries done, triggers
 * idle, faults off). Each broken invariant is one line naming the document; the first one is what a failed
 * run prints.
 */
import type { DocSnapLike, FirestoreLike } from "../shared/stack";
import type { ExpectedEnrollment, ExpectedWorld } from "./model";
import { enrollmentKey } from "./scenario";
import { num, str } from "./util";

export interface ReturnedCheckout {
  checkoutId: string;
  paymentId: string;
  uid: string;
  courseId: string;
  amount: number;
}

export interface CheckInput {
  db: FirestoreLike;
  expected: ExpectedWorld;
  courses: readonly { courseId: string; price: number; currency: string }[];
  /** Every checkout startPayment returned (retries and collapsed tabs included), by checkoutId. */
  checkouts: ReadonlyMap<string, ReturnedCheckout>;
  /** Payments the provider holds that were made outside startPayment (no checkout returned them). */
  directPayments: ReadonlySet<string>;
}

export interface CheckResult {
  violations: string[];
  /** Expected ledger entries missing + enrollments whose amountPaid is below their ledger sum. */
  lost: number;
  /** Unexpected ledger entries + enrollments whose amountPaid is above their ledger sum. */
  doubled: number;
  counts: {
    enrollments: number;
    ledgerEntries: number;
    deadLetters: number;
    webhookEvents: number;
    /** Checkouts startPayment canceled (replaced, or for more than was owed by the time of a retry). */
    canceledCheckouts: number;
    /** Ledger entries giving back a refund that failed. */
    refundReversals: number;
    /** Ledger entries giving back a dispute's take-back (won after a loss, or funds reinstated). */
    disputeReinstatements: number;
    /** Enrollments on an installment plan, and those of them suspended for an overdue installment. */
    planEnrollments: number;
    overdueSuspended: number;
    /** Quiz attempts stored, and submissions refused while access was not active (filled in by run.ts). */
    quizAttempts?: number;
    quizRefused?: number;
  };
}

const ENROLLMENT_PATH = /^users\/([^/]+)\/courses\/([^/]+)$/;
const LEDGER_PATH = /^users\/([^/]+)\/courses\/([^/]+)\/ledger\/([^/]+)$/;

export async function checkInvariants(input: CheckInput): Promise<CheckResult> {
  const { db, expected } = input;
  const violations: string[] = [];
  let lost = 0;
  let doubled = 0;
  const fail = (message: string): void => {
    violations.push(message);
  };

  const [enrollmentSnap, ledgerSnap, checkoutSnap, providerSnap, eventSnap, deadSnap, statsSnap, parkedSnap] =
    await Promise.all([
      db.collectionGroup("courses").get(),
      db.collectionGroup("ledger").get(),
      db.collection("checkouts").get(),
      db.collection("localProvider").get(),
      db.collection("webhookEvents").get(),
      db.collection("deadLetters").get(),
      db.collection("courseStats").get(),
      db.collection("parkedEvents").get(),
    ]);

  const enrollments = new Map<string, Record<string, unknown>>();
  for (const doc of enrollmentSnap.docs) {
    const m = ENROLLMENT_PATH.exec(doc.ref.path);
    if (m) enrollments.set(enrollmentKey(m[1] ?? "", m[2] ?? ""), doc.data() ?? {});
  }
  const ledgers = new Map<string, Map<string, Record<string, unknown>>>();
  for (const doc of ledgerSnap.docs) {
    const m = LEDGER_PATH.exec(doc.ref.path);
    if (!m) continue;
    const key = enrollmentKey(m[1] ?? "", m[2] ?? "");
    const entries = ledgers.get(key) ?? new Map<string, Record<string, unknown>>();
    entries.set(m[3] ?? "", doc.data() ?? {});
    ledgers.set(key, entries);
  }
  const checkouts = byId(checkoutSnap.docs);
  const providerPayments = byId(providerSnap.docs);

  // ---- every enrollment ----
  const keys = [
    ...new Set([...expected.enrollments.keys(), ...enrollments.keys(), ...ledgers.keys()]),
  ].sort();
  for (const key of keys) {
    const exp = expected.enrollments.get(key);
    const doc = enrollments.get(key);
    const ledger = ledgers.get(key) ?? new Map<string, Record<string, unknown>>();
    const at = `users/${key.replace("/", "/courses/")}`;
    if (exp === undefined) {
      fail(`${at}: enrollment or ledger exists but no enrollment was made (${ledger.size} ledger entries)`);
      doubled += ledger.size;
      continue;
    }
    if (doc === undefined) {
      fail(`${at}: enrollment missing`);
      lost += exp.ledger.size;
      continue;
    }
    const r = checkEnrollment(at, exp, doc, ledger, checkouts, fail);
    lost += r.lost;
    doubled += r.doubled;
  }

  // ---- courseStats = the sum over enrollments (as stored) = the model ----
  const stats = byId(statsSnap.docs);
  for (const course of input.courses) {
    const stored = stats.get(course.courseId) ?? {};
    const actual = {
      enrolledCount: num(stored.enrolledCount),
      paidCount: num(stored.paidCount),
      revenue: num(stored.revenue),
    };
    const summed = { enrolledCount: 0, paidCount: 0, revenue: 0 };
    for (const [key, e] of enrollments) {
      if (key.split("/")[1] !== course.courseId) continue;
      summed.enrolledCount++;
      if (e.paymentStatus === "paid") summed.paidCount++;
      summed.revenue += num(e.amountPaid);
    }
    const model = expected.courseStats.get(course.courseId) ?? { enrolledCount: 0, paidCount: 0, revenue: 0 };
    for (const field of ["enrolledCount", "paidCount", "revenue"] as const) {
      if (actual[field] !== summed[field]) {
        fail(
          `courseStats/${course.courseId}.${field} = ${actual[field]}, but the sum over its enrollments is ${summed[field]}`,
        );
      } else if (actual[field] !== model[field]) {
        fail(`courseStats/${course.courseId}.${field} = ${actual[field]}, expected ${model[field]}`);
      }
    }
  }

  // ---- processed events and dead letters ----
  const events = byId(eventSnap.docs);
  for (const id of [...expected.recorded].sort()) {
    const e = events.get(id);
    if (e === undefined) {
      fail(`webhookEvents/${id} missing: an authentic event was acknowledged but not recorded`);
      continue;
    }
    const deadLettered = expected.deadLetters.has(id);
    if ((e.outcome === "dead-lettered") !== deadLettered) {
      fail(
        `webhookEvents/${id}.outcome = ${String(e.outcome)}, expected ${deadLettered ? "dead-lettered" : "not"}`,
      );
    }
  }
  for (const id of [...events.keys()].sort()) {
    if (!expected.recorded.has(id)) fail(`webhookEvents/${id} recorded, but it is not a handled event`);
  }
  // Parked events: only those whose payment (one of ours) never arrived; the rest were applied and removed.
  const parked = new Set(parkedSnap.docs.map((d) => d.id));
  for (const id of [...parked].sort())
    if (!expected.parked.has(id))
      fail(`parkedEvents/${id} still parked, but its payment was recorded (or it is not ours)`);
  for (const id of [...expected.parked].sort())
    if (!parked.has(id)) fail(`parkedEvents/${id} missing: its payment was never recorded, it must wait`);
  // Each enrollment's `parkedEvents` counts the events still parked for it that raised it: every park once, every
  // handled one lowered once, whatever the redeliveries, concurrent replays and lost replies.
  const parkedFor = new Map<string, number>();
  for (const doc of parkedSnap.docs) {
    const data = doc.data() ?? {};
    const owner = data.owner as { uid?: string; courseId?: string } | undefined;
    if (data.counted !== true || owner === undefined) continue;
    const key = enrollmentKey(owner.uid ?? "", owner.courseId ?? "");
    parkedFor.set(key, (parkedFor.get(key) ?? 0) + 1);
  }
  for (const [key, doc] of [...enrollments].sort(([a], [b]) => a.localeCompare(b))) {
    const count = typeof doc.parkedEvents === "number" ? doc.parkedEvents : 0;
    if (count !== (parkedFor.get(key) ?? 0))
      fail(`${key}: parkedEvents = ${count}, but ${parkedFor.get(key) ?? 0} event(s) are parked for it`);
  }
  const dead = byId(deadSnap.docs);
  for (const [id, reason] of [...expected.deadLetters].sort(([a], [b]) => a.localeCompare(b))) {
    const d = dead.get(id);
    if (d === undefined) fail(`deadLetters/${id} missing (expected reason ${reason})`);
    else if (d.reason !== reason) fail(`deadLetters/${id}.reason = ${String(d.reason)}, expected ${reason}`);
  }
  for (const id of [...dead.keys()].sort()) {
    if (!expected.deadLetters.has(id)) {
      fail(`deadLetters/${id} (${String(dead.get(id)?.reason)}) for an event that is not bad`);
    }
  }

  // ---- checkouts: exactly the ones startPayment returned; status as the events say ----
  for (const [id, returned] of [...input.checkouts].sort(([a], [b]) => a.localeCompare(b))) {
    const c = checkouts.get(id);
    if (c === undefined) {
      fail(`checkouts/${id} missing (returned to ${returned.uid})`);
      continue;
    }
    if (c.providerPaymentId !== returned.paymentId) {
      fail(
        `checkouts/${id}.providerPaymentId = ${String(c.providerPaymentId)}, returned ${returned.paymentId}`,
      );
    }
    const want = expected.checkoutStatus.get(id) ?? "pending";
    // startPayment cancels a checkout nobody should pay any more (replaced, or for more than is owed now): allowed
    // for one whose payment never succeeded, and only together with its provider payment.
    const canceledAtProvider = providerPayments.get(returned.paymentId)?.status === "canceled";
    if (c.status === "canceled" && want !== "succeeded") {
      if (!canceledAtProvider) fail(`checkouts/${id} is canceled, its provider payment is not`);
    } else if (c.status !== want) {
      fail(`checkouts/${id}.status = ${String(c.status)}, expected ${want}`);
    } else if (canceledAtProvider) {
      fail(`checkouts/${id} is ${String(c.status)}, its provider payment is canceled`);
    }
  }
  for (const [id, c] of [...checkouts].sort(([a], [b]) => a.localeCompare(b))) {
    if (input.checkouts.has(id)) continue;
    // Canceled before it was handed out (it replaced a balance payment that turned out paid, or its own retry
    // found it for more than was owed by then): never payable, so never returned.
    if (c.status === "canceled" && typeof c.aliasOf !== "string") {
      const paymentId = c.providerPaymentId;
      if (typeof paymentId === "string" && providerPayments.get(paymentId)?.status !== "canceled")
        fail(`checkouts/${id} is canceled, its provider payment ${paymentId} is not`);
      continue;
    }
    // A request that joined another tab's open checkout is recorded as an alias of it (requestId → checkout).
    const joined = typeof c.aliasOf === "string" ? input.checkouts.get(c.aliasOf) : undefined;
    if (joined === undefined) fail(`checkouts/${id} exists but no startPayment call returned it`);
    else if (joined.uid !== c.uid || joined.courseId !== c.courseId) {
      fail(`checkouts/${id} is an alias of ${String(c.aliasOf)}, a checkout of another enrollment`);
    }
  }
  const paymentIds = new Set([...input.checkouts.values()].map((c) => c.paymentId));
  for (const [id, payment] of providerPayments) {
    // A payment created for a checkout that was canceled meanwhile is canceled too and never handed out.
    if (!paymentIds.has(id) && !input.directPayments.has(id) && payment.status !== "canceled")
      fail(`localProvider/${id}: a provider payment no checkout returned`);
  }

  return {
    violations,
    lost,
    doubled,
    counts: {
      enrollments: enrollments.size,
      ledgerEntries: ledgerSnap.size,
      deadLetters: dead.size,
      webhookEvents: events.size,
      canceledCheckouts: [...checkouts.values()].filter((c) => c.status === "canceled").length,
      refundReversals: ledgerSnap.docs.filter((d) => d.data()?.type === "refund-reversal").length,
      disputeReinstatements: ledgerSnap.docs.filter((d) => d.ref.path.endsWith("_reinstated")).length,
      planEnrollments: [...input.expected.enrollments.values()].filter((e) => e.deadlinesPassed !== null)
        .length,
      overdueSuspended: [...input.expected.enrollments.values()].filter(
        (e) => e.deadlinesPassed !== null && e.accessStatus === "suspended" && e.openDisputes === 0,
      ).length,
    },
  };
}

function checkEnrollment(
  at: string,
  exp: ExpectedEnrollment,
  doc: Record<string, unknown>,
  ledger: Map<string, Record<string, unknown>>,
  checkouts: Map<string, Record<string, unknown>>,
  fail: (message: string) => void,
): { lost: number; doubled: number } {
  let lost = 0;
  let doubled = 0;
  // One ledger entry per provider object id: nothing missing, nothing extra, each with its amount.
  for (const [id, entry] of exp.ledger) {
    const stored = ledger.get(id);
    if (stored === undefined) {
      lost++;
      fail(`${at}/ledger/${id} missing: ${entry.type} of ${entry.amount} was lost`);
    } else if (stored.amount !== entry.amount || stored.type !== entry.type) {
      fail(
        `${at}/ledger/${id} = ${String(stored.type)} ${String(stored.amount)}, expected ${entry.type} ${entry.amount}`,
      );
    } else if (stored.providerPaymentId !== entry.providerPaymentId) {
      fail(`${at}/ledger/${id}.providerPaymentId = ${String(stored.providerPaymentId)}`);
    }
  }
  for (const id of ledger.keys()) {
    if (!exp.ledger.has(id)) {
      doubled++;
      fail(`${at}/ledger/${id}: unexpected ledger entry (${String(ledger.get(id)?.amount)})`);
    }
  }
  // Totals equal the ledger.
  let ledgerSum = 0;
  for (const e of ledger.values()) ledgerSum += num(e.amount);
  const amountPaid = num(doc.amountPaid);
  if (amountPaid !== ledgerSum) {
    if (amountPaid > ledgerSum) doubled++;
    else lost++;
    fail(`${at}.amountPaid = ${amountPaid}, but its ledger sums to ${ledgerSum}`);
  }
  if (amountPaid !== exp.amountPaid) fail(`${at}.amountPaid = ${amountPaid}, expected ${exp.amountPaid}`);
  if (amountPaid < 0) fail(`${at}.amountPaid = ${amountPaid}: below zero`);
  // Money leaves an enrollment only from its own payments, and never more than each payment brought in.
  const takenBack = new Map<string, number>();
  for (const [id, e] of ledger) {
    if (str(e.type) === "payment") continue;
    const pid = str(e.providerPaymentId);
    const payment = ledger.get(pid);
    if (str(payment?.type) !== "payment")
      fail(`${at}/ledger/${id}: takes money back from ${pid}, which is not a payment of this enrollment`);
    takenBack.set(pid, (takenBack.get(pid) ?? 0) - num(e.amount));
  }
  for (const [pid, cents] of takenBack) {
    const paid = num(ledger.get(pid)?.amount);
    if (cents > paid) fail(`${at}/ledger/${pid}: ${cents} taken back from a payment of ${paid}`);
  }
  if (doc.price !== exp.price || doc.currency !== exp.currency) {
    fail(
      `${at}: price ${String(doc.price)} ${String(doc.currency)}, course says ${exp.price} ${exp.currency}`,
    );
  }
  const price = num(doc.price);
  const due = Math.max(price - amountPaid, 0);
  const over = Math.max(amountPaid - price, 0);
  if (doc.amountDue !== due)
    fail(`${at}.amountDue = ${String(doc.amountDue)}, expected max(price − paid, 0) = ${due}`);
  if (doc.amountOverpaid !== over) {
    fail(`${at}.amountOverpaid = ${String(doc.amountOverpaid)}, expected max(paid − price, 0) = ${over}`);
  }
  const scalar = (field: keyof ExpectedEnrollment, want: unknown): void => {
    if (doc[field] !== want) fail(`${at}.${field} = ${String(doc[field])}, expected ${String(want)}`);
  };
  scalar("ledgerCount", exp.ledgerCount);
  scalar("refundCount", exp.refundCount);
  if (!sameRecord(doc.refundedByPayment, exp.refundedByPayment)) {
    fail(
      `${at}.refundedByPayment = ${JSON.stringify(doc.refundedByPayment)}, expected ${JSON.stringify(exp.refundedByPayment)}`,
    );
  }
  // Disputes: each one's state, and the open count.
  const disputes = (doc.disputes ?? {}) as Record<string, { status?: unknown; outcome?: unknown }>;
  for (const [id, want] of exp.disputes) {
    const got = disputes[id];
    if (got?.status !== want.status || got.outcome !== want.outcome) {
      fail(
        `${at}.disputes.${id} = ${JSON.stringify(got ?? null)}, expected ${want.status}/${String(want.outcome)}`,
      );
    }
  }
  for (const id of Object.keys(disputes)) if (!exp.disputes.has(id)) fail(`${at}.disputes.${id}: unexpected`);
  scalar("openDisputes", exp.openDisputes);
  // Statuses as the policy says (computed independently in the model).
  scalar("paymentStatus", exp.paymentStatus);
  scalar("accessStatus", exp.accessStatus);
  if (exp.deadlinesPassed !== null) scalar("deadlinesPassed", exp.deadlinesPassed);
  // An open checkout, when recorded, is one of this enrollment's checkouts that may still be paid (a failed intent
  // may be: Stripe lets the customer retry it).
  const open = doc.openCheckout as { checkoutId?: unknown } | null | undefined;
  if (open !== null && open !== undefined) {
    const c = checkouts.get(String(open.checkoutId));
    if (c === undefined || c.uid !== exp.uid || c.courseId !== exp.courseId) {
      fail(`${at}.openCheckout names ${String(open.checkoutId)}, which is not a checkout of this enrollment`);
    } else if (c.status !== "creating" && c.status !== "pending" && c.status !== "failed") {
      fail(`${at}.openCheckout names checkout ${String(open.checkoutId)}, which is ${String(c.status)}`);
    }
  }
  return { lost, doubled };
}

function byId(docs: readonly DocSnapLike[]): Map<string, Record<string, unknown>> {
  return new Map(docs.map((d) => [d.id, d.data() ?? {}]));
}

/**
 * Per-payment cents, where an absent key means 0: a refund and its reversal in one commit leave no key, in two
 * commits a key holding 0 — the same state.
 */
function sameRecord(actual: unknown, expected: Record<string, number>): boolean {
  const a = typeof actual === "object" && actual !== null ? (actual as Record<string, unknown>) : {};
  const keys = new Set([...Object.keys(a), ...Object.keys(expected)]);
  for (const k of keys) if ((a[k] ?? 0) !== (expected[k] ?? 0)) return false;
  return true;
}
