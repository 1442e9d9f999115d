/**
 * The expected end state, computed from the generated event SET alone — independent of arrival order,
 * duplicates and faults, and independent of the backend's logic: the rules below are the README's contract,
 * written again here, and the statuses come from the test kit's oracle (`expectedStatuses`, written apart from
 * domain/statusPolicy). Only the allow-list of event types is read from the built backend.
 *
 * - Each provider object id counts once: a succeeded payment intent (+amount), a refund seen as `succeeded` in
 *   any charge.refunded list or refund.* event (−amount), a refund seen as `failed` anywhere (−amount and its
 *   reversal +amount: net zero, whatever else was seen; pending and canceled refunds move nothing), a dispute
 *   seen lost or with its funds reinstated (−disputed amount), given back when it was won after a loss (appeal)
 *   or its funds were reinstated (`<disputeId>_reinstated`, +disputed amount).
 * - Refunds and disputes find their enrollment through the ledger entry of their payment. Arrival order does not
 *   matter: an event that overtakes one of our payments (a checkout names it, or the provider holds it with
 *   uid/courseId metadata) is parked and applied once the payment is recorded; if the payment is never recorded
 *   it stays parked (neither recorded nor dead-lettered until the sweep's 7-day limit). An event about a payment
 *   that is not ours (the provider does not hold it for us) is ignored: recorded, nothing else.
 * - A dispute is open until a terminal status (won, lost, warning_closed, …), a closed event or a reinstatement
 *   is seen; closed is final; won (or reinstated) beats lost, whatever the order.
 * - Status policy: amountDue = max(price − paid, 0), amountOverpaid = max(paid − price, 0);
 *   paymentStatus refunded (refunds recorded and paid ≤ 0) | paid (paid ≥ price) | partial (paid > 0) | unpaid;
 *   accessStatus suspended (open dispute) | revoked (refunded) | active (paid) | on an installment plan active
 *   while paid ≥ the first installment and every one whose deadline passed, suspended when only the first is
 *   covered | locked. The deadline job runs with a simulated clock 10 or 35 days ahead; its last run (35 days,
 *   two deadlines: +3 and +33 days) leaves every plan enrollment with 2 deadlines passed.
 * - Permanent failures dead-letter once per event: metadata missing, no such enrollment, currency different from
 *   the enrollment's.
 * - Unknown event types are ignored (not recorded); every other event is recorded once.
 */
import path from "node:path";
import { FUNCTIONS_LIB, requireFromFunctions, testKit, type StripeEventJson } from "../shared/backend";
import { enrollmentKey } from "./scenario";
import { num, str } from "./util";

export type LedgerType = "payment" | "refund" | "adjustment" | "refund-reversal";

export interface ExpectedEntry {
  amount: number;
  type: LedgerType;
  providerPaymentId: string;
}

export interface ExpectedDispute {
  status: "open" | "closed";
  outcome: "won" | "lost" | "other" | null;
}

export interface ExpectedEnrollment {
  uid: string;
  courseId: string;
  price: number;
  currency: string;
  ledger: Map<string, ExpectedEntry>;
  disputes: Map<string, ExpectedDispute>;
  amountPaid: number;
  amountDue: number;
  amountOverpaid: number;
  ledgerCount: number;
  refundCount: number;
  refundedByPayment: Record<string, number>;
  openDisputes: number;
  paymentStatus: "unpaid" | "partial" | "paid" | "refunded";
  accessStatus: "locked" | "active" | "suspended" | "revoked";
  /** On a plan: the deadlines passed (the job raised the count to it); null without a plan. */
  deadlinesPassed: number | null;
}

export interface ExpectedWorld {
  enrollments: Map<string, ExpectedEnrollment>;
  /** Event ids that must be in webhookEvents. */
  recorded: Set<string>;
  /** Event ids that must still be in parkedEvents (their payment, one of ours, never recorded). */
  parked: Set<string>;
  /** eventId → dead-letter reason. */
  deadLetters: Map<string, string>;
  /** checkoutId → final status, for checkouts the events name. Others stay pending. */
  checkoutStatus: Map<string, "succeeded" | "failed" | "canceled">;
  courseStats: Map<string, { enrolledCount: number; paidCount: number; revenue: number }>;
}

