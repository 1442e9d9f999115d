/**
 * Holds on provider refunds in flight (domain/refundHolds): taken in the transaction that checks what is still
 * refundable, before the provider is asked, so concurrent refund requests of one payment cannot together exceed
 * it even while the provider has answered none of them.
 */
import { FieldValue } from "firebase-admin/firestore";
import { shortHash } from "../domain/ids";
import { decideRefundAmount } from "../domain/money";
import { standingOf } from "../domain/eventClaims";
import { heldAmount, liveHolds, type RefundHold } from "../domain/refundHolds";
import { failedPrecondition, notFound } from "../shared/errors";
import { refs } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";

export interface RefundTarget {
  uid: string;
  courseId: string;
  paymentId: string;
  /** Cents asked for; undefined = everything still refundable. */
  requestedAmount: number | undefined;
  /** The refund request's provider idempotency key: one hold per key. */
  idempotencyKey: string;
}

/** The hold's key in `refundHolds/{paymentId}.holds`. */
function holdKeyOf(idempotencyKey: string): string {
  return `h_${shortHash(idempotencyKey, 24)}`;
}

export interface AnsweredRefund {
  refundId: string;
  amount: number;
  status: string;
}

export type HoldOutcome =
  | { kind: "held"; amount: number }
  | { kind: "answered"; refund: AnsweredRefund }
  | { kind: "refused"; reason: string };

/**
 * Takes (or, for a retry of the same request, finds) the hold for this refund request; a request the provider has
 * already answered gets that answer; refuses when the payment has nothing left for it. Drops the holds that no
 * longer count (expired, or their refund is in the ledger).
 */
export async function holdRefund(target: RefundTarget, nowMs = Date.now()): Promise<HoldOutcome> {
  const { uid, courseId, paymentId } = target;
  const holdRef = refs.refundHold(paymentId);
  const key = holdKeyOf(target.idempotencyKey);
  return runTransaction(async (tx) => {
    const [enrollmentSnap, paymentSnap, holdSnap] = await Promise.all([
      tx.get(refs.enrollment(uid, courseId)),
      tx.get(refs.ledgerEntry(uid, courseId, paymentId)),
      tx.get(holdRef),
    ]);
    const enrollment = enrollmentSnap.data();
    if (enrollment === undefined) throw failedPrecondition("The user is not enrolled in this course.");
    const payment = paymentSnap.data();
    if (payment?.type !== "payment") throw notFound("No such payment in this enrollment.");
    const doc = holdSnap.data();
    const answer = doc?.answered[key];
    if (answer !== undefined) return { kind: "answered", refund: answer };
    const stored = doc?.holds ?? {};
    const refundIds = [
      ...new Set(Object.values(stored).flatMap((h) => (h.refundId === null ? [] : [h.refundId]))),
    ];
    const recorded = await Promise.all(
      refundIds.map(async (refundId) =>
        (await tx.get(refs.ledgerEntry(uid, courseId, refundId))).exists ? refundId : null,
      ),
    );
    const inLedger = new Set(recorded.filter((id): id is string => id !== null));
    const live = liveHolds(stored, nowMs, (refundId) => inLedger.has(refundId));
    const own = live[key];
    if (own !== undefined) return { kind: "held", amount: own.amount };
    const standing = standingOf(paymentId, payment, enrollment);
    const decision = decideRefundAmount(
      target.requestedAmount,
      payment.amount,
      standing.refunded + standing.lostToDisputes + heldAmount(live),
    );
    const holds: Record<string, RefundHold> = decision.ok
      ? { ...live, [key]: { amount: decision.amount, refundId: null, heldAtMs: nowMs } }
      : live;
    if (decision.ok || Object.keys(holds).length !== Object.keys(stored).length) {
      tx.set(holdRef, {
        uid,
        courseId,
        holds,
        answered: doc?.answered ?? {},
        updatedAt: FieldValue.serverTimestamp(),
      });
    }
    return decision.ok
      ? { kind: "held", amount: decision.amount }
      : { kind: "refused", reason: decision.reason };
  });
}

/**
 * After the provider answered: the answer is kept for retries of the same request; the hold names its refund (so a
 * later request can tell when the ledger has it), or ends at once when the refund was refused, failed or was
 * canceled.
 */
export async function settleHold(target: RefundTarget, refund: AnsweredRefund | "refused"): Promise<void> {
  const holdRef = refs.refundHold(target.paymentId);
  const key = holdKeyOf(target.idempotencyKey);
  await runTransaction(async (tx) => {
    const doc = (await tx.get(holdRef)).data();
    if (doc === undefined) return;
    const hold = doc.holds[key];
    const ends = refund === "refused" || refund.status === "failed" || refund.status === "canceled";
    const holds = Object.fromEntries(Object.entries(doc.holds).filter(([k]) => !(ends && k === key)));
    if (!ends && hold !== undefined) holds[key] = { ...hold, refundId: refund.refundId };
    const answered = refund === "refused" ? doc.answered : { ...doc.answered, [key]: refund };
    tx.set(holdRef, { ...doc, holds, answered, updatedAt: FieldValue.serverTimestamp() });
  });
}
