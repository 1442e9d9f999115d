import fc from "fast-check";
import {
  addDeltas,
  applyDelta,
  decideLedgerApplication,
  ZERO_DELTA,
  type LedgerEntryInput,
  type LedgerTotals,
} from "../../src/domain/ledger";
import { deriveStatus } from "../../src/domain/statusPolicy";

const empty: LedgerTotals = {
  price: 1000,
  currency: "usd",
  amountPaid: 0,
  ledgerCount: 0,
  refundCount: 0,
  refundedByPayment: {},
  openDisputes: 0,
};

const pay = (id: string, amount: number): LedgerEntryInput => ({
  id,
  type: "payment",
  amount,
  currency: "usd",
  source: "stripe",
  providerPaymentId: id,
});
const refund = (id: string, paymentId: string, amount: number): LedgerEntryInput => ({
  id,
  type: "refund",
  amount: -amount,
  currency: "usd",
  source: "stripe",
  providerPaymentId: paymentId,
  providerRefundId: id,
});

/**
 * What the backend does: each entry not recorded yet adds its delta with increments (in any order, each once: the
 * entry's document is created in the same commit). The result is what Firestore stores.
 */
function applyAll(totals: LedgerTotals, entries: readonly LedgerEntryInput[]): LedgerTotals {
  const recorded = new Set<string>();
  let delta = ZERO_DELTA;
  for (const entry of entries) {
    const decision = decideLedgerApplication(totals.currency, recorded.has(entry.id), entry);
    if (decision.kind !== "apply") continue;
    recorded.add(entry.id);
    delta = addDeltas(delta, decision.delta);
  }
  return applyDelta(totals, delta);
}

describe("decideLedgerApplication", () => {
  it("a refund's reversal undoes exactly what the refund did (a refund that failed nets to zero)", () => {
    const refund: LedgerEntryInput = {
      id: "re_1",
      type: "refund",
      amount: -400,
      currency: "usd",
      source: "stripe",
      providerPaymentId: "pi_1",
      providerRefundId: "re_1",
    };
    const reversal: LedgerEntryInput = {
      ...refund,
      id: "re_1_reversal",
      type: "refund-reversal",
      amount: 400,
    };
    const a = decideLedgerApplication("usd", false, refund);
    const b = decideLedgerApplication("usd", false, reversal);
    expect(b).toEqual({
      kind: "apply",
      delta: { amountPaid: 400, ledgerCount: 1, refundCount: -1, refundedByPayment: { pi_1: -400 } },
    });
    expect(a.kind === "apply" && b.kind === "apply" && addDeltas(a.delta, b.delta)).toEqual({
      amountPaid: 0,
      ledgerCount: 2,
      refundCount: 0,
      refundedByPayment: { pi_1: 0 },
    });
    expect(decideLedgerApplication("usd", false, { ...reversal, amount: -400 })).toEqual({
      kind: "reject",
      reason: "invalid-amount",
    });
  });

  it("a new payment adds its amount and one ledger entry", () => {
    const d = decideLedgerApplication("usd", false, pay("pi_1", 1000));
    expect(d).toEqual({
      kind: "apply",
      delta: { amountPaid: 1000, ledgerCount: 1, refundCount: 0, refundedByPayment: {} },
    });
    expect(d.kind === "apply" && deriveStatus(applyDelta(empty, d.delta))).toEqual({
      amountDue: 0,
      amountOverpaid: 0,
      paymentStatus: "paid",
      accessStatus: "active",
    });
  });

  it("changes nothing when the ledger entry already exists", () => {
    expect(decideLedgerApplication("usd", true, pay("pi_1", 1000))).toEqual({ kind: "duplicate" });
  });

  it("tracks refunded cents per payment", () => {
    const d = decideLedgerApplication("usd", false, refund("re_1", "pi_1", 300));
    expect(d).toEqual({
      kind: "apply",
      delta: { amountPaid: -300, ledgerCount: 1, refundCount: 1, refundedByPayment: { pi_1: 300 } },
    });
    const after =
      d.kind === "apply" ? applyDelta({ ...empty, amountPaid: 1000, ledgerCount: 1 }, d.delta) : empty;
    expect(after.refundedByPayment).toEqual({ pi_1: 300 });
    expect(deriveStatus(after).paymentStatus).toBe("partial");
  });

  it("rejects wrong signs, zero, fractional amounts and other currencies", () => {
    for (const entry of [
      pay("pi_1", -5),
      pay("pi_1", 0),
      pay("pi_1", 1.5),
      { ...refund("re_1", "pi_1", 5), amount: 5 },
    ]) {
      expect(decideLedgerApplication("usd", false, entry)).toEqual({
        kind: "reject",
        reason: "invalid-amount",
      });
    }
    expect(decideLedgerApplication("usd", false, { ...pay("pi_1", 5), currency: "eur" })).toEqual({
      kind: "reject",
      reason: "currency-mismatch",
    });
  });

  it("sums deltas per payment", () => {
    const refunds = [refund("re_1", "pi_1", 100), refund("re_2", "pi_1", 50), refund("re_3", "pi_2", 7)];
    const totals = applyAll({ ...empty, amountPaid: 2000, ledgerCount: 2 }, refunds);
    expect(totals).toMatchObject({
      amountPaid: 1843,
      ledgerCount: 5,
      refundCount: 3,
      refundedByPayment: { pi_1: 150, pi_2: 7 },
    });
  });
});

describe("order independence (property)", () => {
  const entriesArb = fc
    .array(fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 3 })), {
      minLength: 1,
      maxLength: 6,
    })
    .map((specs) => {
      const out: LedgerEntryInput[] = [];
      specs.forEach(([amount, refunds], i) => {
        out.push(pay(`pi_${i}`, amount));
        for (let r = 0; r < refunds; r++)
          out.push(refund(`re_${i}_${r}`, `pi_${i}`, Math.max(1, Math.floor(amount / 4))));
      });
      return out;
    });

  it("any permutation with any duplicates converges to the same totals and statuses", () => {
    fc.assert(
      fc.property(
        entriesArb,
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.double({ noNaN: true }), { minLength: 40, maxLength: 40 }),
        (entries, price, dupIdx, sortKeys) => {
          const start = { ...empty, price };
          const natural = applyAll(start, entries);
          const withDups = [
            ...entries,
            ...dupIdx.map((i) => entries[i % entries.length]).filter((e) => e !== undefined),
          ];
          const shuffled = withDups
            .map((entry, i) => ({ entry, key: sortKeys[i % sortKeys.length] ?? 0 }))
            .sort((a, b) => a.key - b.key)
            .map((x) => x.entry);
          const other = applyAll(start, shuffled);
          expect(other).toEqual(natural);
          expect(other.ledgerCount).toBe(entries.length);
          expect(other.amountPaid).toBe(entries.reduce((s, e) => s + e.amount, 0));
          expect(deriveStatus(other)).toEqual(deriveStatus(natural));
        },
      ),
    );
  });
});
