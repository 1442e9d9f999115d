/** Admin money operations: manual payments (applied directly) and refunds (through the provider or directly). */
import type { RecordManualPaymentResponse, RefundPaymentResponse } from "../api";
import {
  manualPaymentLedgerId,
  manualRefundLedgerId,
  refundIdempotencyKey,
  refundRequestIdFor,
} from "../domain/ids";
import type { RecordManualPaymentInput, RefundPaymentInput } from "../schemas/callables";
import { ProviderError, alreadyExists, failedPrecondition, notFound } from "../shared/errors";
import { logInfo } from "../shared/log";
import { refs } from "./firestore/refs";
import { applyLedgerEntries, applyManualRefund } from "./ledgerService";
import { getPaymentProvider } from "./payments";
import type { CreatedRefund, PaymentProvider } from "./payments/provider";
import {
  answerRefundRequest,
  openRefundRequest,
  type RefundRequestOutcome,
  type RefundRequestTarget,
} from "./refundRequestService";

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

/**
 * Refunds (part of) a payment: a manual payment's directly in the ledger (idempotent by its ledger id), a provider
 * payment's through the provider, as a refund request recorded before the provider is asked (refundRequestService),
 * so a retry of the same requestId returns the same refund at any age. `nowMs`: the clock (tests inject it).
 */
export async function refundPayment(
  adminUid: string,
  input: RefundPaymentInput,
  nowMs = Date.now(),
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
  const target: RefundRequestTarget = {
    uid: input.uid,
    courseId: input.courseId,
    paymentId: input.paymentId,
    requestedAmount: input.amount,
    idempotencyKey,
    requestId: input.requestId,
    requestKey: refundRequestIdFor(input.uid, input.requestId),
    requestedBy: adminUid,
  };
  // Recorded and held before the provider is asked: concurrent refunds of one payment cannot together exceed it,
  // and a retry finds the request whatever its age.
  let outcome = await openRefundRequest(target, nowMs);
  if (outcome.kind === "lookup") outcome = await lookUpRefund(provider, target, nowMs);
  if (outcome.kind === "create") outcome = await createProviderRefund(provider, target, nowMs);
  switch (outcome.kind) {
    case "answered":
      return { ...outcome.refund, applied: false };
    case "refused":
      throw failedPrecondition(outcome.message);
    default:
      throw new Error(`refund request left ${outcome.kind}`);
  }
}

/**
 * A pending request past the provider's idempotency-key window: the provider may have forgotten the key, so asking
 * it to create the refund again could make a second one. Ask whether the refund exists; only if not, make it.
 */
async function lookUpRefund(
  provider: PaymentProvider,
  target: RefundRequestTarget,
  nowMs: number,
): Promise<RefundRequestOutcome> {
  const found = await provider.findRefund({ paymentId: target.paymentId, refundRequest: target.requestKey });
  logInfo("pending refund request looked up", {
    uid: target.uid,
    paymentId: target.paymentId,
    refundRequest: target.requestKey,
    refundId: found?.refundId ?? null,
  });
  return found === null ? openRefundRequest(target, nowMs, true) : answerRefundRequest(target, found, nowMs);
}

async function createProviderRefund(
  provider: PaymentProvider,
  target: RefundRequestTarget,
  nowMs: number,
): Promise<RefundRequestOutcome> {
  let refund: CreatedRefund;
  try {
    refund = await provider.createRefund({
      paymentId: target.paymentId,
      amount: target.requestedAmount,
      idempotencyKey: target.idempotencyKey,
      metadata: { uid: target.uid, courseId: target.courseId, refundRequest: target.requestKey },
    });
  } catch (error) {
    // A permanent refusal (the provider's own bound, a charge it cannot refund) is the caller's to see, not a
    // server fault: the request ends refused and its hold ends. A transient one keeps both and propagates as
    // `unavailable` (retry the same requestId: it finds its request pending).
    if (error instanceof ProviderError && !error.transient) {
      return answerRefundRequest(
        target,
        { refusal: `The payment provider refused this refund: ${error.message}.` },
        nowMs,
      );
    }
    throw error;
  }
  logInfo("provider refund created", {
    adminUid: target.requestedBy,
    uid: target.uid,
    paymentId: target.paymentId,
    refundId: refund.refundId,
  });
  return answerRefundRequest(target, refund, nowMs);
}
