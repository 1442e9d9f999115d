/**
 * The ledger integrity check (services/ledgerIntegrityService) against the local Firestore: drift injected straight
 * into enrollments (amountPaid, derived fields, counters) is found, reported without repair, repaired with repair
 * on — one audited, updateTime-guarded write — and a money movement that lands during a repair is never lost.
 */
import { checkLedgerIntegrity } from "../../src/functions/checkLedgerIntegrity";
import { examineEnrollment, runScheduledIntegrityCheck } from "../../src/services/ledgerIntegrityService";
import { firestore } from "../../src/shared/admin";
import { ADMIN, call, createCourse, enroll, expectHttpsError, ledgerSum, readDoc } from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";
import { deliverStripeEvent, stripePaymentIntent, stripeRefund } from "../support/stripeShapes";

useLocalFirestore();
const path = (uid: string) => `users/${uid}/courses/c1`;

async function pay(uid: string, id: string, amount: number): Promise<void> {
  const reply = await deliverStripeEvent(
    `evt_${id}`,
    "payment_intent.succeeded",
    stripePaymentIntent({ id, amount, currency: "usd", metadata: { uid, courseId: "c1" } }),
  );
  expect(reply.body).toMatchObject({ outcome: "applied" });
}

/** Writes straight into an enrollment, as a bug or a hand edit in the console would. */
async function drift(uid: string, fields: Record<string, unknown>): Promise<void> {
  await firestore().doc(path(uid)).update(fields);
}

/** The enrollment agrees with its ledger: totals = ledger sums, statuses by the policy. */
async function expectAgrees(
  uid: string,
  amountPaid: number,
  statuses: Record<string, unknown>,
): Promise<void> {
  expect((await ledgerSum(uid, "c1")).sum).toBe(amountPaid);
  expect(await readDoc(path(uid))).toMatchObject({ amountPaid, ...statuses });
}

beforeEach(async () => {
  await createCourse("c1", 1000);
  await createCourse("c2", 500); // a second catalogue course: in the `courses` group, never counted
  for (const uid of ["u-amount", "u-derived", "u-counters"]) await enroll(uid, "c1");
  await pay("u-amount", "pi_a", 600);
  await pay("u-derived", "pi_d", 1000);
  await pay("u-counters", "pi_c", 1000);
  await deliverStripeEvent(
    "evt_re_c",
    "refund.created",
    stripeRefund({ id: "re_c", amount: 300, currency: "usd", paymentIntent: "pi_c", status: "succeeded" }),
  );
  await drift("u-amount", { amountPaid: 900 });
  await drift("u-derived", { paymentStatus: "unpaid", accessStatus: "locked", amountDue: 1000 });
  await drift("u-counters", { ledgerCount: 5, refundCount: 0, "refundedByPayment.pi_c": 0 });
});

async function audits(): Promise<Record<string, unknown>[]> {
  return (await firestore().collection("adminAudit").get()).docs.map((d) => d.data());
}

it("reports drift without repair (nothing written), then repairs it once, audited; a rerun finds nothing", async () => {
  const before = await readDoc(path("u-amount"));
  const report = await call(checkLedgerIntegrity, ADMIN, {});
  expect(report).toMatchObject({ scanned: 3, drifted: 3, repaired: 0, conflicts: 0, next: null });
  const byUid = Object.fromEntries(report.drifts.map((d) => [d.uid, d]));
  expect(byUid["u-amount"]).toEqual({
    uid: "u-amount",
    courseId: "c1",
    action: "reported",
    fields: [{ field: "amountPaid", stored: "900", expected: "600" }],
  });
  expect(byUid["u-derived"]?.fields.map((f) => f.field).sort()).toEqual([
    "accessStatus",
    "amountDue",
    "paymentStatus",
  ]);
  expect(byUid["u-counters"]?.fields.map((f) => f.field).sort()).toEqual([
    "ledgerCount",
    "refundCount",
    "refundedByPayment",
  ]);
  expect(await readDoc(path("u-amount"))).toEqual(before);
  expect(await audits()).toEqual([]);

  const repaired = await call(checkLedgerIntegrity, ADMIN, { repair: true });
  expect(repaired).toMatchObject({ scanned: 3, drifted: 3, repaired: 3, conflicts: 0 });
  await expectAgrees("u-amount", 600, { amountDue: 400, paymentStatus: "partial", accessStatus: "locked" });
  await expectAgrees("u-derived", 1000, { amountDue: 0, paymentStatus: "paid", accessStatus: "active" });
  await expectAgrees("u-counters", 700, { ledgerCount: 2, refundCount: 1, refundedByPayment: { pi_c: 300 } });
  const repairs = await audits();
  expect(repairs).toHaveLength(3);
  expect(repairs).toContainEqual(
    expect.objectContaining({
      action: "ledger-repair",
      adminUid: ADMIN.uid,
      uid: "u-amount",
      changes: { amountPaid: { stored: "900", repaired: "600" } },
    }),
  );
  expect(await call(checkLedgerIntegrity, ADMIN, { repair: true })).toMatchObject({
    drifted: 0,
    repaired: 0,
  });
  expect(await audits()).toHaveLength(3);
});

