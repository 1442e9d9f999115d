/**
 * The ledger: what one keyed ledger entry does to an enrollment's totals.
 *
 * An entry is applied as a DELTA (cents, counters) that the service writes with `FieldValue.increment`, in the
 * same commit that creates the entry's document keyed by the provider object id. Deltas commute, so any arrival
 * order of the same entries gives the same totals; the key makes each entry count once. The derived fields
 * (amountDue, paymentStatus, …) follow from the totals by the status policy (statusPolicy.ts).
 */
import { MAX_AMOUNT_CENTS, addCents } from "./money";

/**
 * `refund-reversal`: a refund that failed after all (Stripe: `succeeded` → `failed`, e.g. an expired card) gives
 * the money back: +amount, keyed `<refundId>_reversal`. A failed refund always has both its refund entry and its
 * reversal (net zero), whichever of its events arrives first, so a late `succeeded` finds the refund recorded and
 * changes nothing.
 */
export const LEDGER_ENTRY_TYPES = ["payment", "refund", "adjustment", "refund-reversal"] as const;
export type LedgerEntryType = (typeof LEDGER_ENTRY_TYPES)[number];
export const LEDGER_SOURCES = ["stripe", "local", "manual"] as const;
export type LedgerSource = (typeof LEDGER_SOURCES)[number];

export interface LedgerEntryInput {
  /** Ledger entry id = provider object id (payment intent, refund, dispute) or `manual_<reference>`. */
  id: string;
  type: LedgerEntryType;
  /** Signed cents: payments > 0, refunds < 0, refund reversals > 0, adjustments ≠ 0. */
  amount: number;
  currency: string;
  source: LedgerSource;
  providerPaymentId: string;
  providerRefundId?: string;
}

/** The money part of an enrollment that ledger entries change. */
export interface LedgerTotals {
  price: number;
  currency: string;
  amountPaid: number;
  ledgerCount: number;
  refundCount: number;
  /** Refunded cents per payment id (positive numbers), to bound later refunds of that payment. */
  refundedByPayment: Readonly<Record<string, number>>;
  openDisputes: number;
}

/** What applying entries adds to the totals; every field is written as an increment. */
export interface LedgerDelta {
  amountPaid: number;
  ledgerCount: number;
  refundCount: number;
  /** Cents refunded per payment id (positive). */
  refundedByPayment: Readonly<Record<string, number>>;
}

export const ZERO_DELTA: LedgerDelta = {
  amountPaid: 0,
  ledgerCount: 0,
  refundCount: 0,
  refundedByPayment: {},
};

export type LedgerRejectReason = "currency-mismatch" | "invalid-amount";

export type LedgerDecision =
  | { kind: "duplicate" }
  | { kind: "reject"; reason: LedgerRejectReason }
  | { kind: "apply"; delta: LedgerDelta };

/** True when the entry's sign and size fit its type. */
export function isValidEntryAmount(type: LedgerEntryType, amount: number): boolean {
  if (!Number.isSafeInteger(amount) || Math.abs(amount) > MAX_AMOUNT_CENTS) return false;
  switch (type) {
    case "payment":
    case "refund-reversal":
      return amount > 0;
    case "refund":
      return amount < 0;
    case "adjustment":
      return amount !== 0;
  }
}

/**
 * Decide what applying `entry` to an enrollment in `currency` does. `alreadyRecorded` is whether the ledger entry
 * with `entry.id` exists: if so it was applied before (redelivery, concurrent delivery, a commit whose reply was
 * lost). Only the enrollment's currency is needed: the delta does not depend on the current totals.
 */
export function decideLedgerApplication(
  currency: string,
  alreadyRecorded: boolean,
  entry: LedgerEntryInput,
): LedgerDecision {
  if (alreadyRecorded) return { kind: "duplicate" };
  if (!isValidEntryAmount(entry.type, entry.amount)) return { kind: "reject", reason: "invalid-amount" };
  if (entry.currency !== currency) return { kind: "reject", reason: "currency-mismatch" };
  // A refund counts as refunded on its payment; its reversal undoes exactly that (both are keyed, so each once).
  const refunded = entry.type === "refund" ? 1 : entry.type === "refund-reversal" ? -1 : 0;
  return {
    kind: "apply",
    delta: {
      amountPaid: entry.amount,
      ledgerCount: 1,
      refundCount: refunded,
      refundedByPayment: refunded === 0 ? {} : { [entry.providerPaymentId]: -entry.amount },
    },
  };
}

function addPerPayment(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const sum: Record<string, number> = { ...a };
  for (const [id, cents] of Object.entries(b)) sum[id] = addCents(sum[id] ?? 0, cents);
  return sum;
}

/** The sum of two deltas (several entries in one commit). */
export function addDeltas(a: LedgerDelta, b: LedgerDelta): LedgerDelta {
  return {
    amountPaid: addCents(a.amountPaid, b.amountPaid),
    ledgerCount: a.ledgerCount + b.ledgerCount,
    refundCount: a.refundCount + b.refundCount,
    refundedByPayment: addPerPayment(a.refundedByPayment, b.refundedByPayment),
  };
}

/** The totals after the increments of `delta` (what Firestore computes on commit). */
export function applyDelta(totals: LedgerTotals, delta: LedgerDelta): LedgerTotals {
  return {
    ...totals,
    amountPaid: addCents(totals.amountPaid, delta.amountPaid),
    ledgerCount: totals.ledgerCount + delta.ledgerCount,
    refundCount: totals.refundCount + delta.refundCount,
    refundedByPayment: addPerPayment(totals.refundedByPayment, delta.refundedByPayment),
  };
}

export function isZeroLedgerDelta(delta: LedgerDelta): boolean {
  return delta.ledgerCount === 0 && delta.amountPaid === 0 && delta.refundCount === 0;
}
