import {
  PARK_LIMIT_MS,
  decideParked,
  decideUnknownPayment,
  lookupPaymentId,
  parkedToReplay,
} from "../../src/domain/parking";
import type { WebhookCommand } from "../../src/domain/webhookMapping";

describe("decideUnknownPayment: whose payment an early refund or dispute concerns", () => {
  it.each([
    ["a checkout of ours names it", { uid: "u1", courseId: "c1" }, undefined, "park", "checkout"],
    [
      "the checkout wins over the provider's metadata",
      { uid: "u1", courseId: "c1" },
      { uid: "x", courseId: "y" },
      "park",
      "checkout",
    ],
    [
      "the provider holds it with our metadata",
      null,
      { uid: "u1", courseId: "c1", checkoutId: "k1" },
      "park",
      "provider",
    ],
    ["the provider holds it without our metadata", null, { order: "shop-1" }, "ignore", null],
    ["the provider holds it with only a uid", null, { uid: "u1" }, "ignore", null],
    [
      "the provider holds it with metadata that cannot be ours",
      null,
      { uid: "a/b", courseId: "c1" },
      "ignore",
      null,
    ],
    ["the provider has no such payment", null, null, "ignore", null],
  ] as const)("%s", (_label, checkout, metadata, kind, via) => {
    const decision = decideUnknownPayment(checkout, metadata);
    expect(decision.kind).toBe(kind);
    if (decision.kind === "park") expect(decision.owner.via).toBe(via);
  });
});

describe("decideParked: what the sweep does", () => {
  const deadline = 1_000_000 + PARK_LIMIT_MS;
  it.each([
    [true, deadline - 1, "replay"],
    [true, deadline + 1, "replay"],
    [false, deadline - 1, "wait"],
    [false, deadline, "dead-letter"],
    [false, deadline + 1, "dead-letter"],
  ] as const)("payment known %s at %d → %s", (known, now, expected) => {
    expect(decideParked(known, deadline, now)).toBe(expected);
  });
  it("the limit is a week", () => {
    expect(PARK_LIMIT_MS).toBe(7 * 24 * 3600 * 1000);
  });
});

describe("lookupPaymentId", () => {
  const entries: WebhookCommand = {
    kind: "applyEntries",
    target: { kind: "lookup", providerPaymentId: "pi_1" },
    entries: [],
    checkoutId: null,
  };
  it("is the payment a refund or dispute finds its enrollment by, and null otherwise", () => {
    expect(lookupPaymentId(entries)).toBe("pi_1");
    expect(lookupPaymentId({ ...entries, target: { kind: "known", uid: "u", courseId: "c" } })).toBeNull();
    expect(lookupPaymentId({ kind: "noop", reason: "x" })).toBeNull();
    expect(lookupPaymentId({ kind: "deadLetter", reason: "metadata-missing" })).toBeNull();
  });
});

describe("parkedToReplay: the parked count to replay for when an enrollment write may have brought their payment", () => {
  /** An enrollment's two signal fields (the count absent on documents older than it). */
  const doc = (ledgerCount: number, parkedEvents?: number) =>
    parkedEvents === undefined ? { ledgerCount } : { ledgerCount, parkedEvents };
  it.each([
    ["a payment lands while one event is parked", doc(0, 1), doc(1, 1), 1],
    ["a group commit adds several entries", doc(2, 3), doc(5, 3), 3],
    ["the park's own write (count raised, no entry)", doc(1, 0), doc(1, 1), null],
    ["a status correction while parked", doc(1, 1), doc(1, 1), null],
    ["a payment with nothing parked", doc(0, 0), doc(1, 0), null],
    ["a payment on a document older than the count", doc(0), doc(1), null],
    ["an entry added with the count back at 0", doc(1, 1), doc(2, 0), null],
    ["the enrollment created with a count (never by this backend)", undefined, doc(1, 1), 1],
    ["the enrollment deleted", doc(1, 1), undefined, null],
    ["garbage in the fields", { ledgerCount: "x" }, { ledgerCount: 1, parkedEvents: "2" }, null],
  ] as const)("%s → %s", (_label, before, after, expected) => {
    expect(parkedToReplay(before, after)).toBe(expected);
  });
});
