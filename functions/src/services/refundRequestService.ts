/**
 * Provider refund requests (domain/refundRequests), `refundRequests/{id}` with id = hash of (student uid,
 * requestId), recorded in the same transaction as the request's hold (refundHoldService), before the provider is
 * asked; so a retry of the same requestId, at any age, ends at the same refund:
 *
 *   open (tx): no record → take the hold and record the request `pending` (nothing left to refund → refused, nothing
 *         recorded). Recorded for a different payment, course or amount → invalid-argument, nothing changes.
 *         `answered`/`refused` → the stored answer, the provider is not asked. `pending` within the provider's
 *         idempotency-key window → keep (or re-take) the hold and ask the provider again with the same key; past
 *         it → `lookup`.
 *   lookup: provider.findRefund (by the request id in the refund's metadata). Found → answer with it. Not found →
 *         open again with `providerChecked`: the hold is kept or re-taken against what is still refundable (nothing
 *         left → the request ends `refused`), and the provider is asked with the same key.
 *   answer (tx): `pending` → `answered` (with the provider's refund) or `refused`, and the hold settles. A request
 *         answered meanwhile by a concurrent retry keeps that first answer, which is returned.
 */
import { Timestamp, type Transaction } from "firebase-admin/firestore";
import {
  decideRefundRequest,
  isFinalRefundRequestStatus,
  type RefundRequestParams,
} from "../domain/refundRequests";
import { CorruptDataError, failedPrecondition, invalidArgument, notFound } from "../shared/errors";
import type { RefundRequestDoc } from "./firestore/models";
import { refs } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";
import {
  legacyAnswer,
  readHolds,
  settleHold,
  takeHold,
  type AnsweredRefund,
  type RefundTarget,
} from "./refundHoldService";

export interface RefundRequestTarget extends RefundTarget {
  requestId: string;
  /** `refundRequestIdFor(uid, requestId)`: the record's id, and the provider refund's `refundRequest` metadata. */
  requestKey: string;
  /** The admin's uid. */
  requestedBy: string;
}

export type RefundRequestOutcome =
  /** Ask the provider to make the refund (with the request's idempotency key). */
  | { kind: "create"; amount: number }
  /** Ask the provider whether the refund exists first (pending past the key window). */
  | { kind: "lookup" }
  | { kind: "answered"; refund: AnsweredRefund }
  /** `message`: what the caller is told (failed-precondition). */
  | { kind: "refused"; message: string };

function paramsOf(target: RefundRequestTarget): RefundRequestParams {
  return {
    uid: target.uid,
    courseId: target.courseId,
    paymentId: target.paymentId,
    requestedAmount: target.requestedAmount ?? null,
  };
}

/** A final request's answer; undefined while it is pending. */
function finalOutcome(doc: RefundRequestDoc, path: string): RefundRequestOutcome | undefined {
  if (!isFinalRefundRequestStatus(doc.status)) return undefined;
  if (doc.status === "refused") return { kind: "refused", message: doc.refusal ?? "Refund not possible." };
  if (doc.refundId === null) throw new CorruptDataError(path, "refundId: expected a refund once answered");
  return {
    kind: "answered",
    refund: { refundId: doc.refundId, amount: doc.amount, status: doc.providerStatus ?? "pending" },
  };
}

function newRecord(
  target: RefundRequestTarget,
  nowMs: number,
  amount: number,
  answer?: AnsweredRefund,
): RefundRequestDoc {
  const at = Timestamp.fromMillis(nowMs);
  return {
    ...paramsOf(target),
    requestId: target.requestId,
    amount: answer?.amount ?? amount,
    idempotencyKey: target.idempotencyKey,
    status: answer === undefined ? "pending" : "answered",
    refundId: answer?.refundId ?? null,
    providerStatus: answer?.status ?? null,
    refusal: null,
    requestedBy: target.requestedBy,
    createdAt: at,
    updatedAt: at,
  };
}

