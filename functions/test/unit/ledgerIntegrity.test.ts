/** domain/ledgerIntegrity: stored totals against the ledger's sums, derived fields against the status policy. */
import {
  checkEnrollmentIntegrity,
  ledgerTotals,
  type StoredLedgerEntry,
} from "../../src/domain/ledgerIntegrity";

const entries: StoredLedgerEntry[] = [
  { id: "pi_1", type: "payment", amount: 600, providerPaymentId: "pi_1" },
  { id: "pi_2", type: "payment", amount: 400, providerPaymentId: "pi_2" },
  { id: "re_1", type: "refund", amount: -100, providerPaymentId: "pi_1" },
  { id: "re_2", type: "refund", amount: -50, providerPaymentId: "pi_2" },
  { id: "re_2_reversal", type: "refund-reversal", amount: 50, providerPaymentId: "pi_2" },
];

/** An enrollment that agrees with `entries` (price 1000: 900 paid, partial, locked). */
const good = {
  price: 1000,
  currency: "usd",
  amountPaid: 900,
  ledgerCount: 5,
  refundCount: 1,
  refundedByPayment: { pi_1: 100, pi_2: 0 },
  openDisputes: 0,
  disputes: {},
  amountDue: 100,
  amountOverpaid: 0,
  paymentStatus: "partial",
  accessStatus: "locked",
};

describe("ledgerTotals", () => {
  it("adds the entries up as the ledger's deltas do (a refund and its reversal net to zero)", () => {
    expect(ledgerTotals("usd", entries)).toEqual({
      ok: true,
      amountPaid: 900,
      ledgerCount: 5,
      refundCount: 1,
      refundedByPayment: { pi_1: 100, pi_2: 0 },
    });
    expect(ledgerTotals("usd", [])).toMatchObject({ ok: true, amountPaid: 0, ledgerCount: 0 });
  });
});

describe("checkEnrollmentIntegrity", () => {
  it("an enrollment that agrees: ok (an absent per-payment key equals a zero)", () => {
    expect(checkEnrollmentIntegrity(good, entries)).toEqual({ kind: "ok" });
    expect(checkEnrollmentIntegrity({ ...good, refundedByPayment: { pi_1: 100 } }, entries)).toEqual({
      kind: "ok",
    });
  });

  it("amountPaid off: the ledger's sum, and the derived fields that follow from it", () => {
    const check = checkEnrollmentIntegrity(
      { ...good, amountPaid: 1000, amountDue: 0, paymentStatus: "paid", accessStatus: "active" },
      entries,
    );
    expect(check).toEqual({
      kind: "drift",
      drifts: [
        { field: "amountPaid", stored: 1000, expected: 900 },
        { field: "amountDue", stored: 0, expected: 100 },
        { field: "paymentStatus", stored: "paid", expected: "partial" },
        { field: "accessStatus", stored: "active", expected: "locked" },
      ],
      repair: { amountPaid: 900, amountDue: 100, paymentStatus: "partial", accessStatus: "locked" },
    });
  });

  it("amountPaid off alone (derived fields right for the ledger): only amountPaid is repaired", () => {
    expect(checkEnrollmentIntegrity({ ...good, amountPaid: 950 }, entries)).toMatchObject({
      kind: "drift",
      repair: { amountPaid: 900 },
      drifts: [{ field: "amountPaid" }],
    });
  });

  it("derived fields off: the policy's values from the ledger's totals", () => {
    expect(
      checkEnrollmentIntegrity({ ...good, paymentStatus: "unpaid", amountOverpaid: 5 }, entries),
    ).toMatchObject({
      kind: "drift",
      repair: { paymentStatus: "partial", amountOverpaid: 0 },
    });
  });

  it("counters off: ledgerCount, refundCount, refundedByPayment and openDisputes (from the disputes map)", () => {
    const check = checkEnrollmentIntegrity(
      {
        ...good,
        ledgerCount: 7,
        refundCount: 0,
        refundedByPayment: { pi_1: 30, pi_9: 5 },
        openDisputes: 1,
        disputes: { dp_1: { status: "closed" } },
      },
      entries,
    );
    expect(check).toMatchObject({
      kind: "drift",
      repair: {
        ledgerCount: 5,
        refundCount: 1,
        openDisputes: 0,
        refundedByPayment: { pi_1: 100, pi_2: 0 },
      },
    });
  });

  it("an open dispute in the map: openDisputes 1 and access suspended", () => {
    const check = checkEnrollmentIntegrity({ ...good, disputes: { dp_1: { status: "open" } } }, entries);
    expect(check).toMatchObject({ kind: "drift", repair: { openDisputes: 1, accessStatus: "suspended" } });
  });

  it("unreadable stored shapes are reported, never repaired", () => {
    expect(checkEnrollmentIntegrity({ ...good, price: "1000" }, entries)).toMatchObject({
      kind: "unreadable",
    });
    expect(checkEnrollmentIntegrity({ ...good, currency: undefined }, entries)).toMatchObject({
      kind: "unreadable",
    });
    expect(
      checkEnrollmentIntegrity(good, [
        ...entries,
        { id: "x", type: "gift", amount: 1, providerPaymentId: "x" },
      ]),
    ).toMatchObject({
      kind: "unreadable",
    });
    expect(
      checkEnrollmentIntegrity(good, [{ id: "x", type: "payment", amount: -5, providerPaymentId: "x" }]),
    ).toMatchObject({
      kind: "unreadable",
    });
  });
});
