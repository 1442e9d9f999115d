import {
  checkoutMismatches,
  decideDisputeTakeBack,
  decideRefundTakeBack,
  standingOf,
  type CheckoutFacts,
  type PaymentClaim,
} from "../../src/domain/eventClaims";

const checkout: CheckoutFacts = {
  uid: "alice",
  courseId: "c1",
  amount: 5000,
  currency: "usd",
  providerPaymentId: "pi_1",
};
const claim: PaymentClaim = {
  uid: "alice",
  courseId: "c1",
  amount: 5000,
  currency: "usd",
  providerPaymentId: "pi_1",
};

describe("checkoutMismatches", () => {
  it("accepts the checkout's own payment, also before the checkout learnt its payment id", () => {
    expect(checkoutMismatches(checkout, claim)).toEqual([]);
    expect(checkoutMismatches({ ...checkout, providerPaymentId: null }, claim)).toEqual([]);
  });

  it("names every field the checkout contradicts", () => {
    expect(
      checkoutMismatches(checkout, {
        uid: "bob",
        courseId: "c2",
        amount: 50,
        currency: "eur",
        providerPaymentId: "pi_other",
      }),
    ).toEqual(["uid", "courseId", "currency", "amount", "providerPaymentId"]);
  });

  it("a missing checkout or an alias record is never a payment's checkout", () => {
    expect(checkoutMismatches(undefined, claim)).toEqual(["checkout"]);
    expect(checkoutMismatches({ ...checkout, aliasOf: "other" }, claim)).toEqual(["checkout"]);
  });
});

describe("take-backs", () => {
  const enrollment = {
    refundedByPayment: { pi_1: 500 },
    disputes: {
      dp_1: { outcome: "lost", amount: 1000, providerPaymentId: "pi_1" },
      dp_2: { outcome: "won", amount: 4000, providerPaymentId: "pi_1" },
      dp_3: { outcome: "lost", amount: 700, providerPaymentId: "pi_9" },
    },
  };

  it("standing: the payment's entry, its refunds and its lost disputes only", () => {
    expect(standingOf("pi_1", { type: "payment", amount: 5000 }, enrollment)).toEqual({
      paymentAmount: 5000,
      refunded: 500,
      lostToDisputes: 1000,
    });
    expect(standingOf("pi_1", { type: "refund", amount: -5 }, enrollment).paymentAmount).toBeUndefined();
    expect(standingOf("pi_1", undefined, enrollment).paymentAmount).toBeUndefined();
  });

  it("a refund takes at most the payment minus refunds and lost disputes", () => {
    const standing = { paymentAmount: 5000, refunded: 500, lostToDisputes: 1000 };
    expect(decideRefundTakeBack(standing, 3500)).toEqual({ ok: true });
    expect(decideRefundTakeBack(standing, 3501)).toEqual({ ok: false, reason: "exceeds-payment" });
    expect(decideRefundTakeBack(standing, 99_999_999)).toEqual({ ok: false, reason: "exceeds-payment" });
    expect(decideRefundTakeBack(standing, 0)).toEqual({ ok: false, reason: "invalid-amount" });
    expect(decideRefundTakeBack({ ...standing, paymentAmount: undefined }, 1)).toEqual({
      ok: false,
      reason: "unknown-payment",
    });
  });

  it("a dispute takes at most the payment minus its refunds", () => {
    const standing = { paymentAmount: 5000, refunded: 500, lostToDisputes: 0 };
    expect(decideDisputeTakeBack(standing, 4500)).toEqual({ ok: true });
    expect(decideDisputeTakeBack(standing, 5000)).toEqual({ ok: false, reason: "exceeds-payment" });
    expect(decideDisputeTakeBack({ ...standing, paymentAmount: undefined }, 1)).toEqual({
      ok: false,
      reason: "unknown-payment",
    });
  });
});
