/**
 * Installment plans: a course's price paid in parts, each by its due date.
 *
 * A course offers plans (`courses/{courseId}.plans[planId]`: how many installments, how many days apart, how many
 * days of grace). `enrollInCourse({planId})` fixes the schedule on the enrollment from the price snapshot: equal
 * parts in cents, the remainder on the first, the first due at enrollment and each next one `intervalDays` later;
 * an installment's deadline is its due date plus the grace period.
 *
 * Payments are not assigned to installments one by one: a payment raises `amountPaid`, and installment k is paid
 * once `amountPaid` reaches the sum of installments 1…k. So "payments apply to the earliest open installment"
 * holds by construction, increments still commute, and a refund reopens the latest paid installments.
 *
 * Time enters only through `deadlinesPassed`, the number of installments whose deadline has passed, which the
 * scheduled `markPassedDeadlines` raises (never lowers). The status policy (statusPolicy.ts) reads it with the
 * totals: access is active while `amountPaid` covers every installment whose deadline passed (and at least the
 * first); an enrollment that paid its first installment but not an overdue one is `suspended`, and paying it
 * restores access at once.
 */
import { minimumChargeCents } from "./money";

export const DAY_MS = 24 * 60 * 60 * 1000;

/** Bounds of a plan an admin may offer. */
export const PLAN_LIMITS = {
  installments: { min: 2, max: 12 },
  intervalDays: { min: 1, max: 365 },
  graceDays: { min: 0, max: 60 },
  plansPerCourse: 5,
} as const;

/** A plan as a course offers it. */
export interface InstallmentPlan {
  installments: number;
  intervalDays: number;
  graceDays: number;
}

/** One installment of an enrollment's schedule (times in epoch milliseconds). */
export interface ScheduledInstallment {
  amount: number;
  dueAtMs: number;
  /** dueAtMs + grace: past it, an unpaid installment suspends access. */
  deadlineMs: number;
}

export type ScheduleDecision =
  { ok: true; schedule: ScheduledInstallment[] } | { ok: false; reason: "price-too-low" };

/**
 * The schedule of `plan` for `price` starting at `startMs`: equal parts, the remainder (< installments cents) on
 * the first. Refused when a part would be below the currency's minimum charge (it could not be paid on its own).
 */
export function scheduleOf(
  price: number,
  currency: string,
  plan: InstallmentPlan,
  startMs: number,
): ScheduleDecision {
  const n = plan.installments;
  const part = Math.floor(price / n);
  if (part < minimumChargeCents(currency)) return { ok: false, reason: "price-too-low" };
  const schedule: ScheduledInstallment[] = [];
  for (let i = 0; i < n; i++) {
    const dueAtMs = startMs + i * plan.intervalDays * DAY_MS;
    schedule.push({
      amount: i === 0 ? price - part * (n - 1) : part,
      dueAtMs,
      deadlineMs: dueAtMs + plan.graceDays * DAY_MS,
    });
  }
  return { ok: true, schedule };
}

/** The number of installments whose deadline is at or before `nowMs` (deadlines ascend). */
export function deadlinesPassedAt(schedule: readonly { deadlineMs: number }[], nowMs: number): number {
  let passed = 0;
  while (passed < schedule.length && (schedule[passed]?.deadlineMs ?? Infinity) <= nowMs) passed++;
  return passed;
}

/** Sum of the first `count` installments' amounts. */
export function cumulativeAmount(amounts: readonly { amount: number }[], count: number): number {
  let sum = 0;
  for (let i = 0; i < Math.min(count, amounts.length); i++) sum += amounts[i]?.amount ?? 0;
  return sum;
}

export type PlanStanding = "current" | "overdue" | "not-started";

/**
 * Where a paid-in-part enrollment on a plan stands: `current` while `amountPaid` covers the first installment and
 * every installment whose deadline passed; `overdue` when it covers the first but not all of those; `not-started`
 * before the first is paid.
 */
export function planStanding(
  amounts: readonly { amount: number }[],
  deadlinesPassed: number,
  amountPaid: number,
): PlanStanding {
  if (amountPaid < cumulativeAmount(amounts, 1)) return "not-started";
  return amountPaid >= cumulativeAmount(amounts, Math.max(deadlinesPassed, 1)) ? "current" : "overdue";
}

/** The next installment not yet covered by `amountPaid`: its index, what is left of it, and when it is due. */
export function nextOpenInstallment(
  schedule: readonly ScheduledInstallment[],
  amountPaid: number,
): { index: number; amount: number; dueAtMs: number; deadlineMs: number } | null {
  let covered = 0;
  for (const [index, installment] of schedule.entries()) {
    covered += installment.amount;
    if (covered > amountPaid) {
      return {
        index,
        amount: covered - Math.max(amountPaid, covered - installment.amount),
        dueAtMs: installment.dueAtMs,
        deadlineMs: installment.deadlineMs,
      };
    }
  }
  return null;
}

/**
 * What a payment with no amount pays on a plan: everything overdue (installments whose deadline passed), else the
 * next open installment — at least the currency's minimum charge and at most what is due overall. Null when
 * nothing is due.
 */
export function planPaymentAmount(
  schedule: readonly ScheduledInstallment[],
  deadlinesPassed: number,
  amountPaid: number,
  amountDue: number,
  currency: string,
): number | null {
  if (amountDue <= 0) return null;
  const overdue = cumulativeAmount(schedule, deadlinesPassed) - amountPaid;
  const next = nextOpenInstallment(schedule, amountPaid);
  const wanted = overdue > 0 ? overdue : (next?.amount ?? amountDue);
  return Math.min(Math.max(wanted, minimumChargeCents(currency)), amountDue);
}

/** A stored schedule (timestamps with `toMillis`, as Firestore returns them) in epoch milliseconds; [] without one. */
export function storedSchedule(
  stored:
    | readonly { amount: number; dueAt: { toMillis(): number }; deadline: { toMillis(): number } }[]
    | null
    | undefined,
): ScheduledInstallment[] {
  return (stored ?? []).map((i) => ({
    amount: i.amount,
    dueAtMs: i.dueAt.toMillis(),
    deadlineMs: i.deadline.toMillis(),
  }));
}
