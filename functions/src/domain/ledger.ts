/**
 * The ledger application decision: given an enrollment's current totals and one keyed ledger entry,
 * decide whether to apply it and what the new totals and derived statuses are.
 *
 * Totals are sums over keyed entries, so applying the same set of entries in any order gives the same
 * result; the key (the provider object id) makes each entry count once.
 */
import { MAX_AMOUNT_CENTS, addCents } from "./money";
import { deriveStatus, type DerivedStatus } from "./statusPolicy";

export const LEDGER_ENTRY_TYPES = ["payment", "refund", "adjustment"] as const;
export type LedgerEntryType = (typeof LEDGER_ENTRY_TYPES)[number];
export const LEDGER_SOURCES = ["stripe", "local", "manual"] as const;
export type LedgerSource = (typeof LEDGER_SOURCES)[number];

export interface LedgerEntryInput {
  /** Ledger doc id = provider object id (payment intent, refund, dispute) or `manual_<reference>`. */
  id: string;
  type: LedgerEntryType;
  /** Signed cents: payments > 0, refunds < 0, adjustments ≠ 0. */
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

export type LedgerRejectReason = "currency-mismatch" | "invalid-amount";

export type LedgerDecision =
  | { kind: "duplicate" }
  | { kind: "reject"; reason: LedgerRejectReason }
  | {
      kind: "apply";
      amountPaid: number;
      ledgerCount: number;
      refundCount: number;
      refundedByPayment: Record<string, number>;
      derived: DerivedStatus;
    };

/** True when the entry's sign and size fit its type. */
export function isValidEntryAmount(type: LedgerEntryType, amount: number): boolean {
  if (!Number.isSafeInteger(amount) || Math.abs(amount) > MAX_AMOUNT_CENTS) return false;
  switch (type) {
    case "payment":
      return amount > 0;
    case "refund":
      return amount < 0;
    case "adjustment":
      return amount !== 0;
  }
}

/**
 * Decide what applying `entry` does. `alreadyRecorded` is whether the ledger doc with `entry.id` exists:
 * if so the entry was applied before (redelivery, concurrent delivery, or a commit whose reply was lost).
 */
export function decideLedgerApplication(
  totals: LedgerTotals,
  alreadyRecorded: boolean,
  entry: LedgerEntryInput,
): LedgerDecision {
  if (alreadyRecorded) return { kind: "duplicate" };
  if (!isValidEntryAmount(entry.type, entry.amount)) return { kind: "reject", reason: "invalid-amount" };
  if (entry.currency !== totals.currency) return { kind: "reject", reason: "currency-mismatch" };

  const amountPaid = addCents(totals.amountPaid, entry.amount);
  const refundCount = totals.refundCount + (entry.type === "refund" ? 1 : 0);
  const refundedByPayment: Record<string, number> = { ...totals.refundedByPayment };
  if (entry.type === "refund") {
    refundedByPayment[entry.providerPaymentId] = addCents(
      refundedByPayment[entry.providerPaymentId] ?? 0,
      -entry.amount,
    );
  }
  return {
    kind: "apply",
    amountPaid,
    ledgerCount: totals.ledgerCount + 1,
    refundCount,
    refundedByPayment,
    derived: deriveStatus({
      price: totals.price,
      amountPaid,
      refundCount,
      openDisputes: totals.openDisputes,
    }),
  };
}

/** Applies several entries in sequence (used to check order independence and by multi-refund events). */
export function applyEntries(
  totals: LedgerTotals,
  recorded: ReadonlySet<string>,
  entries: readonly LedgerEntryInput[],
): { totals: LedgerTotals; applied: string[] } {
  let current = totals;
  const seen = new Set(recorded);
  const applied: string[] = [];
  for (const entry of entries) {
    const decision = decideLedgerApplication(current, seen.has(entry.id), entry);
    if (decision.kind !== "apply") continue;
    seen.add(entry.id);
    applied.push(entry.id);
    current = {
      ...current,
      amountPaid: decision.amountPaid,
      ledgerCount: decision.ledgerCount,
      refundCount: decision.refundCount,
      refundedByPayment: decision.refundedByPayment,
    };
  }
  return { totals: current, applied };
}
