import { CHECKOUT_STATUSES, isOpenCheckoutStatus, nextCheckoutStatus } from "../../src/domain/checkoutStatus";

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
