import {
  CHECKOUT_STATUSES,
  isOpenCheckoutStatus,
  isStaleCheckout,
  nextCheckoutStatus,
} from "../../src/domain/checkoutStatus";

describe("checkout status transitions", () => {
  it("moves creating → pending → succeeded", () => {
    expect(nextCheckoutStatus("creating", "provider-created")).toBe("pending");
    expect(nextCheckoutStatus("pending", "succeeded")).toBe("succeeded");
  });
  it("never leaves succeeded or canceled", () => {
    for (const event of ["provider-created", "succeeded", "failed", "canceled"] as const) {
      expect(nextCheckoutStatus("succeeded", event)).toBe("succeeded");
      expect(nextCheckoutStatus("canceled", event)).toBe("canceled");
    }
  });
  it("lets a failed payment still succeed (customer retries the same intent)", () => {
    expect(nextCheckoutStatus("failed", "succeeded")).toBe("succeeded");
    expect(nextCheckoutStatus("succeeded", "failed")).toBe("succeeded");
  });
  it("provider-created only moves creating", () => {
    for (const s of CHECKOUT_STATUSES.filter((x) => x !== "creating")) {
      expect(nextCheckoutStatus(s, "provider-created")).toBe(s);
    }
  });
  it("open = creating or pending", () => {
    expect(CHECKOUT_STATUSES.filter(isOpenCheckoutStatus)).toEqual(["creating", "pending"]);
  });
});

describe("stale checkouts", () => {
  it("a payable checkout for more than is owed is stale; one for at most the balance is not", () => {
    for (const status of ["creating", "pending", "failed"] as const) {
      expect(isStaleCheckout({ status, amount: 5000 }, 4000)).toBe(true);
      expect(isStaleCheckout({ status, amount: 5000 }, 0)).toBe(true);
      expect(isStaleCheckout({ status, amount: 4000 }, 4000)).toBe(false);
      expect(isStaleCheckout({ status, amount: 1000 }, 4000)).toBe(false);
    }
  });
  it("a final checkout is never stale (a succeeded payment is what lowered the balance)", () => {
    for (const status of ["succeeded", "canceled"] as const)
      expect(isStaleCheckout({ status, amount: 5000 }, 0)).toBe(false);
  });
});
