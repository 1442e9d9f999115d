/** Admin money operations: manual payments (applied directly) and refunds (through the provider or directly). */
import type { RecordManualPaymentResponse, RefundPaymentResponse } from "../api";
import { manualPaymentLedgerId, manualRefundLedgerId, refundIdempotencyKey } from "../domain/ids";
import type { RecordManualPaymentInput, RefundPaymentInput } from "../schemas/callables";
import { ProviderError, alreadyExists, failedPrecondition, notFound } from "../shared/errors";
import { logInfo } from "../shared/log";
import { refs } from "./firestore/refs";
import { applyLedgerEntries, applyManualRefund } from "./ledgerService";
import { getPaymentProvider } from "./payments";
import { holdRefund, settleHold } from "./refundHoldService";

/** Idempotent on `reference`: the ledger id is `manual_<reference>`. Reusing a reference for a different amount is refused. */
export async function recordManualPayment(
  adminUid: string,
  input: RecordManualPaymentInput,
): Promise<RecordManualPaymentResponse> {
  const paymentId = manualPaymentLedgerId(input.reference);
  const enrollment = (await refs.enrollment(input.uid, input.courseId).get()).data();
  if (enrollment === undefined) throw failedPrecondition("The user is not enrolled in this course.");
  const outcome = await applyLedgerEntries({
    uid: input.uid,
    courseId: input.courseId,
    entries: [
      {
        id: paymentId,
        type: "payment",
        amount: input.amount,
        currency: enrollment.currency,
        source: "manual",
        providerPaymentId: paymentId,
      },
    ],
    checkoutId: null,
    event: null,
    recordedBy: adminUid,
  });
  if (outcome.kind === "applied") {
    logInfo("manual payment recorded", { adminUid, uid: input.uid, courseId: input.courseId, paymentId });
    return { paymentId, amount: input.amount, duplicate: false };
  }
  // Ledger entries are immutable, so reading the existing one after the transaction is safe.
  const existing = (await refs.ledgerEntry(input.uid, input.courseId, paymentId).get()).data();
  if (existing?.amount !== input.amount || existing.type !== "payment") {
    throw alreadyExists("This reference was already used for a different payment.");
  }
  return { paymentId, amount: existing.amount, duplicate: true };
}

export async function refundPayment(
  adminUid: string,
  input: RefundPaymentInput,
): Promise<RefundPaymentResponse> {
  const idempotencyKey = refundIdempotencyKey(input.paymentId, input.amount, input.requestId);
  // The payment's entry says which path the refund takes; both paths check enrollment and payment again in their
  // transaction. The enrollment is read only to answer "not enrolled" rather than "no such payment".
  const payment = (await refs.ledgerEntry(input.uid, input.courseId, input.paymentId).get()).data();
  if (payment?.type !== "payment") {
    if (!(await refs.enrollment(input.uid, input.courseId).get()).exists)
      throw failedPrecondition("The user is not enrolled in this course.");
    throw notFound("No such payment in this enrollment.");
  }

  if (payment.source === "manual") {
    const result = await applyManualRefund({
      uid: input.uid,
      courseId: input.courseId,
      paymentId: input.paymentId,
      requestedAmount: input.amount,
      refundLedgerId: manualRefundLedgerId(idempotencyKey),
      recordedBy: adminUid,
    });
    logInfo("manual refund", {
      adminUid,
      uid: input.uid,
      paymentId: input.paymentId,
      refundId: result.refundId,
    });
    return { refundId: result.refundId, amount: result.amount, applied: true, status: "succeeded" };
  }

  const provider = await getPaymentProvider();
  if (payment.source !== provider.name) {
    throw failedPrecondition("This payment belongs to a different payment provider.");
  }
  const target = {
    uid: input.uid,
    courseId: input.courseId,
    paymentId: input.paymentId,
    requestedAmount: input.amount,
    idempotencyKey,
  };
  // Held before the provider is asked: concurrent refunds of one payment cannot together exceed it.
  const hold = await holdRefund(target);
  if (hold.kind === "answered") return { ...hold.refund, applied: false };
  if (hold.kind === "refused") throw failedPrecondition(`Refund not possible: ${hold.reason}.`);
  const refundParams = {
    paymentId: input.paymentId,
    amount: input.amount,
    idempotencyKey,
    metadata: { uid: input.uid, courseId: input.courseId },
  };
  const refund = await provider.createRefund(refundParams).catch(async (error: unknown) => {
    // A permanent refusal (the provider's own bound, a charge it cannot refund) is the caller's to see, not a
    // server fault, and ends the hold; a transient one keeps it and propagates as `unavailable` (retry the same
    // requestId: it finds its hold).
    if (error instanceof ProviderError && !error.transient) {
      await settleHold(target, "refused");
      throw failedPrecondition(`The payment provider refused this refund: ${error.message}.`);
    }
    throw error;
  });
  await settleHold(target, { refundId: refund.refundId, amount: refund.amount, status: refund.status });
  logInfo("provider refund created", {
    adminUid,
    uid: input.uid,
    paymentId: input.paymentId,
    refundId: refund.refundId,
  });
  return { refundId: refund.refundId, amount: refund.amount, applied: false, status: refund.status };
}
