import { decideRate } from "../../src/domain/rateLimit";

const rule = { limit: 3, windowMs: 60_000 };

describe("decideRate", () => {
  it("opens a window on the first action and counts up to the limit", () => {
    const first = decideRate(rule, 1_000, undefined);
    expect(first).toEqual({ ok: true, next: { windowStartMs: 1_000, count: 1 } });
    expect(decideRate(rule, 2_000, { windowStartMs: 1_000, count: 2 })).toEqual({
      ok: true,
      next: { windowStartMs: 1_000, count: 3 },
    });
  });

  it("refuses past the limit until the window ends, with the seconds left (at least 1)", () => {
    expect(decideRate(rule, 31_000, { windowStartMs: 1_000, count: 3 })).toEqual({
      ok: false,
      retryAfterSeconds: 30,
    });
    expect(decideRate(rule, 60_999, { windowStartMs: 1_000, count: 3 })).toEqual({
      ok: false,
      retryAfterSeconds: 1,
    });
  });

  it("a new window starts once the old one has passed (or if the stored start lies in the future)", () => {
    expect(decideRate(rule, 61_000, { windowStartMs: 1_000, count: 3 })).toEqual({
      ok: true,
      next: { windowStartMs: 61_000, count: 1 },
    });
    expect(decideRate(rule, 1_000, { windowStartMs: 500_000, count: 3 })).toEqual({
      ok: true,
      next: { windowStartMs: 1_000, count: 1 },
    });
  });
});
