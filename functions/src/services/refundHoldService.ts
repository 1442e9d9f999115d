/**
 * Holds on provider refunds in flight (domain/refundHolds), read and written inside the refund request's
 * transactions (refundRequestService): taken in the transaction that checks what is still refundable and records
 * the request, before the provider is asked, so concurrent refund requests of one payment cannot together exceed
 * it even while the provider has answered none of them.
 */
import { FieldValue, type Transaction } from "firebase-admin/firestore";
import { shortHash } from "../domain/ids";
import { decideRefundAmount } from "../domain/money";
import { standingOf } from "../domain/eventClaims";
import { heldAmount, liveHolds, type RefundHold } from "../domain/refundHolds";
import type { EnrollmentDoc, LedgerEntryDoc, RefundHoldDoc } from "./firestore/models";
import { refs } from "./firestore/refs";

export interface RefundTarget {
  uid: string;
  courseId: string;
  paymentId: string;
  /** Cents asked for; undefined = everything still refundable. */
  requestedAmount: number | undefined;
  /** The refund request's provider idempotency key: one hold per key. */
  idempotencyKey: string;
}

export interface AnsweredRefund {
  refundId: string;
  amount: number;
  status: string;
}

export type HoldOutcome = { kind: "held"; amount: number } | { kind: "refused"; reason: string };

/** The payment's holds document as a transaction read it, and this request's key in it. */
export interface HoldsRead {
  doc: RefundHoldDoc | undefined;
  /** The hold's key in `refundHolds/{paymentId}.holds`: a hash of the idempotency key. */
  key: string;
}

export async function readHolds(tx: Transaction, target: RefundTarget): Promise<HoldsRead> {
  const doc = (await tx.get(refs.refundHold(target.paymentId))).data();
  return { doc, key: `h_${shortHash(target.idempotencyKey, 24)}` };
}

/** The answer kept for this request before refundRequests existed (refundHolds `answered`), if any. */
export function legacyAnswer(read: HoldsRead): AnsweredRefund | undefined {
  return read.doc?.answered?.[read.key];
}

/** Legacy answers are carried over unchanged by every write of the holds document. */
function withLegacyAnswers(doc: RefundHoldDoc | undefined): Pick<RefundHoldDoc, "answered"> {
  return doc?.answered === undefined ? {} : { answered: doc.answered };
}

/**
 * Takes this request's hold, or finds it still live; refuses when the payment has nothing left for it. Drops the
 * holds that no longer count (expired, or their refund is in the ledger). Reads the ledger, so the transaction must
 * not have written yet.
 */
export async function takeHold(
  tx: Transaction,
  target: RefundTarget,
  read: HoldsRead,
  payment: LedgerEntryDoc,
  enrollment: EnrollmentDoc,
  nowMs: number,
): Promise<HoldOutcome> {
  const { uid, courseId, paymentId } = target;
  const stored = read.doc?.holds ?? {};
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
  const own = live[read.key];
  if (own !== undefined) return { kind: "held", amount: own.amount };
  const standing = standingOf(paymentId, payment, enrollment);
  const decision = decideRefundAmount(
    target.requestedAmount,
    payment.amount,
    standing.refunded + standing.lostToDisputes + heldAmount(live),
  );
  const holds: Record<string, RefundHold> = decision.ok
    ? { ...live, [read.key]: { amount: decision.amount, refundId: null, heldAtMs: nowMs } }
    : live;
  if (decision.ok || Object.keys(holds).length !== Object.keys(stored).length) {
    tx.set(refs.refundHold(paymentId), {
      uid,
      courseId,
      holds,
      ...withLegacyAnswers(read.doc),
      updatedAt: FieldValue.serverTimestamp(),
    });
  }
  return decision.ok
    ? { kind: "held", amount: decision.amount }
    : { kind: "refused", reason: decision.reason };
}

/**
 * After the provider answered: the hold names its refund (so a later request can tell when the ledger has it), or
 * ends at once when the refund was refused, failed or was canceled. A refund found after its hold expired (a retry
 * past the hold TTL) is held again from `nowMs` until the ledger has it.
 */
export function settleHold(
  tx: Transaction,
  target: RefundTarget,
  read: HoldsRead,
  refund: AnsweredRefund | "refused",
  nowMs: number,
): void {
  const stored = read.doc?.holds ?? {};
  const hold = stored[read.key];
  const ends = refund === "refused" || refund.status === "failed" || refund.status === "canceled";
  if (ends && hold === undefined) return;
  const holds = Object.fromEntries(Object.entries(stored).filter(([k]) => k !== read.key));
  if (refund !== "refused" && !ends) {
    holds[read.key] = { ...(hold ?? { amount: refund.amount, heldAtMs: nowMs }), refundId: refund.refundId };
  }
  tx.set(refs.refundHold(target.paymentId), {
    uid: target.uid,
    courseId: target.courseId,
    holds,
    ...withLegacyAnswers(read.doc),
    updatedAt: FieldValue.serverTimestamp(),
  });
}
