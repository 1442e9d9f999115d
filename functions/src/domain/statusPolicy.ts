/**
 * The status policy: the ONE place where an enrollment's derived fields follow from its totals.
 *
 *   amountDue      = max(price − amountPaid, 0)
 *   amountOverpaid = max(amountPaid − price, 0)        (so amountDue − amountOverpaid = price − amountPaid)
 *   paymentStatus  = 'refunded' if any refund is recorded and amountPaid ≤ 0
 *                    'paid'     if amountPaid ≥ price   (a free course is paid at once)
 *                    'partial'  if amountPaid > 0
 *                    'unpaid'   otherwise
 *   accessStatus   = 'suspended' while any dispute is open
 *                    'revoked'   if paymentStatus is 'refunded'
 *                    'active'    if paymentStatus is 'paid'
 *                    on an installment plan (domain/installments.ts), by its standing:
 *                      'active'    while amountPaid covers the first installment and every one whose deadline passed
 *                      'suspended' when it covers the first but not an overdue one
 *                    'locked'    otherwise
 *
 * It depends only on totals (sums of ledger entries and a count of open disputes) and, on a plan, on the fixed
 * schedule and the count of deadlines passed (raised by the scheduler, never lowered), so any arrival order of the
 * same events yields the same statuses.
 */
import { planStanding } from "./installments";

export const PAYMENT_STATUSES = ["unpaid", "partial", "paid", "refunded"] as const;
export const ACCESS_STATUSES = ["locked", "active", "suspended", "revoked"] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];
export type AccessStatus = (typeof ACCESS_STATUSES)[number];

export interface StatusInputs {
  /** Course price snapshot taken at enrollment, cents ≥ 0. */
  price: number;
  /** Sum of all ledger entries, cents; may be negative while a refund precedes its payment. */
  amountPaid: number;
  /** Number of refund ledger entries. */
  refundCount: number;
  /** Number of disputes currently open. */
  openDisputes: number;
  /** An installment plan's schedule (amounts in order); absent or empty without a plan. */
  installments?: readonly { amount: number }[] | null | undefined;
  /** How many of those installments' deadlines have passed (set by the scheduler); absent = 0. */
  deadlinesPassed?: number | undefined;
}

export interface DerivedStatus {
  amountDue: number;
  amountOverpaid: number;
  paymentStatus: PaymentStatus;
  accessStatus: AccessStatus;
}

export function derivePaymentStatus(price: number, amountPaid: number, refundCount: number): PaymentStatus {
  if (refundCount > 0 && amountPaid <= 0) return "refunded";
  if (amountPaid >= price) return "paid";
  if (amountPaid > 0) return "partial";
  return "unpaid";
}

export function deriveAccessStatus(
  paymentStatus: PaymentStatus,
  openDisputes: number,
  plan?: { installments: readonly { amount: number }[]; deadlinesPassed: number; amountPaid: number },
): AccessStatus {
  if (openDisputes > 0) return "suspended";
  if (paymentStatus === "refunded") return "revoked";
  if (paymentStatus === "paid") return "active";
  if (plan !== undefined && plan.installments.length > 0) {
    const standing = planStanding(plan.installments, plan.deadlinesPassed, plan.amountPaid);
    if (standing === "current") return "active";
    if (standing === "overdue") return "suspended";
  }
  return "locked";
}

export function deriveStatus(inputs: StatusInputs): DerivedStatus {
  const { price, amountPaid, refundCount, openDisputes, deadlinesPassed = 0 } = inputs;
  const installments = inputs.installments ?? [];
  const paymentStatus = derivePaymentStatus(price, amountPaid, refundCount);
  return {
    amountDue: Math.max(price - amountPaid, 0),
    amountOverpaid: Math.max(amountPaid - price, 0),
    paymentStatus,
    accessStatus: deriveAccessStatus(paymentStatus, openDisputes, {
      installments,
      deadlinesPassed,
      amountPaid,
    }),
  };
}

/**
 * The derived fields a stored enrollment must change to agree with the policy, or null when it already agrees.
 * `stored` is the document as read (unknown shape); the caller derives `expected` from the same document's totals.
 */
export function derivedDrift(
  stored: Readonly<Record<string, unknown>>,
  expected: DerivedStatus,
): Partial<DerivedStatus> | null {
  const drift: Partial<DerivedStatus> = {};
  let drifted = false;
  for (const key of ["amountDue", "amountOverpaid", "paymentStatus", "accessStatus"] as const) {
    if (stored[key] !== expected[key]) {
      (drift as Record<string, unknown>)[key] = expected[key];
      drifted = true;
    }
  }
  return drifted ? drift : null;
}

/**
 * The policy's inputs from a stored enrollment of unknown shape, or null when they are not all valid numbers (a
 * plan's `installments` must be a list of `{amount}` with integer amounts; absent means no plan).
 */
export function statusInputsOf(stored: Readonly<Record<string, unknown>>): StatusInputs | null {
  const { price, amountPaid, refundCount, openDisputes, installments, deadlinesPassed = 0 } = stored;
  const totals = { price, amountPaid, refundCount, openDisputes };
  for (const value of [...Object.values(totals), deadlinesPassed]) {
    if (typeof value !== "number" || !Number.isSafeInteger(value)) return null;
  }
  if (installments === undefined || installments === null) return totals as StatusInputs;
  if (!Array.isArray(installments)) return null;
  const amounts: { amount: number }[] = [];
  for (const item of installments as unknown[]) {
    const amount = (item as { amount?: unknown } | null)?.amount;
    if (typeof amount !== "number" || !Number.isSafeInteger(amount)) return null;
    amounts.push({ amount });
  }
  return { ...(totals as StatusInputs), installments: amounts, deadlinesPassed: deadlinesPassed as number };
}

/**
 * The overpayment a write created, or null: the enrollment's totals now exceed its price and did not before (an
 * enrollment that was already overpaid, or is not any more, is not reported again). Overpayments are never refunded
 * automatically: they are surfaced to admins (`listOverpayments`, and a WARN log line per new one).
 */
export function newOverpayment(
  before: Readonly<Record<string, unknown>> | undefined,
  after: Readonly<Record<string, unknown>> | undefined,
): number | null {
  const overpaid = (doc: Readonly<Record<string, unknown>> | undefined): number => {
    const inputs = doc === undefined ? null : statusInputsOf(doc);
    return inputs === null ? 0 : deriveStatus(inputs).amountOverpaid;
  };
  const now = overpaid(after);
  return now > 0 && overpaid(before) === 0 ? now : null;
}
