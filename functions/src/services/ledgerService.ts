/**
 * The ledger service: every change of money goes through here, in ONE Firestore transaction per event:
 *
 *   read   webhookEvents/{eventId} (if any) → processed before? answer "duplicate", write nothing
 *   read   the enrollment and the ledger doc(s) keyed by provider object id
 *   decide with the pure domain (decideLedgerApplication / decideDisputeTransition)
 *   write  new ledger doc(s), the enrollment's totals + derived statuses + updatedAt, the checkout's status,
 *          and webhookEvents/{eventId} — all or nothing.
 *
 * Redelivery, concurrent delivery and a commit whose reply was lost (the SDK reruns the transaction, which
 * now finds the ledger doc / event record) therefore all change the enrollment exactly once.
 */
import { FieldValue, Timestamp, type DocumentReference, type Transaction } from "firebase-admin/firestore";
import { nextCheckoutStatus, type CheckoutEvent } from "../domain/checkoutStatus";
import { countOpenDisputes, decideDisputeTransition, type DisputeEvent } from "../domain/disputes";
import { decideLedgerApplication, type LedgerEntryInput, type LedgerTotals } from "../domain/ledger";
import { decideRefundAmount } from "../domain/money";
import { deriveStatus } from "../domain/statusPolicy";
import type { DeadLetterReason } from "../domain/webhookMapping";
import { failedPrecondition, notFound } from "../shared/errors";
import type { CheckoutDoc, EnrollmentDoc, LedgerDoc, WebhookEventDoc } from "./firestore/models";
import { refs, updateIn } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Processed-event records outlive Stripe's 3-day retry window; a TTL policy on `expireAt` removes them. */
export const WEBHOOK_EVENT_RETENTION_MS = 30 * DAY_MS;

/** The webhook event being processed (absent for admin-initiated entries). */
export interface EventContext {
  eventId: string;
  eventType: string;
  /** The provider object the event is about (payment intent, charge, dispute) — for the dead letter. */
  providerObjectId: string | null;
}

export type LedgerOutcome =
  | { kind: "applied"; applied: string[]; duplicates: string[] }
  | { kind: "duplicate" }
  | { kind: "dead-lettered"; reason: DeadLetterReason }
  | { kind: "noop" };

export function totalsOf(enrollment: EnrollmentDoc): LedgerTotals {
  return {
    price: enrollment.price,
    currency: enrollment.currency,
    amountPaid: enrollment.amountPaid,
    ledgerCount: enrollment.ledgerCount,
    refundCount: enrollment.refundCount,
    refundedByPayment: enrollment.refundedByPayment,
    openDisputes: enrollment.openDisputes,
  };
}

function recordEvent(tx: Transaction, event: EventContext, outcome: WebhookEventDoc["outcome"]): void {
  tx.set(refs.webhookEvent(event.eventId), {
    type: event.eventType,
    outcome,
    processedAt: FieldValue.serverTimestamp(),
    expireAt: Timestamp.fromMillis(Date.now() + WEBHOOK_EVENT_RETENTION_MS),
  });
}

function deadLetterIn(tx: Transaction, event: EventContext, reason: DeadLetterReason): LedgerOutcome {
  tx.set(refs.deadLetter(event.eventId), {
    eventId: event.eventId,
    type: event.eventType,
    reason,
    providerObjectId: event.providerObjectId,
    createdAt: FieldValue.serverTimestamp(),
  });
  recordEvent(tx, event, "dead-lettered");
  return { kind: "dead-lettered", reason };
}

/** Creates the (immutable) ledger doc of `entry`; the caller has decided that it applies. */
function createLedgerDoc(
  tx: Transaction,
  ref: DocumentReference<LedgerDoc>,
  entry: LedgerEntryInput,
  origin: { eventId: string | null; recordedBy: string | null },
): void {
  tx.create(ref, {
    amount: entry.amount,
    currency: entry.currency,
    type: entry.type,
    source: entry.source,
    providerPaymentId: entry.providerPaymentId,
    providerRefundId: entry.providerRefundId ?? null,
    eventId: origin.eventId,
    recordedBy: origin.recordedBy,
    createdAt: FieldValue.serverTimestamp(),
  });
}

/** Returns true when the event was processed before (one read, no writes). */
export async function isEventProcessed(eventId: string): Promise<boolean> {
  return (await refs.webhookEvent(eventId).get()).exists;
}

