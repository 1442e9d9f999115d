/**
 * Ledger integrity: does a stored enrollment agree with its ledger and with the status policy? Pure: the caller
 * reads the enrollment (as stored, any shape) and its ledger entries, and writes the repair it is given.
 *
 * The truths, in order:
 *   ledger entries  → amountPaid (their sum), ledgerCount (their number), refundCount and refundedByPayment (refunds
 *                     net of their reversals, per payment), exactly as ledger.ts's deltas add them up;
 *   disputes map    → openDisputes (the disputes whose record is open);
 *   status policy   → amountDue, amountOverpaid, paymentStatus, accessStatus, from the totals above.
 * A stored field that differs is drift; the repair writes the true value of each drifted field. An enrollment or
 * entry whose stored shape cannot be read is `unreadable`: reported, never repaired (a person has to look).
 */
import { countOpenDisputes } from "./disputes";
import {
  ZERO_DELTA,
  addDeltas,
  decideLedgerApplication,
  LEDGER_ENTRY_TYPES,
  type LedgerEntryType,
} from "./ledger";
import { derivedDrift, deriveStatus, statusInputsOf } from "./statusPolicy";

export interface StoredLedgerEntry {
  id: string;
  amount?: unknown;
  type?: unknown;
  providerPaymentId?: unknown;
}

export interface FieldDrift {
  field: string;
  stored: unknown;
  expected: unknown;
}

export type IntegrityCheck =
  | { kind: "ok" }
  | { kind: "drift"; drifts: FieldDrift[]; repair: Record<string, unknown> }
  | { kind: "unreadable"; why: string };

const isType = (t: unknown): t is LedgerEntryType => LEDGER_ENTRY_TYPES.includes(t as LedgerEntryType);

/** Per-payment cents with zeros dropped (a refund and its reversal leave a 0 that an absent key equals). */
function nonZero(map: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).filter(([, v]) => v !== 0));
}

function sameMap(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const x = nonZero(a);
  const y = nonZero(b);
  return Object.keys(x).length === Object.keys(y).length && Object.entries(x).every(([k, v]) => y[k] === v);
}

/** The totals the ledger entries add up to, or the reason they cannot be added up. */
export function ledgerTotals(
  currency: string,
  entries: readonly StoredLedgerEntry[],
):
  | {
      ok: true;
      amountPaid: number;
      ledgerCount: number;
      refundCount: number;
      refundedByPayment: Record<string, number>;
    }
  | { ok: false; why: string } {
  let delta = ZERO_DELTA;
  for (const e of entries) {
    if (!isType(e.type) || typeof e.amount !== "number" || typeof e.providerPaymentId !== "string")
      return { ok: false, why: `ledger entry ${e.id} is not readable` };
    const decision = decideLedgerApplication(currency, false, {
      id: e.id,
      type: e.type,
      amount: e.amount,
      currency,
      source: "manual",
      providerPaymentId: e.providerPaymentId,
    });
    if (decision.kind !== "apply") return { ok: false, why: `ledger entry ${e.id} has an invalid amount` };
    delta = addDeltas(delta, decision.delta);
  }
  return { ok: true, ...delta, refundedByPayment: { ...delta.refundedByPayment } };
}

/** Compares a stored enrollment with its ledger entries and the status policy (see the top of this file). */
export function checkEnrollmentIntegrity(
  stored: Readonly<Record<string, unknown>>,
  entries: readonly StoredLedgerEntry[],
): IntegrityCheck {
  if (typeof stored.currency !== "string") return { kind: "unreadable", why: "currency is not readable" };
  const totals = ledgerTotals(stored.currency, entries);
  if (!totals.ok) return { kind: "unreadable", why: totals.why };
  const disputes = stored.disputes;
  if (
    typeof disputes !== "object" ||
    disputes === null ||
    Object.values(disputes).some((d) => typeof d !== "object" || d === null)
  )
    return { kind: "unreadable", why: "disputes are not readable" };
  const openDisputes = countOpenDisputes(disputes as Parameters<typeof countOpenDisputes>[0]);
  const storedRefunds = stored.refundedByPayment;
  if (typeof storedRefunds !== "object" || storedRefunds === null)
    return { kind: "unreadable", why: "refundedByPayment is not readable" };

  const truth: Record<string, unknown> = {
    amountPaid: totals.amountPaid,
    ledgerCount: totals.ledgerCount,
    refundCount: totals.refundCount,
    openDisputes,
  };
  const inputs = statusInputsOf({ ...stored, ...truth });
  if (inputs === null) return { kind: "unreadable", why: "price, plan or counters are not readable" };

  const drifts: FieldDrift[] = [];
  const repair: Record<string, unknown> = {};
  const drifted = (field: string, expected: unknown): void => {
    drifts.push({ field, stored: stored[field], expected });
    repair[field] = expected;
  };
  for (const [field, expected] of Object.entries(truth))
    if (stored[field] !== expected) drifted(field, expected);
  if (!sameMap(storedRefunds as Record<string, unknown>, totals.refundedByPayment))
    drifted("refundedByPayment", totals.refundedByPayment);
  const derived = derivedDrift(stored, deriveStatus(inputs));
  for (const [field, expected] of Object.entries(derived ?? {})) drifted(field, expected);
  return drifts.length === 0 ? { kind: "ok" } : { kind: "drift", drifts, repair };
}