export interface ModelInput {
  enrollments: readonly {
    uid: string;
    courseId: string;
    price: number;
    currency: string;
    /** On an installment plan: its amounts and the deadlines passed by the simulated clock's last run. */
    plan?: { amounts: readonly number[]; deadlinesPassed: number } | undefined;
  }[];
  /** Every checkout startPayment made, by checkout id: what its provider payment is (the backend's record). */
  checkouts: ReadonlyMap<
    string,
    { uid: string; courseId: string; amount: number; currency: string; paymentId: string }
  >;
  events: readonly StripeEventJson[];
  /** The provider's records: payment id → the metadata it was created with. */
  providerMetadata: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** The event types the webhook handles, from the built backend's webhook schema (the allow-list itself). */
let handledTypes: ReadonlySet<string> | undefined;
function isHandledType(type: string): boolean {
  handledTypes ??= new Set(
    (
      requireFromFunctions(path.join(FUNCTIONS_LIB, "schemas/webhook.js")) as {
        HANDLED_EVENT_TYPES: string[];
      }
    ).HANDLED_EVENT_TYPES,
  );
  return handledTypes.has(type);
}
/** A refund that succeeded took its amount; one that failed took it and gave it back (its entry and a reversal). */
const movesMoney = (refund: Record<string, unknown>): boolean =>
  num(refund.amount) > 0 && (str(refund.status) === "succeeded" || str(refund.status) === "failed");

/** What the events showed of one dispute (each fact, once seen, stays: the backend's record is their join). */
interface DisputeFacts {
  terminal: boolean;
  lost: boolean;
  won: boolean;
  other: boolean;
  reinstated: boolean;
  amount: number;
  paymentId: string;
}

interface Facts {
  ledger: Map<string, ExpectedEntry>;
  disputes: Map<string, DisputeFacts>;
}

const OPEN_DISPUTE_STATUSES = new Set([
  "warning_needs_response",
  "warning_under_review",
  "needs_response",
  "under_review",
]);

export function expectedWorld(input: ModelInput): ExpectedWorld {
  const facts = new Map<string, Facts>();
  const enrollmentByKey = new Map(input.enrollments.map((e) => [enrollmentKey(e.uid, e.courseId), e]));
  for (const key of enrollmentByKey.keys())
    facts.set(key, { ledger: new Map(), disputes: new Map() } satisfies Facts);

  const recorded = new Set<string>();
  const parked = new Set<string>();
  const checkoutPayments = new Set([...input.checkouts.values()].map((c) => c.paymentId));
  /** One of our payments: a checkout names it, or the provider holds it with uid/courseId metadata. */
  const isOurs = (paymentId: string): boolean => {
    if (checkoutPayments.has(paymentId)) return true;
    const meta = input.providerMetadata.get(paymentId);
    return meta !== undefined && (meta.uid ?? "") !== "" && (meta.courseId ?? "") !== "";
  };
  const deadLetters = new Map<string, string>();
  const succeededCheckouts = new Set<string>();
  const failedCheckouts = new Set<string>();
  const canceledCheckouts = new Set<string>();
  const seen = new Set<string>();

  // Payment id → enrollment, learnt from recorded payments (the backend's ledger lookup) — filled as we go.
  const ledgerPayments = new Map<string, string>();
  const distinct: StripeEventJson[] = [];
  for (const event of input.events) {
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    if (!isHandledType(event.type)) continue;
    recorded.add(event.id);
    distinct.push(event);
  }

  /** Applies one event; returns false when its enrollment can only be found through a ledger entry not yet known. */
  const apply = (event: StripeEventJson, lastPass: boolean): boolean => {
    const o = event.data.object;
    const meta = stringRecord(o.metadata);
    const metaTarget =
      meta.uid !== undefined && meta.courseId !== undefined && meta.uid !== "" && meta.courseId !== "";
    const deadLetter = (reason: string): true => {
      deadLetters.set(event.id, reason);
      return true;
    };

    if (
      event.type === "payment_intent.succeeded" ||
      event.type === "payment_intent.payment_failed" ||
      event.type === "payment_intent.canceled"
    ) {
      if (!metaTarget) return deadLetter("metadata-missing");
      const key = enrollmentKey(meta.uid ?? "", meta.courseId ?? "");
      const enrollment = enrollmentByKey.get(key);
      const f = facts.get(key);
      if (enrollment === undefined || f === undefined) return deadLetter("unknown-enrollment");
      const checkoutId = meta.checkoutId;
      // A payment naming a checkout must be that checkout's payment: same user, course, amount, currency, id.
      if (checkoutId !== undefined) {
        const c = input.checkouts.get(checkoutId);
        // The checkout is compared with what the payment was created for (`amount`), not what was received.
        const claimed = num(o.amount);
        if (
          c === undefined ||
          c.uid !== meta.uid ||
          c.courseId !== meta.courseId ||
          c.amount !== claimed ||
          c.currency !== str(o.currency) ||
          c.paymentId !== str(o.id)
        )
          return deadLetter("checkout-mismatch");
      }
      if (event.type === "payment_intent.payment_failed") {
        if (checkoutId !== undefined) failedCheckouts.add(checkoutId);
        return true;
      }
      if (event.type === "payment_intent.canceled") {
        if (checkoutId !== undefined) canceledCheckouts.add(checkoutId);
        return true;
      }
      if (str(o.currency) !== enrollment.currency) return deadLetter("currency-mismatch");
      const received = num(o.amount_received);
      const amount = received > 0 ? received : num(o.amount);
      const id = str(o.id);
      f.ledger.set(id, { amount, type: "payment", providerPaymentId: id });
      ledgerPayments.set(id, key);
      if (checkoutId !== undefined) succeededCheckouts.add(checkoutId);
      return true;
    }

    let moving: Record<string, unknown>[] = [];
    let paymentId: string;
    if (
      event.type === "refund.created" ||
      event.type === "refund.updated" ||
      event.type === "refund.failed"
    ) {
      if (!movesMoney(o)) return true; // nothing moved (yet)
      paymentId = str(o.payment_intent) || str(o.charge);
      if (paymentId === "") return deadLetter("payment-reference-missing");
      moving = [o];
    } else if (event.type === "charge.refunded") {
      const list = (o.refunds as { data?: unknown } | null | undefined)?.data;
      if (!Array.isArray(list)) return true; // no refund list (current API): the refund.* events carry them
      paymentId = str(o.payment_intent) || str(o.id);
      moving = (list as Record<string, unknown>[]).filter(movesMoney);
    } else {
      paymentId = str(o.payment_intent) || str(o.charge);
    }
    const isDispute = event.type.startsWith("charge.dispute.");
    if (!isDispute && moving.length === 0) return true; // a refund list with nothing that moved money

    // The enrollment: only through the payment's own ledger entry (never metadata or a checkout).
    const key = ledgerPayments.get(paymentId);
    if (key === undefined) {
      if (!lastPass) return false;
      // Its payment is never recorded: one of ours stays parked (not recorded); anything else is ignored (recorded).
      if (isOurs(paymentId)) {
        recorded.delete(event.id);
        parked.add(event.id);
      }
      return true;
    }
    const enrollment = enrollmentByKey.get(key);
    const f = facts.get(key);
    if (enrollment === undefined || f === undefined) return deadLetter("unknown-enrollment");

    if (!isDispute) {
      if (moving.some((r) => str(r.currency) !== enrollment.currency)) return deadLetter("currency-mismatch");
      for (const r of moving) {
        f.ledger.set(str(r.id), { amount: -num(r.amount), type: "refund", providerPaymentId: paymentId });
        if (str(r.status) === "failed") {
          f.ledger.set(`${str(r.id)}_reversal`, {
            amount: num(r.amount),
            type: "refund-reversal",
            providerPaymentId: paymentId,
          });
        }
      }
      return true;
    }
    if (str(o.currency) !== enrollment.currency) return deadLetter("currency-mismatch");
    const disputeId = str(o.id);
    const status = str(o.status);
    const movements = Array.isArray(o.balance_transactions)
      ? (o.balance_transactions as Record<string, unknown>[])
      : [];
    const reinstated =
      event.type === "charge.dispute.funds_reinstated" || movements.some((m) => num(m.amount) > 0);
    const terminal =
      event.type === "charge.dispute.closed" || reinstated || !OPEN_DISPUTE_STATUSES.has(status);
    const outcome = !terminal
      ? null
      : status === "lost"
        ? "lost"
        : ["won", "warning_closed", "prevented"].includes(status)
          ? "won"
          : "other";
    const d = f.disputes.get(disputeId) ?? {
      terminal: false,
      lost: false,
      won: false,
      other: false,
      reinstated: false,
      amount: num(o.amount),
      paymentId,
    };
    f.disputes.set(disputeId, {
      ...d,
      terminal: d.terminal || terminal,
      lost: d.lost || outcome === "lost",
      won: d.won || outcome === "won" || reinstated,
      other: d.other || outcome === "other",
      reinstated: d.reinstated || reinstated,
    });
    return true;
  };

  // Events that need a ledger lookup wait until every event that could record the payment has been applied —
  // as parking and the ledger-entry trigger make it, in any arrival order.
  let waiting = distinct;
  for (;;) {
    const still = waiting.filter((event) => !apply(event, false));
    if (still.length === waiting.length) {
      for (const event of still) apply(event, true);
      break;
    }
    waiting = still;
  }

  const enrollments = new Map<string, ExpectedEnrollment>();
  const courseStats = new Map<string, { enrolledCount: number; paidCount: number; revenue: number }>();
  for (const [key, e] of enrollmentByKey) {
    const f: Facts = facts.get(key) ?? { ledger: new Map<string, ExpectedEntry>(), disputes: new Map() };
    // A dispute: closed once anything terminal was seen; won beats lost (a win after a loss, or funds
    // reinstated); its take-back (−amount) once lost or reinstated, given back (+amount) once won after a loss
    // or reinstated.
    const disputes = new Map<string, ExpectedDispute>();
    for (const [id, d] of f.disputes) {
      const outcome = d.won ? "won" : d.lost ? "lost" : d.terminal ? "other" : null;
      disputes.set(id, { status: d.terminal ? "closed" : "open", outcome });
      const entry = (amount: number): ExpectedEntry => ({
        amount,
        type: "adjustment",
        providerPaymentId: d.paymentId,
      });
      if (d.lost || d.reinstated) f.ledger.set(id, entry(-d.amount));
      if (d.reinstated || (d.lost && d.won)) f.ledger.set(`${id}_reinstated`, entry(d.amount));
    }
    let amountPaid = 0;
    let refundCount = 0;
    const refundedByPayment: Record<string, number> = {};
    for (const entry of f.ledger.values()) {
      amountPaid += entry.amount;
      if (entry.type === "refund" || entry.type === "refund-reversal") {
        refundCount += entry.type === "refund" ? 1 : -1;
        refundedByPayment[entry.providerPaymentId] =
          (refundedByPayment[entry.providerPaymentId] ?? 0) - entry.amount;
      }
    }
    const openDisputes = [...disputes.values()].filter((d) => d.status === "open").length;
    const { amountDue, amountOverpaid, paymentStatus, accessStatus } = testKit().expectedStatuses({
      price: e.price,
      amountPaid,
      refundCount,
      openDisputes,
      plan: e.plan,
    });
    enrollments.set(key, {
      uid: e.uid,
      courseId: e.courseId,
      price: e.price,
      currency: e.currency,
      ledger: f.ledger,
      disputes,
      amountPaid,
      amountDue,
      amountOverpaid,
      ledgerCount: f.ledger.size,
      refundCount,
      refundedByPayment,
      openDisputes,
      paymentStatus,
      accessStatus,
      deadlinesPassed: e.plan?.deadlinesPassed ?? null,
    });
    const stats = courseStats.get(e.courseId) ?? { enrolledCount: 0, paidCount: 0, revenue: 0 };
    stats.enrolledCount++;
    if (paymentStatus === "paid") stats.paidCount++;
    stats.revenue += amountPaid;
    courseStats.set(e.courseId, stats);
  }

  const checkoutStatus = new Map<string, "succeeded" | "failed" | "canceled">();
  // succeeded and canceled are final, failed is not: succeeded > canceled > failed whatever the arrival order.
  for (const id of failedCheckouts) checkoutStatus.set(id, "failed");
  for (const id of canceledCheckouts) checkoutStatus.set(id, "canceled");
  for (const id of succeededCheckouts) checkoutStatus.set(id, "succeeded");
  return { enrollments, recorded, parked, deadLetters, checkoutStatus, courseStats };
}

function stringRecord(value: unknown): Record<string, string | undefined> {
  if (typeof value !== "object" || value === null) return {};
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}
