/**
 * Events that overtake their payment (services/webhookCommandService.ts): one about a payment of ours is parked
 * (200 `parked`, its enrollment's `parkedEvents` raised) and applied once when the payment's write to that
 * enrollment reaches onEnrollmentWritten, or by the sweep; one about a payment that is not ours is ignored at once (200 `ignored`); the sweep dead-letters
 * what waited past the limit. Real-shaped Stripe refunds and disputes, the real handler and the local Firestore.
 */
import { Change } from "firebase-functions/v2";
import type { DocumentSnapshot } from "firebase-admin/firestore";
import { onEnrollmentWritten } from "../../src/functions/onEnrollmentWritten";
import { PARK_LIMIT_MS } from "../../src/domain/parking";
import { firestore } from "../../src/shared/admin";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { sweepParkedEvents } from "../../src/services/webhookCommandService";
import {
  call,
  countDocs,
  createCourse,
  enroll,
  fft,
  installLocalProvider,
  ledgerSum,
  providerHolds,
  providerWith,
  readDoc,
  snapshotAll,
  startPayment,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";
import {
  deliverStripeEvent,
  stripeDispute,
  stripePaymentIntent,
  stripeRefund,
  outcomeOf,
} from "../support/stripeShapes";

const lf = useLocalFirestore();
const UID = "student-park";
const ENROLLMENT = `users/${UID}/courses/c1`;

beforeEach(async () => {
  installLocalProvider();
  await createCourse("c1", 1000);
  await enroll(UID, "c1");
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

/** The provider's record of a payment made outside startPayment (Dashboard, another integration of ours). */
async function providerHoldsPayment(
  id: string,
  amount: number,
  metadata: Record<string, string>,
): Promise<void> {
  await providerHolds({ id, chargeId: `ch_${id.slice(3)}`, amount, currency: "usd", metadata, refunds: [] });
}

const paid = (id: string, amount: number) =>
  stripePaymentIntent({
    id,
    amount,
    currency: "usd",
    status: "succeeded",
    metadata: { uid: UID, courseId: "c1" },
  });

const enrollmentSnap = (): Promise<DocumentSnapshot> => firestore().doc(ENROLLMENT).get();

/**
 * Delivers a payment event; `trigger` then runs onEnrollmentWritten on the enrollment write it made (its before and
 * after), as Cloud Functions would, once per call (a redelivered trigger event keeps its id).
 */
async function payThenTrigger(
  eventId: string,
  intent: Record<string, unknown>,
): Promise<{ outcome: unknown; trigger: () => Promise<void> }> {
  const before = await enrollmentSnap();
  const reply = await deliverStripeEvent(eventId, "payment_intent.succeeded", intent);
  const after = await enrollmentSnap();
  return {
    outcome: (reply.body as { outcome?: unknown }).outcome,
    trigger: async () => {
      await fft.wrap(onEnrollmentWritten)({
        id: `trigger-${eventId}`,
        params: { uid: UID, courseId: "c1" },
        data: new Change(before, after),
      });
    },
  };
}

describe("an event about one of our payments that arrives before it", () => {
  it("is parked (200, nothing but the parked event and its enrollment's count written) and applied once when the payment lands", async () => {
    await providerHoldsPayment("pi_late1", 1000, { uid: UID, courseId: "c1" });
    const refund = stripeRefund({
      id: "re_early1",
      amount: 400,
      currency: "usd",
      paymentIntent: "pi_late1",
      status: "succeeded",
    });
    const before = await snapshotAll();
    expect(await deliverStripeEvent("evt_early1", "refund.created", refund)).toEqual({
      status: 200,
      body: { received: true, outcome: "parked" },
    });
    const after = await snapshotAll();
    expect(after.filter((d) => !before.includes(d)).map((d) => d.split("=")[0])).toEqual([
      "parkedEvents/evt_early1",
      ENROLLMENT,
    ]);
    expect(await readDoc("parkedEvents/evt_early1")).toMatchObject({
      providerPaymentId: "pi_late1",
      owner: { uid: UID, courseId: "c1", via: "provider" },
      counted: true,
    });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 0, ledgerCount: 0, parkedEvents: 1 });
    // A redelivery keeps the one parked event and counts it once.
    expect(await outcomeOf(deliverStripeEvent("evt_early1", "refund.created", refund))).toBe("parked");
    expect(await readDoc(ENROLLMENT)).toMatchObject({ parkedEvents: 1 });

    // Another payment of the enrollment lands first: the trigger looks, the event still waits for its own.
    const other = await payThenTrigger("evt_pay_other", paid("pi_other1", 200));
    await other.trigger();
    expect(await readDoc("parkedEvents/evt_early1")).toBeDefined();
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 200, parkedEvents: 1 });

    const payment = await payThenTrigger("evt_pay1", paid("pi_late1", 1000));
    expect(payment.outcome).toBe("applied");
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 1200, ids: ["pi_late1", "pi_other1"] });
    // Delivered twice at once (Cloud Functions delivers at least once): both replay, one applies, both unpark.
    await Promise.all([payment.trigger(), payment.trigger()]);
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 800, ids: ["pi_late1", "pi_other1", "re_early1"] });
    expect(await readDoc("parkedEvents/evt_early1")).toBeUndefined();
    expect(await readDoc(ENROLLMENT)).toMatchObject({ parkedEvents: 0 });
    // The trigger delivered once more, and the event delivered again: nothing more.
    await payment.trigger();
    expect(await outcomeOf(deliverStripeEvent("evt_early1", "refund.created", refund))).toBe("duplicate");
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 800, refundCount: 1, parkedEvents: 0 });
    expect(await countDocs("deadLetters")).toBe(0);
  });

  it("a dispute on a startPayment checkout's payment is known through the checkout, before any provider call", async () => {
    const started = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "req-park-1" });
    const dispute = stripeDispute({
      id: "dp_early",
      amount: 1000,
      currency: "usd",
      paymentIntent: started.paymentId,
    });
    expect(await outcomeOf(deliverStripeEvent("evt_dp_early", "charge.dispute.created", dispute))).toBe(
      "parked",
    );
    expect(await readDoc("parkedEvents/evt_dp_early")).toMatchObject({
      owner: { via: "checkout", uid: UID },
    });
    const intent = stripePaymentIntent({
      id: started.paymentId,
      amount: 1000,
      currency: "usd",
      status: "succeeded",
      metadata: { uid: UID, courseId: "c1", checkoutId: started.checkoutId },
    });
    await (await payThenTrigger("evt_pay_started", intent)).trigger();
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      openDisputes: 1,
      accessStatus: "suspended",
      parkedEvents: 0,
    });
  });

  it("a redelivery after the payment was applied (its trigger not yet run) applies it, once", async () => {
    await providerHoldsPayment("pi_late2", 1000, { uid: UID, courseId: "c1" });
    const refund = stripeRefund({
      id: "re_early2",
      amount: 1000,
      currency: "usd",
      paymentIntent: "pi_late2",
      status: "succeeded",
    });
    await deliverStripeEvent("evt_early2", "refund.created", refund);
    const payment = await payThenTrigger("evt_pay2", paid("pi_late2", 1000));
    expect(await outcomeOf(deliverStripeEvent("evt_early2", "refund.created", refund))).toBe("applied");
    // Its parked copy goes when the trigger (or the sweep) finds the event recorded.
    await payment.trigger();
    expect(await readDoc("parkedEvents/evt_early2")).toBeUndefined();
    expect(await readDoc(ENROLLMENT)).toMatchObject({ parkedEvents: 0 });
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 0, ids: ["pi_late2", "re_early2"] });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ paymentStatus: "refunded", accessStatus: "revoked" });
  });
});