/** The first step of every (re)try; see the file header. `providerChecked`: findRefund just found nothing. */
export async function openRefundRequest(
  target: RefundRequestTarget,
  nowMs: number,
  providerChecked = false,
): Promise<RefundRequestOutcome> {
  const { uid, courseId, paymentId } = target;
  const requestRef = refs.refundRequest(target.requestKey);
  return runTransaction(async (tx) => {
    const [enrollmentSnap, paymentSnap, requestSnap, holds] = await Promise.all([
      tx.get(refs.enrollment(uid, courseId)),
      tx.get(refs.ledgerEntry(uid, courseId, paymentId)),
      tx.get(requestRef),
      readHolds(tx, target),
    ]);
    const stored = requestSnap.data();
    const decision = decideRefundRequest(
      stored === undefined ? undefined : { ...stored, createdAtMs: stored.createdAt.toMillis() },
      paramsOf(target),
      nowMs,
      providerChecked,
    );
    if (decision.kind === "conflict") {
      throw invalidArgument("This requestId was already used for a different refund.");
    }
    if (stored !== undefined) {
      const answer = finalOutcome(stored, requestRef.path);
      if (answer !== undefined) return answer;
    }
    if (decision.kind === "lookup") return { kind: "lookup" };
    const enrollment = enrollmentSnap.data();
    if (enrollment === undefined) throw failedPrecondition("The user is not enrolled in this course.");
    const payment = paymentSnap.data();
    if (payment?.type !== "payment") throw notFound("No such payment in this enrollment.");
    const legacy = stored === undefined ? legacyAnswer(holds) : undefined;
    if (legacy !== undefined) {
      tx.create(requestRef, newRecord(target, nowMs, legacy.amount, legacy));
      return { kind: "answered", refund: legacy };
    }
    const hold = await takeHold(tx, target, holds, payment, enrollment, nowMs);
    if (hold.kind === "held") {
      if (stored === undefined) tx.create(requestRef, newRecord(target, nowMs, hold.amount));
      else if (stored.amount !== hold.amount) updateRecord(tx, requestRef, nowMs, { amount: hold.amount });
      return { kind: "create", amount: hold.amount };
    }
    const message = `Refund not possible: ${hold.reason}.`;
    // A new request that cannot be held records nothing. A pending one is refused only once the provider said it
    // has no refund of it; otherwise its first attempt may have made one: ask first.
    if (stored === undefined) return { kind: "refused", message };
    if (!providerChecked) return { kind: "lookup" };
    updateRecord(tx, requestRef, nowMs, { status: "refused", refusal: message });
    return { kind: "refused", message };
  });
}

function updateRecord(
  tx: Transaction,
  ref: ReturnType<typeof refs.refundRequest>,
  nowMs: number,
  data: Partial<RefundRequestDoc>,
): void {
  tx.update(ref, { ...data, updatedAt: Timestamp.fromMillis(nowMs) });
}

/**
 * Records the provider's answer (its refund, or `{ refusal }` when it refused) on a pending request and settles the
 * hold. Returns the request's final answer: this one, or the one a concurrent retry recorded first.
 */
export async function answerRefundRequest(
  target: RefundRequestTarget,
  answer: AnsweredRefund | { refusal: string },
  nowMs: number,
): Promise<RefundRequestOutcome> {
  const requestRef = refs.refundRequest(target.requestKey);
  return runTransaction(async (tx) => {
    const [requestSnap, holds] = await Promise.all([tx.get(requestRef), readHolds(tx, target)]);
    const stored = requestSnap.data();
    if (stored === undefined) throw new Error("refund request vanished");
    const first = finalOutcome(stored, requestRef.path);
    if (first !== undefined) return first;
    const refused = "refusal" in answer;
    settleHold(tx, target, holds, refused ? "refused" : answer, nowMs);
    if (refused) {
      updateRecord(tx, requestRef, nowMs, { status: "refused", refusal: answer.refusal });
      return { kind: "refused", message: answer.refusal };
    }
    updateRecord(tx, requestRef, nowMs, {
      status: "answered",
      refundId: answer.refundId,
      amount: answer.amount,
      providerStatus: answer.status,
    });
    return { kind: "answered", refund: answer };
  });
}
