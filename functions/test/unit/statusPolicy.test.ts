import fc from "fast-check";
import { derivedDrift, deriveStatus, statusInputsOf } from "../../src/domain/statusPolicy";

describe("status policy", () => {
  const base = { refundCount: 0, openDisputes: 0 };

  it.each([
    // price, amountPaid, refundCount, openDisputes → paymentStatus, accessStatus, amountDue, amountOverpaid
    [1000, 0, 0, 0, "unpaid", "locked", 1000, 0],
    [1000, 1, 0, 0, "partial", "locked", 999, 0],
    [1000, 999, 0, 0, "partial", "locked", 1, 0],
    [1000, 1000, 0, 0, "paid", "active", 0, 0],
    [1000, 1500, 0, 0, "paid", "active", 0, 500],
    [1000, 0, 1, 0, "refunded", "revoked", 1000, 0],
    [1000, -200, 1, 0, "refunded", "revoked", 1200, 0],
    [1000, 400, 1, 0, "partial", "locked", 600, 0],
    [1000, 1000, 1, 0, "paid", "active", 0, 0],
    [1000, 1000, 0, 1, "paid", "suspended", 0, 0],
    [1000, 0, 1, 2, "refunded", "suspended", 1000, 0],
    [0, 0, 0, 0, "paid", "active", 0, 0],
    [0, 0, 1, 0, "refunded", "revoked", 0, 0],
    [1000, -100, 0, 0, "unpaid", "locked", 1100, 0],
  ] as const)(
    "price %i paid %i refunds %i disputes %i → %s/%s due %i over %i",
    (
      price,
      amountPaid,
      refundCount,
      openDisputes,
      paymentStatus,
      accessStatus,
      amountDue,
      amountOverpaid,
    ) => {
      expect(deriveStatus({ price, amountPaid, refundCount, openDisputes })).toEqual({
        paymentStatus,
        accessStatus,
        amountDue,
        amountOverpaid,
      });
    },
  );

  it("keeps amountDue − amountOverpaid = price − amountPaid, both ≥ 0", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e8 }),
        fc.integer({ min: -1e8, max: 2e8 }),
        (price, amountPaid) => {
          const d = deriveStatus({ price, amountPaid, ...base });
          expect(d.amountDue - d.amountOverpaid).toBe(price - amountPaid);
          expect(d.amountDue).toBeGreaterThanOrEqual(0);
          expect(d.amountOverpaid).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });

  it("an open dispute always suspends, whatever the totals", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: -1e6, max: 2e6 }),
        fc.nat(5),
        fc.integer({ min: 1, max: 5 }),
        (price, amountPaid, refundCount, openDisputes) => {
          expect(deriveStatus({ price, amountPaid, refundCount, openDisputes }).accessStatus).toBe(
            "suspended",
          );
        },
      ),
    );
  });
});

describe("derivedDrift / statusInputsOf (what onEnrollmentWritten corrects)", () => {
  const stored = {
    price: 1000,
    amountPaid: 1000,
    refundCount: 0,
    openDisputes: 0,
    amountDue: 500,
    amountOverpaid: 0,
    paymentStatus: "partial",
    accessStatus: "locked",
  };

  it("names exactly the derived fields that differ from the policy", () => {
    const inputs = statusInputsOf(stored);
    expect(inputs).toEqual({ price: 1000, amountPaid: 1000, refundCount: 0, openDisputes: 0 });
    expect(inputs && derivedDrift(stored, deriveStatus(inputs))).toEqual({
      amountDue: 0,
      paymentStatus: "paid",
      accessStatus: "active",
    });
  });

  it("is null when the stored fields agree, and inputs are null when a total is not an integer", () => {
    const agreeing = {
      ...stored,
      ...deriveStatus({ price: 1000, amountPaid: 1000, refundCount: 0, openDisputes: 0 }),
    };
    expect(
      derivedDrift(
        agreeing,
        deriveStatus({ price: 1000, amountPaid: 1000, refundCount: 0, openDisputes: 0 }),
      ),
    ).toBeNull();
    expect(statusInputsOf({ ...stored, amountPaid: "1000" })).toBeNull();
    expect(statusInputsOf({ ...stored, openDisputes: undefined })).toBeNull();
    expect(statusInputsOf({ ...stored, price: 1.5 })).toBeNull();
  });
});