describe("an early event whose owner has no enrollment", () => {
  it("is parked without creating one, and the sweep dead-letters it in time", async () => {
    await providerHoldsPayment("pi_noenr", 1000, { uid: "student-none", courseId: "c1" });
    const refund = stripeRefund({
      id: "re_noenr",
      amount: 100,
      currency: "usd",
      paymentIntent: "pi_noenr",
      status: "succeeded",
    });
    expect(await outcomeOf(deliverStripeEvent("evt_noenr", "refund.created", refund))).toBe("parked");
    expect(await readDoc("parkedEvents/evt_noenr")).toMatchObject({ counted: false });
    expect(await readDoc("users/student-none/courses/c1")).toBeUndefined();
    expect(await outcomeOf(deliverStripeEvent("evt_noenr", "refund.created", refund))).toBe("parked");

    await sweepParkedEvents(Date.now() + PARK_LIMIT_MS + 60_000);
    expect(await readDoc("parkedEvents/evt_noenr")).toBeUndefined();
    expect(await readDoc("deadLetters/evt_noenr")).toMatchObject({ reason: "unknown-payment" });
    expect(await readDoc("users/student-none/courses/c1")).toBeUndefined();
  });
});

describe("a payment that lands while its early event is being parked", () => {
  it("is seen by the park's second look at the ledger: the event applies at once and nothing stays parked", async () => {
    await providerHoldsPayment("pi_race", 1000, { uid: UID, courseId: "c1" });
    const base = installLocalProvider();
    // The webhook asks the provider whose payment it is after finding no ledger entry: the payment is applied
    // right then, before the park is committed (its write event carries no parked count: the trigger replays none).
    setPaymentProviderForTesting(
      providerWith(base, {
        findPayment: async (id) => {
          await deliverStripeEvent("evt_race_pay", "payment_intent.succeeded", paid("pi_race", 1000));
          return base.findPayment(id);
        },
      }),
    );
    const refund = stripeRefund({
      id: "re_race",
      amount: 300,
      currency: "usd",
      paymentIntent: "pi_race",
      status: "succeeded",
    });
    expect(await outcomeOf(deliverStripeEvent("evt_race", "refund.created", refund))).toBe("applied");
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 700, ids: ["pi_race", "re_race"] });
    expect(await countDocs("parkedEvents")).toBe(0);
    expect(await readDoc(ENROLLMENT)).toMatchObject({ parkedEvents: 0 });
  });
});

