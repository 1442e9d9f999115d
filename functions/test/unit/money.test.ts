import {
  DEFAULT_MIN_CHARGE_CENTS,
  MAX_AMOUNT_CENTS,
  addCents,
  maxChargeMinorUnits,
  minorUnitDigits,
  decidePaymentAmount,
  decideRefundAmount,
  minimumChargeCents,
  refundableAmount,
} from "../../src/domain/money";

describe("decidePaymentAmount", () => {
  it("pays the remaining balance when the amount is omitted", () => {
    expect(decidePaymentAmount(undefined, 700, "usd")).toEqual({
      ok: true,
      amount: 700,
      isRemainingBalance: true,
    });
  });
  it("accepts minimum charge ≤ amount ≤ amountDue", () => {
    expect(decidePaymentAmount(50, 700, "usd")).toEqual({ ok: true, amount: 50, isRemainingBalance: false });
    expect(decidePaymentAmount(700, 700, "usd")).toEqual({ ok: true, amount: 700, isRemainingBalance: true });
  });
  it("refuses more than is due, nothing due, and non-positive or fractional amounts", () => {
    expect(decidePaymentAmount(701, 700, "usd")).toEqual({ ok: false, reason: "exceeds-amount-due" });
    expect(decidePaymentAmount(undefined, 0, "usd")).toEqual({ ok: false, reason: "nothing-due" });
    expect(decidePaymentAmount(5, 0, "usd")).toEqual({ ok: false, reason: "nothing-due" });
    expect(decidePaymentAmount(0, 700, "usd")).toEqual({ ok: false, reason: "below-minimum" });
    expect(decidePaymentAmount(-5, 700, "usd")).toEqual({ ok: false, reason: "below-minimum" });
    expect(decidePaymentAmount(1.5, 700, "usd")).toEqual({ ok: false, reason: "below-minimum" });
  });
  it("refuses amounts below the currency's minimum charge, even a remaining balance", () => {
    expect(minimumChargeCents("usd")).toBe(50);
    expect(minimumChargeCents("eur")).toBe(50);
    expect(minimumChargeCents("gbp")).toBe(30);
    expect(minimumChargeCents("xyz")).toBe(DEFAULT_MIN_CHARGE_CENTS);
    expect(DEFAULT_MIN_CHARGE_CENTS).toBe(50);
    expect(decidePaymentAmount(1, 700, "usd")).toEqual({ ok: false, reason: "below-minimum-charge" });
    expect(decidePaymentAmount(49, 700, "eur")).toEqual({ ok: false, reason: "below-minimum-charge" });
    expect(decidePaymentAmount(30, 700, "gbp")).toEqual({ ok: true, amount: 30, isRemainingBalance: false });
    expect(decidePaymentAmount(undefined, 49, "usd")).toEqual({ ok: false, reason: "below-minimum-charge" });
    expect(decidePaymentAmount(49, 49, "usd")).toEqual({ ok: false, reason: "below-minimum-charge" });
  });
});

describe("currencies", () => {
  it("a single charge has at most 8 digits of minor units, 12 in IDR", () => {
    expect(maxChargeMinorUnits("usd")).toBe(99_999_999);
    expect(maxChargeMinorUnits("idr")).toBe(999_999_999_999);
    expect(MAX_AMOUNT_CENTS).toBe(999_999_999_999);
    expect(decidePaymentAmount(undefined, 100_000_000, "usd")).toEqual({
      ok: false,
      reason: "above-maximum-charge",
    });
    expect(decidePaymentAmount(99_999_999, 100_000_000, "usd")).toEqual({
      ok: true,
      amount: 99_999_999,
      isRemainingBalance: false,
    });
    expect(decidePaymentAmount(undefined, 250_000_000_000, "idr")).toEqual({
      ok: true,
      amount: 250_000_000_000,
      isRemainingBalance: true,
    });
  });

  it("zero-decimal currencies count whole units; three-decimal ones thousandths ending in 0", () => {
    for (const c of ["jpy", "krw", "vnd", "clp", "xof"]) expect(minorUnitDigits(c)).toBe(0);
    for (const c of ["usd", "eur", "idr", "huf"]) expect(minorUnitDigits(c)).toBe(2);
    for (const c of ["kwd", "bhd", "jod", "omr", "tnd"]) expect(minorUnitDigits(c)).toBe(3);
    // ¥50 is Stripe's minimum: 50 whole yen.
    expect(minimumChargeCents("jpy")).toBe(50);
    expect(decidePaymentAmount(49, 4900, "jpy")).toEqual({ ok: false, reason: "below-minimum-charge" });
    expect(decidePaymentAmount(4900, 4900, "jpy")).toEqual({
      ok: true,
      amount: 4900,
      isRemainingBalance: true,
    });
    expect(decidePaymentAmount(1005, 5000, "kwd")).toEqual({ ok: false, reason: "not-representable" });
    expect(decidePaymentAmount(1010, 5000, "kwd")).toEqual({
      ok: true,
      amount: 1010,
      isRemainingBalance: false,
    });
  });
});

describe("refunds", () => {
  it("bounds a refund by what is still refundable", () => {
    expect(refundableAmount(1000, 300)).toBe(700);
    expect(refundableAmount(1000, 1200)).toBe(0);
    expect(decideRefundAmount(undefined, 1000, 300)).toEqual({ ok: true, amount: 700, isFull: true });
    expect(decideRefundAmount(200, 1000, 300)).toEqual({ ok: true, amount: 200, isFull: false });
    expect(decideRefundAmount(701, 1000, 300)).toEqual({ ok: false, reason: "exceeds-refundable" });
    expect(decideRefundAmount(undefined, 1000, 1000)).toEqual({ ok: false, reason: "nothing-refundable" });
    expect(decideRefundAmount(0, 1000, 0)).toEqual({ ok: false, reason: "below-minimum" });
  });
});

describe("addCents", () => {
  it("adds exactly and refuses unsafe results", () => {
    expect(addCents(5, -7)).toBe(-2);
    expect(() => addCents(Number.MAX_SAFE_INTEGER, 1)).toThrow(RangeError);
    expect(() => addCents(0.5, 1)).toThrow(RangeError);
  });
});
