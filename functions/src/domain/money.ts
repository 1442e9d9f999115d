/**
 * Money rules. Every amount is an integer count of minor units (cents) in the enrollment's currency.
 */

/** Largest single amount accepted anywhere (Stripe's own limit for most currencies is 99,999,999). */
export const MAX_AMOUNT_CENTS = 99_999_999;

/** True for a safe integer (signed). */
export function isCents(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

/** Adds cents, refusing results that are no longer exact integers. */
export function addCents(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || !Number.isSafeInteger(sum)) {
    throw new RangeError("cents overflow");
  }
  return sum;
}

export type PaymentAmountDecision =
  | { ok: true; amount: number; isRemainingBalance: boolean }
  | { ok: false; reason: "nothing-due" | "exceeds-amount-due" | "below-minimum" };

/**
 * The amount a `startPayment` charges: the requested amount, or the whole remaining balance when omitted.
 * Valid when 1 ≤ amount ≤ amountDue.
 */
export function decidePaymentAmount(requested: number | undefined, amountDue: number): PaymentAmountDecision {
  if (amountDue <= 0) return { ok: false, reason: "nothing-due" };
  if (requested === undefined) return { ok: true, amount: amountDue, isRemainingBalance: true };
  if (!Number.isSafeInteger(requested) || requested < 1) return { ok: false, reason: "below-minimum" };
  if (requested > amountDue) return { ok: false, reason: "exceeds-amount-due" };
  return { ok: true, amount: requested, isRemainingBalance: requested === amountDue };
}

/** What can still be refunded of one payment: its amount minus the refunds of it already recorded. */
export function refundableAmount(paymentAmount: number, alreadyRefunded: number): number {
  return Math.max(paymentAmount - alreadyRefunded, 0);
}

export type RefundAmountDecision =
  | { ok: true; amount: number; isFull: boolean }
  | { ok: false; reason: "nothing-refundable" | "exceeds-refundable" | "below-minimum" };

/** The amount a refund takes back: the requested amount, or everything still refundable when omitted. */
export function decideRefundAmount(
  requested: number | undefined,
  paymentAmount: number,
  alreadyRefunded: number,
): RefundAmountDecision {
  const refundable = refundableAmount(paymentAmount, alreadyRefunded);
  if (refundable <= 0) return { ok: false, reason: "nothing-refundable" };
  if (requested === undefined) return { ok: true, amount: refundable, isFull: true };
  if (!Number.isSafeInteger(requested) || requested < 1) return { ok: false, reason: "below-minimum" };
  if (requested > refundable) return { ok: false, reason: "exceeds-refundable" };
  return { ok: true, amount: requested, isFull: requested === refundable };
}