describe("the sweep", () => {
  it("replays what a trigger missed, leaves what still waits, dead-letters what waited past the limit", async () => {
    await providerHoldsPayment("pi_missed", 1000, { uid: UID, courseId: "c1" });
    await providerHoldsPayment("pi_never", 500, { uid: UID, courseId: "c1" });
    const missed = stripeRefund({
      id: "re_missed",
      amount: 300,
      currency: "usd",
      paymentIntent: "pi_missed",
      status: "succeeded",
    });
    const never = stripeRefund({
      id: "re_never",
      amount: 500,
      currency: "usd",
      paymentIntent: "pi_never",
      status: "succeeded",
    });
    await deliverStripeEvent("evt_missed", "refund.created", missed);
    await deliverStripeEvent("evt_never", "refund.created", never);
    await deliverStripeEvent("evt_pay_missed", "payment_intent.succeeded", paid("pi_missed", 1000));

    expect(await sweepParkedEvents()).toEqual({
      examined: 2,
      replayed: 1,
      applied: 1,
      deadLettered: 0,
      waiting: 1,
      failed: 0,
    });
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 700, ids: ["pi_missed", "re_missed"] });
    // Twice, and concurrently: nothing more.
    await Promise.all([sweepParkedEvents(), sweepParkedEvents()]);
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 700, ids: ["pi_missed", "re_missed"] });
    expect(await readDoc("parkedEvents/evt_never")).toBeDefined();
    expect(await readDoc(ENROLLMENT)).toMatchObject({ parkedEvents: 1 });

    const later = Date.now() + PARK_LIMIT_MS + 60_000;
    const [a, b] = await Promise.all([sweepParkedEvents(later), sweepParkedEvents(later)]);
    expect(a.deadLettered + b.deadLettered).toBeGreaterThanOrEqual(1);
    expect(await readDoc("deadLetters/evt_never")).toMatchObject({
      reason: "unknown-payment",
      type: "refund.created",
    });
    expect(await readDoc("webhookEvents/evt_never")).toMatchObject({ outcome: "dead-lettered" });
    expect(await countDocs("parkedEvents")).toBe(0);
    expect(await countDocs("deadLetters")).toBe(1);
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 700, parkedEvents: 0 });
  });
});

describe("an event about a payment that is not ours", () => {
  it("is ignored at once (200, recorded) when the provider holds it without our metadata", async () => {
    await providerHoldsPayment("pi_shop", 2000, { order: "shop-991" });
    const refund = stripeRefund({
      id: "re_shop",
      amount: 2000,
      currency: "usd",
      paymentIntent: "pi_shop",
      status: "succeeded",
    });
    expect(await deliverStripeEvent("evt_shop", "refund.created", refund)).toEqual({
      status: 200,
      body: { received: true, outcome: "ignored" },
    });
    const dispute = stripeDispute({ id: "dp_shop", amount: 2000, currency: "usd", paymentIntent: "pi_shop" });
    expect(await outcomeOf(deliverStripeEvent("evt_dp_shop", "charge.dispute.created", dispute))).toBe(
      "ignored",
    );
    expect(await readDoc("webhookEvents/evt_shop")).toMatchObject({ outcome: "ignored" });
    expect(await countDocs("parkedEvents")).toBe(0);
    expect(await countDocs("deadLetters")).toBe(0);
    // Recorded: a redelivery is answered from the record, without asking the provider again.
    expect(await outcomeOf(deliverStripeEvent("evt_shop", "refund.created", refund))).toBe("duplicate");
  });

  it("is ignored when the provider has no such payment, and the same for a charge without an intent", async () => {
    const refund = stripeRefund({
      id: "re_ghost",
      amount: 100,
      currency: "usd",
      paymentIntent: "pi_ghost",
      status: "succeeded",
    });
    expect(await outcomeOf(deliverStripeEvent("evt_ghost", "refund.created", refund))).toBe("ignored");
    const byCharge = stripeRefund({
      id: "re_ghost_ch",
      amount: 100,
      currency: "usd",
      paymentIntent: null,
      charge: "ch_ghost",
      status: "succeeded",
    });
    expect(await outcomeOf(deliverStripeEvent("evt_ghost_ch", "refund.created", byCharge))).toBe("ignored");
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 0, ledgerCount: 0 });
  });
});

