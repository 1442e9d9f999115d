/**
 * Money rules. Every amount is an integer count of minor units (cents) in the enrollment's currency.
 */

/** Largest single amount accepted anywhere (Stripe's own limit for most currencies is 99,999,999). */
export const MAX_AMOUNT_CENTS = 99_999_999;

/** Adds cents, refusing results that are no longer exact integers. */
export function addCents(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || !Number.isSafeInteger(sum)) {
    throw new RangeError("cents overflow");
  }
  return sum;
}

/**
 * The smallest amount the payment provider will charge, in minor units of the currency (Stripe: $0.50, €0.50,
 * £0.30); other currencies default to 50. Stripe refuses a smaller payment intent outright, so a smaller amount,
 * even a remaining balance, cannot be paid through the provider (an admin can record it as a manual payment).
 */
const MIN_CHARGE_CENTS: ReadonlyMap<string, number> = new Map([
  ["usd", 50],
  ["eur", 50],
  ["gbp", 30],
]);
export const DEFAULT_MIN_CHARGE_CENTS = 50;

export function minimumChargeCents(currency: string): number {
  return MIN_CHARGE_CENTS.get(currency) ?? DEFAULT_MIN_CHARGE_CENTS;
}

export type PaymentAmountDecision =
  | { ok: true; amount: number; isRemainingBalance: boolean }
  | { ok: false; reason: "nothing-due" | "exceeds-amount-due" | "below-minimum" | "below-minimum-charge" };

/**
 * The amount a `startPayment` charges: the requested amount, or the whole remaining balance when omitted.
 * Valid when 1 ≤ amount ≤ amountDue and amount ≥ the currency's minimum charge (even for a remaining balance).
 */
export function decidePaymentAmount(
  requested: number | undefined,
  amountDue: number,
  currency: string,
): PaymentAmountDecision {
  if (amountDue <= 0) return { ok: false, reason: "nothing-due" };
  if (requested !== undefined && (!Number.isSafeInteger(requested) || requested < 1))
    return { ok: false, reason: "below-minimum" };
  if (requested !== undefined && requested > amountDue) return { ok: false, reason: "exceeds-amount-due" };
  const amount = requested ?? amountDue;
  if (amount < minimumChargeCents(currency)) return { ok: false, reason: "below-minimum-charge" };
  return { ok: true, amount, isRemainingBalance: amount === amountDue };
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
