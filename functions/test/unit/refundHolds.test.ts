import { HOLD_TTL_MS, heldAmount, liveHolds, type RefundHold } from "../../src/domain/refundHolds";

const NOW = 1_900_000_000_000;
const hold = (amount: number, refundId: string | null, ageMs = 0): RefundHold => ({
  amount,
  refundId,
  heldAtMs: NOW - ageMs,
});

describe("refund holds", () => {
  it("a hold counts until its refund is in the ledger or it expires", () => {
    const holds = {
      inFlight: hold(1000, null),
      answered: hold(2000, "re_1"),
      recorded: hold(300, "re_2"),
      expired: hold(400, null, HOLD_TTL_MS),
      almost: hold(50, null, HOLD_TTL_MS - 1),
    };
    const live = liveHolds(holds, NOW, (id) => id === "re_2");
    expect(Object.keys(live).sort()).toEqual(["almost", "answered", "inFlight"]);
    expect(heldAmount(live)).toBe(3050);
  });

  it("a request's own hold is not counted against itself", () => {
    const holds = { a: hold(1000, null), b: hold(2000, null) };
    expect(heldAmount(holds, "a")).toBe(2000);
    expect(heldAmount(holds, "missing")).toBe(3000);
    expect(heldAmount({})).toBe(0);
  });
});