/** A succeeded refund of `amount` of payment intent `paymentIntent`. */
const refundOf = (id: string, paymentIntent: string, amount: number) =>
  stripeRefund({ id, amount, currency: "usd", paymentIntent, status: "succeeded" });

describe("the parked count on the enrollment", () => {
  it("more events than one query page are all replayed when their payment lands", async () => {
    await providerHoldsPayment("pi_many", 1000, { uid: UID, courseId: "c1" });
    const ids = Array.from({ length: 55 }, (_, i) => String(i).padStart(2, "0"));
    for (const i of ids)
      expect(
        await outcomeOf(
          deliverStripeEvent(`evt_many_${i}`, "refund.created", refundOf(`re_many_${i}`, "pi_many", 10)),
        ),
      ).toBe("parked");
    expect(await readDoc(ENROLLMENT)).toMatchObject({ parkedEvents: 55 });
    await (await payThenTrigger("evt_pay_many", paid("pi_many", 1000))).trigger();
    expect(await countDocs("parkedEvents")).toBe(0);
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 450, refundCount: 55, parkedEvents: 0 });
  });

  it("a drifted count is set right by the next replay that finds the enrollment unchanged, and only then", async () => {
    // A count left behind (e.g. a parked copy deleted by code that predates the count).
    await firestore().doc(ENROLLMENT).update({ parkedEvents: 2 });
    const changedSince = await payThenTrigger("evt_pay_d1", paid("pi_drift1", 100));
    // Written after the payment and before its trigger runs: the trigger must not overwrite what it did not see.
    await firestore().doc(ENROLLMENT).update({ parkedEvents: 3 });
    await changedSince.trigger();
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 100, parkedEvents: 3 });

    await (await payThenTrigger("evt_pay_d2", paid("pi_drift2", 100))).trigger();
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 200, parkedEvents: 0 });
  });
});

describe("a parked event whose replay fails", () => {
  it("transiently: the others still apply, and the trigger fails so that its retry applies it", async () => {
    await providerHoldsPayment("pi_tr", 1000, { uid: UID, courseId: "c1" });
    await deliverStripeEvent("evt_tr_a", "refund.created", refundOf("re_tr_a", "pi_tr", 100));
    await deliverStripeEvent("evt_tr_b", "refund.created", refundOf("re_tr_b", "pi_tr", 200));
    const payment = await payThenTrigger("evt_pay_tr", paid("pi_tr", 1000));
    // Every commit that would apply refund re_tr_a fails: DEADLINE_EXCEEDED, transient, and not re-sent by the SDK.
    lf.server().faults.inject({ method: "Commit", kind: "deadline-exceeded", pathContains: "re_tr_a" });
    await expect(payment.trigger()).rejects.toThrow(/DEADLINE_EXCEEDED/);
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 800, ids: ["pi_tr", "re_tr_b"] });
    expect(await readDoc("parkedEvents/evt_tr_a")).toBeDefined();
    expect(await readDoc(ENROLLMENT)).toMatchObject({ parkedEvents: 1 });

    lf.server().faults.clear();
    await payment.trigger();
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 700, ids: ["pi_tr", "re_tr_a", "re_tr_b"] });
    expect(await countDocs("parkedEvents")).toBe(0);
    expect(await readDoc(ENROLLMENT)).toMatchObject({ parkedEvents: 0 });
  });

  it("permanently: it does not hold up the sweep for the events behind it", async () => {
    await providerHoldsPayment("pi_ok", 1000, { uid: UID, courseId: "c1" });
    // Older than anything else and unreadable (a document written by a future schema, say).
    await firestore()
      .doc("parkedEvents/evt_broken")
      .set({ eventId: "evt_broken", parkedAt: new Date(0), owner: { uid: UID, courseId: "c1" } });
    await deliverStripeEvent("evt_ok", "refund.created", refundOf("re_ok", "pi_ok", 100));
    await deliverStripeEvent("evt_pay_ok", "payment_intent.succeeded", paid("pi_ok", 1000));
    expect(await sweepParkedEvents()).toMatchObject({ examined: 2, replayed: 1, applied: 1, failed: 1 });
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 900, ids: ["pi_ok", "re_ok"] });
    expect(await readDoc("parkedEvents/evt_broken")).toBeDefined();
  });
});