it("a payment committed after the repair's read is not overwritten: the precondition fails, the check runs again", async () => {
  const stale = await firestore().doc(path("u-amount")).get();
  await pay("u-amount", "pi_a2", 250); // lands between the check's read and its write
  const result = await examineEnrollment(stale, true, ADMIN.uid);
  // Checked again from what is there now (900 drifted + 250 paid = 1150 stored; the ledger says 850).
  expect(result?.action).toBe("repaired");
  expect(result?.fields).toContainEqual({ field: "amountPaid", stored: "1150", expected: "850" });
  await expectAgrees("u-amount", 850, { amountDue: 150, paymentStatus: "partial" });
});

it("repairs racing concurrent payments leave every enrollment equal to its ledger", async () => {
  await Promise.all([
    call(checkLedgerIntegrity, ADMIN, { repair: true }),
    pay("u-amount", "pi_r1", 100),
    pay("u-derived", "pi_r2", 50),
    call(checkLedgerIntegrity, ADMIN, { repair: true }),
    pay("u-counters", "pi_r3", 200),
  ]);
  // Whatever interleaving: a final check repairs what is left, and then all agree.
  await call(checkLedgerIntegrity, ADMIN, { repair: true });
  await expectAgrees("u-amount", 700, { paymentStatus: "partial" });
  await expectAgrees("u-derived", 1050, { amountOverpaid: 50, paymentStatus: "paid" });
  await expectAgrees("u-counters", 900, { ledgerCount: 3, refundCount: 1 });
  expect(await call(checkLedgerIntegrity, ADMIN, {})).toMatchObject({ drifted: 0 });
});

it("pages: limit and startAfter, and the scheduled run resumes from its checkpoint", async () => {
  const first = await call(checkLedgerIntegrity, ADMIN, { limit: 2 });
  expect(first).toMatchObject({ scanned: 2, next: path("u-counters") });
  const rest = await call(checkLedgerIntegrity, ADMIN, { startAfter: first.next ?? "" });
  expect(rest).toMatchObject({ scanned: 1, next: null });
  expect([...first.drifts, ...rest.drifts].map((d) => d.uid).sort()).toEqual([
    "u-amount",
    "u-counters",
    "u-derived",
  ]);

  const run1 = await runScheduledIntegrityCheck(2);
  expect(run1).toMatchObject({ scanned: 2, repaired: 2 });
  expect(await readDoc("ops/ledgerIntegrity")).toMatchObject({
    cursor: path("u-counters"),
    lastRun: { scanned: 2 },
  });
  const run2 = await runScheduledIntegrityCheck(2);
  expect(run2).toMatchObject({ scanned: 1, repaired: 1, next: null });
  expect(await readDoc("ops/ledgerIntegrity")).toMatchObject({ cursor: null });
  expect((await audits()).map((a) => a.adminUid)).toEqual(["scheduler", "scheduler", "scheduler"]);
});

it("non-admins are refused", async () => {
  await expectHttpsError(
    call(checkLedgerIntegrity, { uid: "u-amount" }, { repair: true }),
    "permission-denied",
  );
  expect(await readDoc(path("u-amount"))).toMatchObject({ amountPaid: 900 });
});
