/**
 * Money rules. Every amount is an integer count of minor units (cents) in the enrollment's currency.
 */

/**
 * Largest single amount accepted anywhere, in minor units: the largest a Stripe charge may be in any currency
 * (12 digits, IDR's limit). Per currency a charge is bounded by maxChargeMinorUnits.
 */
export const MAX_AMOUNT_CENTS = 999_999_999_999;

/** The largest charge Stripe makes: 8 digits (99,999,999 minor units), 12 for IDR. */
const DEFAULT_MAX_CHARGE = 99_999_999;
const MAX_CHARGE: ReadonlyMap<string, number> = new Map([["idr", MAX_AMOUNT_CENTS]]);

export function maxChargeMinorUnits(currency: string): number {
  return MAX_CHARGE.get(currency) ?? DEFAULT_MAX_CHARGE;
}

/**
 * Stripe's zero-decimal currencies: the amount is a count of whole units (¥500 is 500), not of hundredths. Every
 * amount in this backend is already in the currency's minor unit as Stripe counts it, so these only matter where
 * a limit is stated in money (the minimum charge below) or an amount is shown to a person.
 */
export const ZERO_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set([
  "bif",
  "clp",
  "djf",
  "gnf",
  "jpy",
  "kmf",
  "krw",
  "mga",
  "pyg",
  "rwf",
  "ugx",
  "vnd",
  "vuv",
  "xaf",
  "xof",
  "xpf",
]);
/** Stripe's three-decimal currencies (amounts in thousandths; Stripe requires the last digit to be 0). */
export const THREE_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

/** Digits after the decimal point in the currency's API amounts: 0, 2 or 3. */
export function minorUnitDigits(currency: string): 0 | 2 | 3 {
  if (ZERO_DECIMAL_CURRENCIES.has(currency)) return 0;
  return THREE_DECIMAL_CURRENCIES.has(currency) ? 3 : 2;
}

/** Adds cents, refusing results that are no longer exact integers. */
export function addCents(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || !Number.isSafeInteger(sum)) {
    throw new RangeError("cents overflow");
  }
  return sum;
}

/**
 * The smallest amount the payment provider will charge, in minor units of the currency: Stripe's published
 * minimums ($0.50, €0.50, £0.30, ¥50 — whole yen, a zero-decimal currency —, …); other currencies default to 50
 * minor units (Stripe's rule for them is "the equivalent of $0.50", which the provider enforces itself: its refusal
 * is a failed-precondition). Stripe refuses a smaller payment intent outright, so a smaller amount, even a remaining
 * balance, cannot be paid through the provider (an admin can record it as a manual payment).
 */
const MIN_CHARGE_CENTS: ReadonlyMap<string, number> = new Map([
  ["usd", 50],
  ["aed", 200],
  ["aud", 50],
  ["bgn", 100],
  ["brl", 50],
  ["cad", 50],
  ["chf", 50],
  ["czk", 1500],
  ["dkk", 250],
  ["eur", 50],
  ["gbp", 30],
  ["hkd", 400],
  ["huf", 17500],
  ["inr", 50],
  ["jpy", 50],
  ["mxn", 1000],
  ["myr", 200],
  ["nok", 300],
  ["nzd", 50],
  ["pln", 200],
  ["ron", 200],
  ["sek", 300],
  ["sgd", 50],
  ["thb", 1000],
]);
export const DEFAULT_MIN_CHARGE_CENTS = 50;

export function minimumChargeCents(currency: string): number {
  return MIN_CHARGE_CENTS.get(currency) ?? DEFAULT_MIN_CHARGE_CENTS;
}

export type PaymentAmountDecision =
  | { ok: true; amount: number; isRemainingBalance: boolean }
  | {
      ok: false;
      reason:
        | "nothing-due"
        | "exceeds-amount-due"
        | "below-minimum"
        | "below-minimum-charge"
        | "above-maximum-charge"
        | "not-representable";
    };

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
  if (amount > maxChargeMinorUnits(currency)) return { ok: false, reason: "above-maximum-charge" };
  if (THREE_DECIMAL_CURRENCIES.has(currency) && amount % 10 !== 0)
    return { ok: false, reason: "not-representable" };
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
