import fc from "fast-check";
import {
  DAY_MS,
  cumulativeAmount,
  deadlinesPassedAt,
  nextOpenInstallment,
  planPaymentAmount,
  planStanding,
  scheduleOf,
  type ScheduledInstallment,
} from "../../src/domain/installments";
import { deriveStatus, statusInputsOf } from "../../src/domain/statusPolicy";

const T0 = Date.UTC(2026, 0, 1);
const plan = { installments: 3, intervalDays: 30, graceDays: 5 };

function schedule(price: number, p = plan): ScheduledInstallment[] {
  const decision = scheduleOf(price, "usd", p, T0);
  if (!decision.ok) throw new Error(decision.reason);
  return decision.schedule;
}

describe("scheduleOf", () => {
  it("splits the price into equal parts, the remainder on the first, due every interval from the start", () => {
    expect(schedule(10000)).toEqual([
      { amount: 3334, dueAtMs: T0, deadlineMs: T0 + 5 * DAY_MS },
      { amount: 3333, dueAtMs: T0 + 30 * DAY_MS, deadlineMs: T0 + 35 * DAY_MS },
      { amount: 3333, dueAtMs: T0 + 60 * DAY_MS, deadlineMs: T0 + 65 * DAY_MS },
    ]);
  });

  it("always sums to the price exactly, with parts that differ by less than the number of installments", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 600, max: 10_000_000 }), (n, price) => {
        const parts = schedule(price, { ...plan, installments: n }).map((i) => i.amount);
        expect(parts.reduce((a, b) => a + b, 0)).toBe(price);
        expect((parts[0] ?? 0) - Math.min(...parts)).toBeLessThan(n);
      }),
    );
  });

  it("refuses a plan whose parts would be below the currency's minimum charge", () => {
    expect(scheduleOf(120, "usd", plan, T0)).toEqual({ ok: false, reason: "price-too-low" });
    expect(scheduleOf(150, "usd", plan, T0).ok).toBe(true);
  });
});

describe("deadlines and standing", () => {
  const s = schedule(9000); // 3000 × 3, deadlines at +5, +35, +65 days

  it("counts the deadlines at or before now", () => {
    expect(deadlinesPassedAt(s, T0)).toBe(0);
    expect(deadlinesPassedAt(s, T0 + 5 * DAY_MS - 1)).toBe(0);
    expect(deadlinesPassedAt(s, T0 + 5 * DAY_MS)).toBe(1);
    expect(deadlinesPassedAt(s, T0 + 40 * DAY_MS)).toBe(2);
    expect(deadlinesPassedAt(s, T0 + 400 * DAY_MS)).toBe(3);
  });

  it.each([
    // deadlinesPassed, amountPaid → standing
    [0, 0, "not-started"],
    [0, 2999, "not-started"],
    [0, 3000, "current"],
    [1, 3000, "current"],
    [2, 3000, "overdue"],
    [2, 5999, "overdue"],
    [2, 6000, "current"],
    [3, 6000, "overdue"],
    [3, 9000, "current"],
    [0, 9000, "current"],
    [3, 0, "not-started"],
  ] as const)("%i deadlines passed, %i paid → %s", (passed, paid, standing) => {
    expect(planStanding(s, passed, paid)).toBe(standing);
  });

  it("payments fill the earliest open installment first", () => {
    expect(nextOpenInstallment(s, 0)).toMatchObject({ index: 0, amount: 3000 });
    expect(nextOpenInstallment(s, 1000)).toMatchObject({ index: 0, amount: 2000 });
    expect(nextOpenInstallment(s, 3000)).toMatchObject({ index: 1, amount: 3000, dueAtMs: T0 + 30 * DAY_MS });
    expect(nextOpenInstallment(s, 7500)).toMatchObject({ index: 2, amount: 1500 });
    expect(nextOpenInstallment(s, 9000)).toBeNull();
    expect(nextOpenInstallment(s, -500)).toMatchObject({ index: 0, amount: 3000 });
  });

  it("a payment with no amount pays everything overdue, else the next installment, within [minimum, due]", () => {
    const pay = (passed: number, paid: number) => planPaymentAmount(s, passed, paid, 9000 - paid, "usd");
    expect(pay(0, 0)).toBe(3000);
    expect(pay(0, 3000)).toBe(3000);
    expect(pay(3, 3000)).toBe(6000);
    expect(pay(2, 4000)).toBe(2000);
    expect(pay(0, 5990)).toBe(50); // 10 left of installment 2: the minimum charge instead
    expect(pay(0, 8990)).toBe(10); // … but never more than is due
    expect(pay(3, 9000)).toBeNull();
  });

  it("cumulative sums", () => {
    expect(cumulativeAmount(s, 0)).toBe(0);
    expect(cumulativeAmount(s, 2)).toBe(6000);
    expect(cumulativeAmount(s, 9)).toBe(9000);
  });
});

describe("the status policy on a plan", () => {
  const installments = schedule(9000).map(({ amount }) => ({ amount }));
  const on = (amountPaid: number, deadlinesPassed: number, extra = {}) =>
    deriveStatus({
      price: 9000,
      amountPaid,
      refundCount: 0,
      openDisputes: 0,
      installments,
      deadlinesPassed,
      ...extra,
    });

  it.each([
    [0, 0, "unpaid", "locked"],
    [3000, 0, "partial", "active"],
    [3000, 2, "partial", "suspended"],
    [6000, 2, "partial", "active"],
    [6000, 3, "partial", "suspended"],
    [9000, 3, "paid", "active"],
    [2999, 1, "partial", "locked"],
  ] as const)("paid %i with %i deadlines passed → %s/%s", (paid, passed, paymentStatus, accessStatus) => {
    expect(on(paid, passed)).toMatchObject({ paymentStatus, accessStatus, amountDue: 9000 - paid });
  });

  it("disputes and refunds win over the plan, as without one", () => {
    expect(on(3000, 0, { openDisputes: 1 }).accessStatus).toBe("suspended");
    expect(on(0, 1, { refundCount: 1 }).accessStatus).toBe("revoked");
  });

  it("reads the plan from a stored enrollment; a malformed schedule is no valid input", () => {
    const stored = { price: 9000, amountPaid: 3000, refundCount: 0, openDisputes: 0 };
    expect(
      statusInputsOf({ ...stored, installments: [{ amount: 4500 }, { amount: 4500 }], deadlinesPassed: 2 }),
    ).toEqual({ ...stored, installments: [{ amount: 4500 }, { amount: 4500 }], deadlinesPassed: 2 });
    expect(statusInputsOf(stored)).toEqual(stored);
    expect(statusInputsOf({ ...stored, installments: [{ amount: "4500" }] })).toBeNull();
    expect(statusInputsOf({ ...stored, installments: "x" })).toBeNull();
    expect(statusInputsOf({ ...stored, deadlinesPassed: 1.5 })).toBeNull();
  });
});
