import fc from "fast-check";
import {
  applyEntries,
  decideLedgerApplication,
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

describe("decideLedgerApplication", () => {
  it("applies a new payment and derives statuses from the new totals", () => {
    const d = decideLedgerApplication(empty, false, pay("pi_1", 1000));
    expect(d).toEqual({
      kind: "apply",
      amountPaid: 1000,
      ledgerCount: 1,
      refundCount: 0,
      refundedByPayment: {},
      derived: { amountDue: 0, amountOverpaid: 0, paymentStatus: "paid", accessStatus: "active" },
    });
  });

  it("changes nothing when the ledger doc already exists", () => {
    expect(decideLedgerApplication(empty, true, pay("pi_1", 1000))).toEqual({ kind: "duplicate" });
  });

  it("tracks refunded cents per payment", () => {
    const d = decideLedgerApplication(
      { ...empty, amountPaid: 1000, ledgerCount: 1 },
      false,
      refund("re_1", "pi_1", 300),
    );
    expect(d.kind === "apply" && d.refundedByPayment).toEqual({ pi_1: 300 });
    expect(d.kind === "apply" && d.derived.paymentStatus).toBe("partial");
  });

  it("rejects wrong signs, zero, fractional amounts and other currencies", () => {
    expect(decideLedgerApplication(empty, false, pay("pi_1", -5))).toEqual({
      kind: "reject",
      reason: "invalid-amount",
    });
    expect(decideLedgerApplication(empty, false, pay("pi_1", 0))).toEqual({
      kind: "reject",
      reason: "invalid-amount",
    });
    expect(decideLedgerApplication(empty, false, pay("pi_1", 1.5))).toEqual({
      kind: "reject",
      reason: "invalid-amount",
    });
    expect(decideLedgerApplication(empty, false, { ...refund("re_1", "pi_1", 5), amount: 5 })).toEqual({
      kind: "reject",
      reason: "invalid-amount",
    });
    expect(decideLedgerApplication(empty, false, { ...pay("pi_1", 5), currency: "eur" })).toEqual({
      kind: "reject",
      reason: "currency-mismatch",
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
          const natural = applyEntries(start, new Set(), entries).totals;
          const withDups = [
            ...entries,
            ...dupIdx.map((i) => entries[i % entries.length]).filter((e) => e !== undefined),
          ];
          const shuffled = withDups
            .map((entry, i) => ({ entry, key: sortKeys[i % sortKeys.length] ?? 0 }))
            .sort((a, b) => a.key - b.key)
            .map((x) => x.entry);
          const other = applyEntries(start, new Set(), shuffled).totals;
          expect(other).toEqual(natural);
          expect(other.ledgerCount).toBe(entries.length);
          expect(other.amountPaid).toBe(entries.reduce((s, e) => s + e.amount, 0));
          expect(deriveStatus(other)).toEqual(deriveStatus(natural));
        },
      ),
    );
  });
});
