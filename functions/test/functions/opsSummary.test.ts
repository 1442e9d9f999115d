/**
 * Health at a glance (services/opsSummaryService): `ops/summary` counts what the pipeline recorded — real-shaped
 * Stripe events through the real webhook handler, against the local Firestore, which enforces the declared indexes
 * (a count query without its index fails here as in production).
 */
import { Timestamp } from "firebase-admin/firestore";
import { getOpsSummary } from "../../src/functions/getOpsSummary";
import { recordJobReport, refreshOpsSummary } from "../../src/services/opsSummaryService";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { firestore } from "../../src/shared/admin";
import {
  ADMIN,
  call,
  createCourse,
  enroll,
  expectHttpsError,
  installLocalProvider,
  providerHolds,
  readDoc,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";
import {
  deliverStripeEvent,
  outcomeOf,
  stripeDispute,
  stripePaymentIntent,
  stripeRefund,
} from "../support/stripeShapes";

useLocalFirestore();

beforeEach(async () => {
  installLocalProvider();
  await createCourse("c1", 1000);
  for (const uid of ["u1", "u2", "u3"]) await enroll(uid, "c1");
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

const paid = (id: string, uid: string, amount = 1000) =>
  stripePaymentIntent({
    id,
    amount,
    currency: "usd",
    status: "succeeded",
    metadata: { uid, courseId: "c1" },
  });

const today = () => new Date().toISOString().slice(0, 10);

describe("ops/summary", () => {
  it("counts today's events by outcome, parked events and dead letters, open disputes and overdue installments", async () => {
    expect(
      await outcomeOf(deliverStripeEvent("evt_p1", "payment_intent.succeeded", paid("pi_1", "u1"))),
    ).toBe("applied");
    expect(
      await outcomeOf(deliverStripeEvent("evt_p2", "payment_intent.succeeded", paid("pi_2", "u2"))),
    ).toBe("applied");
    // A duplicate writes nothing and is not counted.
    expect(
      await outcomeOf(deliverStripeEvent("evt_p1", "payment_intent.succeeded", paid("pi_1", "u1"))),
    ).toBe("duplicate");
    // A payment for a student who is not enrolled: dead letter.
    expect(
      await outcomeOf(deliverStripeEvent("evt_bad", "payment_intent.succeeded", paid("pi_3", "nobody"))),
    ).toBe("dead-lettered");
    // A refund of one of our payments that is not recorded yet: parked.
    await providerHolds({
      id: "pi_late",
      chargeId: "ch_late",
      amount: 1000,
      currency: "usd",
      metadata: { uid: "u3", courseId: "c1" },
      refunds: [],
    });
    const refund = stripeRefund({
      id: "re_1",
      amount: 100,
      currency: "usd",
      paymentIntent: "pi_late",
      status: "succeeded",
    });
    expect(await outcomeOf(deliverStripeEvent("evt_r1", "refund.created", refund))).toBe("parked");
    // A dispute on u2's payment: open.
    const dispute = stripeDispute({ id: "dp_1", amount: 1000, currency: "usd", paymentIntent: "pi_2" });
    expect(await outcomeOf(deliverStripeEvent("evt_d1", "charge.dispute.created", dispute))).toBe("applied");
    // An enrollment suspended for an overdue installment (as the deadline job leaves it).
    await firestore()
      .doc("users/u4/courses/c1")
      .set({ uid: "u4", courseId: "c1", accessStatus: "suspended", openDisputes: 0, deadlinesPassed: 2 });
    // Yesterday's record counts on yesterday.
    const yesterday = Date.now() - 24 * 3600 * 1000;
    await firestore()
      .doc("webhookEvents/evt_old")
      .set({
        type: "payment_intent.succeeded",
        outcome: "applied",
        processedAt: Timestamp.fromMillis(yesterday),
        expireAt: Timestamp.fromMillis(yesterday + 30 * 24 * 3600 * 1000),
      });
    await recordJobReport("installmentDeadlines", { scanned: 3, advanced: 1 });

    const summary = await refreshOpsSummary();
    expect(summary.days[today()]).toEqual({
      events: { applied: 3, noop: 0, "dead-lettered": 1, ignored: 0 },
      parked: 1,
      deadLetters: 1,
    });
    expect(summary.days[new Date(yesterday).toISOString().slice(0, 10)]?.events.applied).toBe(1);
    expect(summary.now).toEqual({ parkedEvents: 1, deadLetters: 1, openDisputes: 1, overdueInstallments: 1 });
    expect(summary.jobs.installmentDeadlines).toMatchObject({ report: { scanned: 3, advanced: 1 } });
    expect(await readDoc("ops/summary")).toMatchObject({ now: summary.now, asOf: summary.asOf });
  });

  it("getOpsSummary: admins only; the stored summary, or a fresh one when asked", async () => {
    await expectHttpsError(call(getOpsSummary, { uid: "u1" }, {}), "permission-denied");
    await expectHttpsError(call(getOpsSummary, ADMIN, { refresh: "yes" }), "invalid-argument");
    expect(await call(getOpsSummary, ADMIN, {})).toEqual({ summary: null });
    const fresh = await call(getOpsSummary, ADMIN, { refresh: true });
    expect(fresh.summary?.now).toEqual({
      parkedEvents: 0,
      deadLetters: 0,
      openDisputes: 0,
      overdueInstallments: 0,
    });
    expect(await call(getOpsSummary, ADMIN, {})).toEqual(fresh);
  });
});