/** Records a permanent failure of an authentic event: dead letter + processed-event record, exactly once. */
export async function deadLetterEvent(event: EventContext, reason: DeadLetterReason): Promise<LedgerOutcome> {
  return runTransaction(async (tx) => {
    if ((await tx.get(refs.webhookEvent(event.eventId))).exists) return { kind: "duplicate" } as const;
    return deadLetterIn(tx, event, reason);
  });
}

/** Records an event that needs no change (e.g. a refund list with only failed refunds). */
export async function recordNoopEvent(event: EventContext): Promise<LedgerOutcome> {
  return runTransaction(async (tx) => {
    if ((await tx.get(refs.webhookEvent(event.eventId))).exists) return { kind: "duplicate" } as const;
    recordEvent(tx, event, "noop");
    return { kind: "noop" } as const;
  });
}

export interface ApplyEntriesParams {
  uid: string;
  courseId: string;
  entries: readonly LedgerEntryInput[];
  /** Checkout to move to `succeeded` (payment from startPayment), if any. */
  checkoutId: string | null;
  event: EventContext | null;
  /** Admin uid for manual entries. */
  recordedBy?: string | null;
}

/**
 * Applies keyed ledger entries exactly once. Without an event (admin path), problems throw AppErrors;
 * with an event, permanent problems are dead-lettered.
 */
export async function applyLedgerEntries(p: ApplyEntriesParams): Promise<LedgerOutcome> {
  const enrollmentRef = refs.enrollment(p.uid, p.courseId);
  return runTransaction(async (tx): Promise<LedgerOutcome> => {
    if (p.event !== null && (await tx.get(refs.webhookEvent(p.event.eventId))).exists)
      return { kind: "duplicate" };
    const enrollment = (await tx.get(enrollmentRef)).data();
    const ledgerRefs = p.entries.map((e) => refs.ledgerEntry(p.uid, p.courseId, e.id));
    const checkoutRef = p.checkoutId === null ? null : refs.checkout(p.checkoutId);
    const [ledgerSnaps, checkoutSnap] = await Promise.all([
      Promise.all(ledgerRefs.map((r) => tx.get(r))),
      checkoutRef === null ? Promise.resolve(null) : tx.get(checkoutRef),
    ]);
    if (enrollment === undefined) {
      if (p.event !== null) return deadLetterIn(tx, p.event, "unknown-enrollment");
      throw failedPrecondition("The user is not enrolled in this course.");
    }

    // Decide everything before writing anything.
    let totals = totalsOf(enrollment);
    const applied: { entry: LedgerEntryInput; index: number }[] = [];
    const duplicates: string[] = [];
    let derived = null as ReturnType<typeof deriveStatus> | null;
    for (const [index, entry] of p.entries.entries()) {
      const decision = decideLedgerApplication(totals, ledgerSnaps[index]?.exists === true, entry);
      if (decision.kind === "duplicate") {
        duplicates.push(entry.id);
        continue;
      }
      if (decision.kind === "reject") {
        if (p.event !== null)
          return deadLetterIn(
            tx,
            p.event,
            decision.reason === "currency-mismatch" ? "currency-mismatch" : "invalid-amount",
          );
        throw failedPrecondition(`Ledger entry rejected: ${decision.reason}.`);
      }
      applied.push({ entry, index });
      totals = {
        ...totals,
        amountPaid: decision.amountPaid,
        ledgerCount: decision.ledgerCount,
        refundCount: decision.refundCount,
        refundedByPayment: decision.refundedByPayment,
      };
      derived = decision.derived;
    }

    for (const { entry, index } of applied) {
      const ref = ledgerRefs[index];
      if (ref === undefined) continue;
      createLedgerDoc(tx, ref, entry, {
        eventId: p.event?.eventId ?? null,
        recordedBy: p.recordedBy ?? null,
      });
    }

    const checkout = checkoutSnap?.data();
    const closesOpenCheckout = p.checkoutId !== null && enrollment.openCheckout?.checkoutId === p.checkoutId;
    if (derived !== null || closesOpenCheckout) {
      updateIn(tx, enrollmentRef, {
        amountPaid: totals.amountPaid,
        ledgerCount: totals.ledgerCount,
        refundCount: totals.refundCount,
        refundedByPayment: totals.refundedByPayment,
        ...(derived ?? {}),
        ...(closesOpenCheckout ? { openCheckout: null } : {}),
        updatedAt: FieldValue.serverTimestamp(),
      });
    }
    if (checkoutRef !== null && checkout !== undefined) {
      const paymentId = p.entries.find((e) => e.type === "payment")?.providerPaymentId ?? null;
      advanceCheckout(tx, checkoutRef, checkout, "succeeded", paymentId);
    }
    if (p.event !== null) recordEvent(tx, p.event, applied.length > 0 ? "applied" : "duplicate");
    return applied.length > 0
      ? { kind: "applied", applied: applied.map((a) => a.entry.id), duplicates }
      : { kind: "duplicate" };
  });
}

