/**
 * What a signed provider event claims, checked against what this backend created. Pure.
 *
 * A valid signature proves the event comes from the provider account, not that its metadata is ours: a payment
 * intent made outside `startPayment` (Dashboard, Payment Link, another app on the account, a leaked restricted
 * key) can carry any `uid`, `courseId` and `checkoutId`. So:
 *
 *  - a payment naming a checkout is applied only if that checkout is this backend's, for the same user, course,
 *    currency and amount, with no other payment attached; anything else is a `checkout-mismatch`;
 *  - a refund or a dispute moves money only on a payment this enrollment's ledger holds, and never more than is
 *    left of it: a refund at most the payment minus its refunds and lost disputes, a dispute at most the payment
 *    minus its refunds (so `amountPaid` never goes below zero).
 */

export interface CheckoutFacts {
  uid: string;
  courseId: string;
  amount: number;
  currency: string;
  providerPaymentId: string | null;
  /** Set on a record that only maps another tab's requestId to a checkout: never named by a payment. */
  aliasOf?: string | null;
}

export interface PaymentClaim {
  uid: string;
  courseId: string;
  amount: number;
  currency: string;
  providerPaymentId: string;
}

/** The fields of `claim` that the checkout contradicts (empty: it matches); `["checkout"]` when there is none. */
export function checkoutMismatches(checkout: CheckoutFacts | undefined, claim: PaymentClaim): string[] {
  if (checkout === undefined || (checkout.aliasOf ?? null) !== null) return ["checkout"];
  const wrong: string[] = [];
  if (checkout.uid !== claim.uid) wrong.push("uid");
  if (checkout.courseId !== claim.courseId) wrong.push("courseId");
  if (checkout.currency !== claim.currency) wrong.push("currency");
  if (checkout.amount !== claim.amount) wrong.push("amount");
  if (checkout.providerPaymentId !== null && checkout.providerPaymentId !== claim.providerPaymentId)
    wrong.push("providerPaymentId");
  return wrong;
}

/** What is known of one payment of an enrollment: its ledger entry and what has been taken back from it. */
export interface PaymentStanding {
  /** The payment's ledger amount (cents > 0), or undefined when the ledger holds no such payment. */
  paymentAmount: number | undefined;
  /** Cents refunded so far (refund entries applied). */
  refunded: number;
  /** Cents taken back by disputes closed as lost. */
  lostToDisputes: number;
}

export type TakeBackDecision =
  { ok: true } | { ok: false; reason: "unknown-payment" | "exceeds-payment" | "invalid-amount" };

/** A refund of `amount` cents (> 0) on the payment: allowed while it leaves the payment at zero or more. */
export function decideRefundTakeBack(standing: PaymentStanding, amount: number): TakeBackDecision {
  if (standing.paymentAmount === undefined) return { ok: false, reason: "unknown-payment" };
  if (!Number.isSafeInteger(amount) || amount <= 0) return { ok: false, reason: "invalid-amount" };
  const left = standing.paymentAmount - standing.refunded - standing.lostToDisputes;
  return amount <= left ? { ok: true } : { ok: false, reason: "exceeds-payment" };
}

/** A dispute of `amount` cents on the payment: at most what is left of it after its refunds. */
export function decideDisputeTakeBack(standing: PaymentStanding, amount: number): TakeBackDecision {
  if (standing.paymentAmount === undefined) return { ok: false, reason: "unknown-payment" };
  if (!Number.isSafeInteger(amount) || amount <= 0) return { ok: false, reason: "invalid-amount" };
  return amount <= standing.paymentAmount - standing.refunded
    ? { ok: true }
    : { ok: false, reason: "exceeds-payment" };
}

/** The standing of payment `providerPaymentId` from its ledger entry (if any) and the enrollment's totals. */
export function standingOf(
  providerPaymentId: string,
  paymentEntry: { type: string; amount: number } | undefined,
  enrollment: {
    refundedByPayment: Readonly<Record<string, number>>;
    disputes: Readonly<Record<string, { outcome: string | null; amount: number; providerPaymentId: string }>>;
  },
): PaymentStanding {
  let lostToDisputes = 0;
  for (const dispute of Object.values(enrollment.disputes))
    if (dispute.providerPaymentId === providerPaymentId && dispute.outcome === "lost")
      lostToDisputes += dispute.amount;
  return {
    paymentAmount: paymentEntry?.type === "payment" ? paymentEntry.amount : undefined,
    refunded: enrollment.refundedByPayment[providerPaymentId] ?? 0,
    lostToDisputes,
  };
}
