/**
 * Installment plans against the local Firestore: the schedule fixed at enrollment, payments filling installments,
 * the deadline job suspending an overdue enrollment and a payment restoring it — exactly, under duplicate and
 * concurrent runs and racing payments.
 */
import { Timestamp } from "firebase-admin/firestore";
import { Change } from "firebase-functions/v2";
import { checkInstallmentDeadlines } from "../../src/functions/checkInstallmentDeadlines";
import { onEnrollmentWritten } from "../../src/functions/onEnrollmentWritten";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import type { LocalPaymentProvider } from "../../src/services/payments/local/localProvider";
import { markPassedDeadlines } from "../../src/services/installmentService";
import { DAY_MS } from "../../src/domain/installments";
import { deriveStatus, statusInputsOf } from "../../src/domain/statusPolicy";
import { firestore } from "../../src/shared/admin";
import {
  ADMIN,
  call,
  enrollInCourse,
  expectHttpsError,
  fft,
  installLocalProvider,
  ledgerSum,
  readDoc,
  recordManualPayment,
  snapshotAll,
  startPayment,
  upsertCourse,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";

useLocalFirestore();

const PLANS = {
  thirds: { installments: 3, intervalDays: 30, graceDays: 5 },
  halves: { installments: 2, intervalDays: 14, graceDays: 0 },
};
const UID = "student-p";
const STUDENT = { uid: UID };
const ENROLLMENT = `users/${UID}/courses/c1`;
let provider: LocalPaymentProvider;
let requests = 0;

beforeEach(async () => {
  provider = installLocalProvider();
  await call(upsertCourse, ADMIN, {
    courseId: "c1",
    title: "Course c1",
    price: 9000,
    currency: "usd",
    published: true,
    plans: PLANS,
  });
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

async function enrollOnPlan(uid = UID, planId = "thirds") {
  return call(enrollInCourse, { uid }, { courseId: "c1", planId });
}

/** Pays through the provider (startPayment → confirm → webhook); no amount = what the plan says is due now. */
async function pay(amount?: number, uid = UID): Promise<number> {
  const started = await call(
    startPayment,
    { uid },
    {
      courseId: "c1",
      requestId: `req-plan-${++requests}`,
      ...(amount === undefined ? {} : { amount }),
    },
  );
  expect((await provider.confirmPayment(started.paymentId)).status).toBe(200);
  return started.amount;
}

async function enrollment(uid = UID): Promise<Record<string, unknown>> {
  const doc = await readDoc(`users/${uid}/courses/c1`);
  if (doc === undefined) throw new Error("no enrollment");
  return doc;
}

/** The enrollment's first installment's due date, in ms (the schedule's origin). */
async function startOf(uid = UID): Promise<number> {
  const [first] = (await enrollment(uid)).installments as { dueAt: Timestamp }[];
  if (first === undefined) throw new Error("no schedule");
  return first.dueAt.toMillis();
}

/** Stored derived fields agree with the policy applied to the stored totals and plan. */
async function expectConsistent(uid = UID): Promise<void> {
  const doc = await enrollment(uid);
  const inputs = statusInputsOf(doc);
  expect(inputs).not.toBeNull();
  if (inputs !== null) expect(doc).toMatchObject(deriveStatus(inputs));
  expect((await ledgerSum(uid, "c1")).sum).toBe(doc.amountPaid);
}

describe("plans on courses and enrollments", () => {
  it("enrollInCourse fixes the schedule from the price snapshot: equal parts, due every interval, with grace", async () => {
    const before = Date.now();
    const reply = await enrollOnPlan();
    const start = await startOf();
    expect(start).toBeGreaterThanOrEqual(before);
    expect(reply).toMatchObject({ created: true, accessStatus: "locked", amountDue: 9000 });
    expect(reply.plan).toEqual({
      planId: "thirds",
      deadlinesPassed: 0,
      installments: [0, 30, 60].map((days) => ({
        amount: 3000,
        dueAt: new Date(start + days * DAY_MS).toISOString(),
        deadline: new Date(start + (days + 5) * DAY_MS).toISOString(),
      })),
      nextInstallment: {
        index: 0,
        amount: 3000,
        dueAt: new Date(start).toISOString(),
        deadline: new Date(start + 5 * DAY_MS).toISOString(),
      },
    });
    const doc = await enrollment();
    expect(doc).toMatchObject({ planId: "thirds", deadlinesPassed: 0 });
    expect((doc.nextDeadline as Timestamp).toMillis()).toBe(start + 5 * DAY_MS);
    // A later price change does not touch the schedule.
    await call(upsertCourse, ADMIN, { courseId: "c1", price: 12000 });
    expect((await enrollOnPlan()).plan?.installments.map((i) => i.amount)).toEqual([3000, 3000, 3000]);
  });

  it("refuses unknown plans, another plan once enrolled, and bad plans, changing nothing", async () => {
    await expectHttpsError(enrollOnPlan(UID, "weekly"), "not-found");
    await enrollOnPlan();
    const before = await snapshotAll();
    await expectHttpsError(enrollOnPlan(UID, "halves"), "failed-precondition");
    await expectHttpsError(
      call(upsertCourse, ADMIN, {
        courseId: "c1",
        plans: { p: { installments: 1, intervalDays: 30, graceDays: 0 } },
      }),
      "invalid-argument",
    );
    await expectHttpsError(
      call(upsertCourse, ADMIN, { courseId: "c1", plans: { p: { ...PLANS.thirds, graceDays: 61 } } }),
      "invalid-argument",
    );
    const six = Object.fromEntries(["a", "b", "c", "d", "e", "f"].map((id) => [id, PLANS.thirds]));
    await expectHttpsError(call(upsertCourse, ADMIN, { courseId: "c1", plans: six }), "invalid-argument");
    expect(await snapshotAll()).toEqual(before);
    // Enrolled without a plan, a student cannot move onto one afterwards either.
    await call(enrollInCourse, { uid: "s2" }, { courseId: "c1" });
    await expectHttpsError(enrollOnPlan("s2"), "failed-precondition");
    // A plan whose parts would be below the minimum charge is refused at enrollment.
    await call(upsertCourse, ADMIN, {
      courseId: "c2",
      title: "Cheap",
      price: 100,
      currency: "usd",
      published: true,
      plans: PLANS,
    });
    await expectHttpsError(
      call(enrollInCourse, STUDENT, { courseId: "c2", planId: "thirds" }),
      "failed-precondition",
    );
  });

  it("a payment with no amount pays the next installment; the first one opens access; paying all early is allowed", async () => {
    await enrollOnPlan();
    expect(await pay()).toBe(3000);
    expect(await enrollment()).toMatchObject({
      amountPaid: 3000,
      paymentStatus: "partial",
      accessStatus: "active",
    });
    expect((await enrollOnPlan()).plan?.nextInstallment).toMatchObject({ index: 1, amount: 3000 });
    expect(await pay(1000)).toBe(1000);
    expect(await pay()).toBe(2000); // what is left of installment 2
    expect(await pay(3000)).toBe(3000);
    expect(await enrollment()).toMatchObject({
      amountPaid: 9000,
      paymentStatus: "paid",
      accessStatus: "active",
    });
    expect((await enrollOnPlan()).plan?.nextInstallment).toBeNull();
    // Paid in full: no deadline suspends it.
    const result = await markPassedDeadlines({ nowMs: (await startOf()) + 400 * DAY_MS });
    expect(result).toMatchObject({ advanced: 1, suspended: 0 });
    expect(await enrollment()).toMatchObject({
      deadlinesPassed: 3,
      nextDeadline: null,
      accessStatus: "active",
    });
    await expectConsistent();
  });
});

describe("two tabs on a plan", () => {
  it("paying everything at once in two tabs is one payment; paying the installment then everything replaces the first", async () => {
    await enrollOnPlan();
    const [a, b] = await Promise.all(
      ["tab-a", "tab-b"].map((tab) =>
        call(startPayment, STUDENT, { courseId: "c1", amount: 9000, requestId: `req-full-${tab}` }),
      ),
    );
    expect(b?.paymentId).toBe(a?.paymentId);
    await enrollOnPlan("s2");
    const installment = await call(startPayment, { uid: "s2" }, { courseId: "c1", requestId: "req-inst-s2" });
    expect(installment.amount).toBe(3000);
    const full = await call(
      startPayment,
      { uid: "s2" },
      { courseId: "c1", amount: 9000, requestId: "req-full-s2" },
    );
    expect(full.paymentId).not.toBe(installment.paymentId);
    // The installment's payment was canceled at the provider before the full one was made: only one stays payable.
    expect(await readDoc(`checkouts/${installment.checkoutId}`)).toMatchObject({ status: "canceled" });
    expect((await enrollment("s2")).openCheckout).toMatchObject({
      checkoutId: full.checkoutId,
      amount: 9000,
    });
  });
});

describe("the deadline job (markPassedDeadlines / checkInstallmentDeadlines)", () => {
  it("an overdue installment suspends access; paying it restores access at once", async () => {
    await enrollOnPlan();
    await pay();
    const start = await startOf();
    // Within installment 2's grace period: nothing happens to access.
    expect(await markPassedDeadlines({ nowMs: start + 34 * DAY_MS })).toMatchObject({
      advanced: 1,
      suspended: 0,
    });
    expect(await enrollment()).toMatchObject({ deadlinesPassed: 1, accessStatus: "active" });
    // Past it: suspended.
    expect(await markPassedDeadlines({ nowMs: start + 35 * DAY_MS })).toMatchObject({
      advanced: 1,
      suspended: 1,
    });
    expect(await enrollment()).toMatchObject({
      deadlinesPassed: 2,
      accessStatus: "suspended",
      paymentStatus: "partial",
    });
    expect((await enrollOnPlan()).accessStatus).toBe("suspended");
    // Paying the overdue installment (no amount: what is overdue) restores access in the payment's own commit.
    expect(await pay()).toBe(3000);
    expect(await enrollment()).toMatchObject({ amountPaid: 6000, accessStatus: "active" });
    // Two installments overdue at once: the payment with no amount covers both.
    await markPassedDeadlines({ nowMs: start + 70 * DAY_MS });
    expect(await enrollment()).toMatchObject({ deadlinesPassed: 3, accessStatus: "suspended" });
    expect(await pay()).toBe(3000);
    expect(await enrollment()).toMatchObject({ paymentStatus: "paid", accessStatus: "active" });
    await expectConsistent();
  });

  it("a rerun, or runs at the same time, change nothing twice", async () => {
    await enrollOnPlan();
    await pay();
    await enrollOnPlan("s2");
    await pay(undefined, "s2");
    const nowMs = (await startOf()) + 36 * DAY_MS;
    const results = await Promise.all(Array.from({ length: 6 }, () => markPassedDeadlines({ nowMs })));
    // Each enrollment was advanced by exactly one of the runs.
    expect(results.reduce((n, r) => n + r.advanced, 0)).toBe(2);
    expect(results.reduce((n, r) => n + r.suspended, 0)).toBe(2);
    expect(results.every((r) => r.conflicts === 0)).toBe(true);
    const after = await snapshotAll();
    expect(await markPassedDeadlines({ nowMs })).toEqual({
      scanned: 0,
      advanced: 0,
      suspended: 0,
      conflicts: 0,
      more: false,
    });
    expect(await snapshotAll()).toEqual(after);
    for (const uid of [UID, "s2"]) {
      expect(await enrollment(uid)).toMatchObject({ deadlinesPassed: 2, accessStatus: "suspended" });
      await expectConsistent(uid);
    }
  });

  it("runs racing payments leave exact totals and the status the policy gives", async () => {
    const uids = ["r1", "r2", "r3", "r4"];
    for (const uid of uids) {
      await enrollOnPlan(uid);
      await pay(undefined, uid);
    }
    const nowMs = (await startOf("r1")) + 40 * DAY_MS;
    // Manual payments (one blind commit each) race three concurrent runs of the job.
    await Promise.all([
      ...uids.map((uid, i) =>
        call(recordManualPayment, ADMIN, {
          uid,
          courseId: "c1",
          amount: 1000 * (i + 1),
          reference: `race-${uid}`,
        }),
      ),
      markPassedDeadlines({ nowMs }),
      markPassedDeadlines({ nowMs }),
      markPassedDeadlines({ nowMs }),
    ]);
    await markPassedDeadlines({ nowMs }); // whatever a conflict left for the next run
    for (const [i, uid] of uids.entries()) {
      // The trigger of the enrollment's last write, as Cloud Functions delivers it: it corrects a status a payment's
      // commit left stale when it raced the job's (a no-op when nothing raced).
      const last = await firestore().doc(`users/${uid}/courses/c1`).get();
      await fft.wrap(onEnrollmentWritten)({
        id: `ce-race-${uid}`,
        params: { uid, courseId: "c1" },
        data: new Change(last, last),
      });
      const doc = await enrollment(uid);
      // Only r3 and r4 cover installment 2 (6000); the others are suspended — as stored, and as the policy says.
      expect(doc).toMatchObject({
        deadlinesPassed: 2,
        amountPaid: 3000 + 1000 * (i + 1),
        accessStatus: i >= 2 ? "active" : "suspended",
      });
      await expectConsistent(uid);
    }
  });

  it("is bounded: at most `limit` enrollments per run, oldest deadline first, and says when more are left", async () => {
    for (const uid of ["b1", "b2", "b3"]) await enrollOnPlan(uid);
    const nowMs = (await startOf("b3")) + 6 * DAY_MS;
    expect(await markPassedDeadlines({ nowMs, limit: 2 })).toMatchObject({
      scanned: 2,
      advanced: 2,
      more: true,
    });
    expect(await enrollment("b3")).toMatchObject({ deadlinesPassed: 0 });
    expect(await markPassedDeadlines({ nowMs, limit: 2 })).toMatchObject({
      scanned: 1,
      advanced: 1,
      more: false,
    });
    // Nobody paid the first installment: locked (never had access), not suspended.
    for (const uid of ["b1", "b2", "b3"])
      expect(await enrollment(uid)).toMatchObject({ deadlinesPassed: 1, accessStatus: "locked" });
  });

  it("checkInstallmentDeadlines runs it now for admins only", async () => {
    await enrollOnPlan();
    // Move the schedule into the past, as time would.
    const doc = await enrollment();
    const shift = (t: Timestamp) => Timestamp.fromMillis(t.toMillis() - 40 * DAY_MS);
    const installments = (
      doc.installments as { amount: number; dueAt: Timestamp; deadline: Timestamp }[]
    ).map((i) => ({
      ...i,
      dueAt: shift(i.dueAt),
      deadline: shift(i.deadline),
    }));
    await firestore().doc(ENROLLMENT).update({ installments, nextDeadline: installments[0]?.deadline });
    await expectHttpsError(call(checkInstallmentDeadlines, STUDENT, {}), "permission-denied");
    await expectHttpsError(call(checkInstallmentDeadlines, ADMIN, { limit: 0 }), "invalid-argument");
    expect(await call(checkInstallmentDeadlines, ADMIN, {})).toEqual({
      scanned: 1,
      advanced: 1,
      suspended: 0,
      conflicts: 0,
      more: false,
    });
    expect(await enrollment()).toMatchObject({ deadlinesPassed: 2, accessStatus: "locked" });
  });

  it("onEnrollmentWritten corrects a status left stale by a payment racing the job, judging the plan's standing", async () => {
    await enrollOnPlan();
    await pay();
    const start = await startOf();
    await markPassedDeadlines({ nowMs: start + 36 * DAY_MS });
    expect(await enrollment()).toMatchObject({ accessStatus: "suspended" });
    // A payment decided from a read taken before the job's write derives the status from stale inputs; as such a
    // commit can leave it: the totals moved (6000 covers both passed deadlines), the stored status did not.
    await firestore().doc(ENROLLMENT).update({ amountPaid: 6000, ledgerCount: 2 });
    const after = await firestore().doc(ENROLLMENT).get();
    expect(after.get("accessStatus")).toBe("suspended");
    await fft.wrap(onEnrollmentWritten)({
      id: "ce-plan-1",
      params: { uid: UID, courseId: "c1" },
      data: new Change(after, after),
    });
    expect(await enrollment()).toMatchObject({ accessStatus: "active", amountDue: 3000 });
  });
});