/**
 * Moves a checkout's status, and records its provider payment id when it has none yet (a checkout whose
 * startPayment never reached its second transaction): refunds and disputes find their enrollment by it.
 */
function advanceCheckout(
  tx: Transaction,
  ref: DocumentReference<CheckoutDoc>,
  current: Pick<CheckoutDoc, "status" | "providerPaymentId">,
  event: CheckoutEvent,
  providerPaymentId: string | null,
): void {
  const next = nextCheckoutStatus(current.status, event);
  const learnsPaymentId = current.providerPaymentId === null && providerPaymentId !== null;
  if (next === current.status && !learnsPaymentId) return;
  updateIn(tx, ref, {
    status: next,
    ...(learnsPaymentId ? { providerPaymentId } : {}),
    updatedAt: FieldValue.serverTimestamp(),
  });
}

/** `payment_intent.payment_failed`: no money moves; the checkout may become `failed` (never after `succeeded`). */
export async function recordPaymentFailed(p: {
  uid: string;
  courseId: string;
  checkoutId: string | null;
  providerPaymentId: string;
  event: EventContext;
}): Promise<LedgerOutcome> {
  const enrollmentRef = refs.enrollment(p.uid, p.courseId);
  return runTransaction(async (tx): Promise<LedgerOutcome> => {
    if ((await tx.get(refs.webhookEvent(p.event.eventId))).exists) return { kind: "duplicate" };
    const enrollment = (await tx.get(enrollmentRef)).data();
    const checkoutRef = p.checkoutId === null ? null : refs.checkout(p.checkoutId);
    const checkout = checkoutRef === null ? undefined : (await tx.get(checkoutRef)).data();
    if (enrollment === undefined) return deadLetterIn(tx, p.event, "unknown-enrollment");
    if (checkoutRef !== null && checkout !== undefined) {
      const next = nextCheckoutStatus(checkout.status, "failed");
      advanceCheckout(tx, checkoutRef, checkout, "failed", p.providerPaymentId);
      if (next !== checkout.status && enrollment.openCheckout?.checkoutId === p.checkoutId) {
        updateIn(tx, enrollmentRef, { openCheckout: null, updatedAt: FieldValue.serverTimestamp() });
      }
    }
    recordEvent(tx, p.event, "noop");
    return { kind: "noop" };
  });
}

/**
 * Dispute events: the dispute's state moves monotonically (closed is final); `openDisputes` and the derived
 * statuses follow; a dispute closed as lost adds an adjustment entry of −amount keyed by the dispute id.
 */
