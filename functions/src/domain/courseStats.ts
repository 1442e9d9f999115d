/**
 * Per-course aggregates. Each enrollment contributes (enrolled 1, paid 0|1, revenue = amountPaid); a trigger
 * adds (after − before) of every write with increments. Deltas of all writes telescope to the current sum in
 * any delivery order, so only duplicate deliveries need guarding (by the event id).
 */

export interface StatsContribution {
  enrolled: number;
  paid: number;
  revenue: number;
}

export interface EnrollmentLike {
  paymentStatus?: unknown;
  amountPaid?: unknown;
}

export const ZERO_CONTRIBUTION: StatsContribution = { enrolled: 0, paid: 0, revenue: 0 };

export function contributionOf(enrollment: EnrollmentLike | undefined): StatsContribution {
  if (enrollment === undefined) return ZERO_CONTRIBUTION;
  const amountPaid =
    typeof enrollment.amountPaid === "number" && Number.isSafeInteger(enrollment.amountPaid)
      ? enrollment.amountPaid
      : 0;
  return { enrolled: 1, paid: enrollment.paymentStatus === "paid" ? 1 : 0, revenue: amountPaid };
}

export function statsDelta(
  before: EnrollmentLike | undefined,
  after: EnrollmentLike | undefined,
): StatsContribution {
  const a = contributionOf(before);
  const b = contributionOf(after);
  return { enrolled: b.enrolled - a.enrolled, paid: b.paid - a.paid, revenue: b.revenue - a.revenue };
}

export function isZeroDelta(delta: StatsContribution): boolean {
  return delta.enrolled === 0 && delta.paid === 0 && delta.revenue === 0;
}

/** The sum of two contributions (several writes' deltas committed as one increment). */
export function addContributions(a: StatsContribution, b: StatsContribution): StatsContribution {
  return { enrolled: a.enrolled + b.enrolled, paid: a.paid + b.paid, revenue: a.revenue + b.revenue };
}
