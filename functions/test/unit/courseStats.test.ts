import { contributionOf, isZeroDelta, statsDelta } from "../../src/domain/courseStats";

describe("course stats deltas", () => {
  it("counts creation, payment and deletion", () => {
    expect(statsDelta(undefined, { paymentStatus: "unpaid", amountPaid: 0 })).toEqual({
      enrolled: 1,
      paid: 0,
      revenue: 0,
    });
    expect(
      statsDelta({ paymentStatus: "unpaid", amountPaid: 0 }, { paymentStatus: "paid", amountPaid: 1000 }),
    ).toEqual({
      enrolled: 0,
      paid: 1,
      revenue: 1000,
    });
    expect(statsDelta({ paymentStatus: "paid", amountPaid: 1000 }, undefined)).toEqual({
      enrolled: -1,
      paid: -1,
      revenue: -1000,
    });
  });
  it("is zero for writes that do not touch money or status", () => {
    expect(
      isZeroDelta(
        statsDelta({ paymentStatus: "partial", amountPaid: 5 }, { paymentStatus: "partial", amountPaid: 5 }),
      ),
    ).toBe(true);
  });
  it("treats garbage amounts as zero", () => {
    expect(contributionOf({ paymentStatus: "paid", amountPaid: "1000" })).toEqual({
      enrolled: 1,
      paid: 1,
      revenue: 0,
    });
  });
  it("deltas telescope: the sum over any chain equals last − first", () => {
    const chain = [
      undefined,
      { paymentStatus: "unpaid", amountPaid: 0 },
      { paymentStatus: "partial", amountPaid: 400 },
      { paymentStatus: "paid", amountPaid: 1000 },
      { paymentStatus: "refunded", amountPaid: 0 },
    ];
    const sum = { enrolled: 0, paid: 0, revenue: 0 };
    for (let i = 1; i < chain.length; i++) {
      const d = statsDelta(chain[i - 1], chain[i]);
      sum.enrolled += d.enrolled;
      sum.paid += d.paid;
      sum.revenue += d.revenue;
    }
    expect(sum).toEqual({ enrolled: 1, paid: 0, revenue: 0 });
  });
});