export async function applyDisputeEvent(p: {
  uid: string;
  courseId: string;
  disputeId: string;
  disputeEvent: DisputeEvent;
  currency: string;
  source: LedgerEntryInput["source"];
  event: EventContext;
}): Promise<LedgerOutcome> {
  const enrollmentRef = refs.enrollment(p.uid, p.courseId);
  const adjustmentRef = refs.ledgerEntry(p.uid, p.courseId, p.disputeId);
  return runTransaction(async (tx): Promise<LedgerOutcome> => {
    if ((await tx.get(refs.webhookEvent(p.event.eventId))).exists) return { kind: "duplicate" };
    const [enrollmentSnap, adjustmentSnap] = await Promise.all([
      tx.get(enrollmentRef),
      tx.get(adjustmentRef),
    ]);
    const enrollment = enrollmentSnap.data();
    if (enrollment === undefined) return deadLetterIn(tx, p.event, "unknown-enrollment");
    if (p.currency !== enrollment.currency) return deadLetterIn(tx, p.event, "currency-mismatch");

    const decision = decideDisputeTransition(enrollment.disputes[p.disputeId], p.disputeEvent);
    if (decision.kind === "ignore") {
      recordEvent(tx, p.event, "noop");
      return { kind: "noop" };
    }
    const disputes = { ...enrollment.disputes, [p.disputeId]: decision.record };
    const openDisputes = countOpenDisputes(disputes);
    let totals: LedgerTotals = { ...totalsOf(enrollment), openDisputes };
    let applied: string[] = [];
    if (decision.adjustmentAmount !== null) {
      const entry: LedgerEntryInput = {
        id: p.disputeId,
        type: "adjustment",
        amount: decision.adjustmentAmount,
        currency: p.currency,
        source: p.source,
        providerPaymentId: decision.record.providerPaymentId,
      };
      const ledger = decideLedgerApplication(totals, adjustmentSnap.exists, entry);
      if (ledger.kind === "reject") return deadLetterIn(tx, p.event, "invalid-amount");
      if (ledger.kind === "apply") {
        createLedgerDoc(tx, adjustmentRef, entry, { eventId: p.event.eventId, recordedBy: null });
        totals = { ...totals, amountPaid: ledger.amountPaid, ledgerCount: ledger.ledgerCount };
        applied = [entry.id];
      }
    }
    updateIn(tx, enrollmentRef, {
      disputes,
      openDisputes,
      amountPaid: totals.amountPaid,
      ledgerCount: totals.ledgerCount,
      ...deriveStatus(totals),
      updatedAt: FieldValue.serverTimestamp(),
    });
    recordEvent(tx, p.event, "applied");
    return { kind: "applied", applied, duplicates: [] };
  });
}

export interface ManualRefundResult {
  refundId: string;
  amount: number;
  duplicate: boolean;
}

/**
 * Refund of a manual payment, applied directly (no provider): the refund entry's id is deterministic from the
 * request's idempotency key, so retries find it; the amount is bounded by what is still refundable.
 */
export async function applyManualRefund(p: {
  uid: string;
  courseId: string;
  paymentId: string;
  requestedAmount: number | undefined;
  refundLedgerId: string;
  recordedBy: string;
}): Promise<ManualRefundResult> {
  const enrollmentRef = refs.enrollment(p.uid, p.courseId);
  const paymentRef = refs.ledgerEntry(p.uid, p.courseId, p.paymentId);
  const refundRef = refs.ledgerEntry(p.uid, p.courseId, p.refundLedgerId);
  return runTransaction(async (tx): Promise<ManualRefundResult> => {
    const [enrollmentSnap, paymentSnap, refundSnap] = await Promise.all([
      tx.get(enrollmentRef),
      tx.get(paymentRef),
      tx.get(refundRef),
    ]);
    const existing = refundSnap.data();
    if (existing !== undefined)
      return { refundId: p.refundLedgerId, amount: -existing.amount, duplicate: true };
    const enrollment = enrollmentSnap.data();
    if (enrollment === undefined) throw failedPrecondition("The user is not enrolled in this course.");
    const payment = paymentSnap.data();
    if (payment?.type !== "payment") throw notFound("No such payment in this enrollment.");
    const amountDecision = decideRefundAmount(
      p.requestedAmount,
      payment.amount,
      enrollment.refundedByPayment[p.paymentId] ?? 0,
    );
    if (!amountDecision.ok) throw failedPrecondition(`Refund not possible: ${amountDecision.reason}.`);
    const entry: LedgerEntryInput = {
      id: p.refundLedgerId,
      type: "refund",
      amount: -amountDecision.amount,
      currency: payment.currency,
      source: "manual",
      providerPaymentId: p.paymentId,
      providerRefundId: p.refundLedgerId,
    };
    const decision = decideLedgerApplication(totalsOf(enrollment), false, entry);
    if (decision.kind !== "apply") throw failedPrecondition("Refund not possible.");
    createLedgerDoc(tx, refundRef, entry, { eventId: null, recordedBy: p.recordedBy });
    updateIn(tx, enrollmentRef, {
      amountPaid: decision.amountPaid,
      ledgerCount: decision.ledgerCount,
      refundCount: decision.refundCount,
      refundedByPayment: decision.refundedByPayment,
      ...decision.derived,
      updatedAt: FieldValue.serverTimestamp(),
    });
    return { refundId: p.refundLedgerId, amount: amountDecision.amount, duplicate: false };
  });
}
