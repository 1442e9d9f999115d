/**
 * Issue 13, Stripe's lifecycle as a real account delivers it: real-shaped objects (test/support/stripeShapes),
 * signed and posted to the webhook.
 */
import { setPaymentProviderForTesting } from "../../src/services/payments";
import {
  call,
  createCourse,
  enroll,
  expectHttpsError,
  installLocalProvider,
  ledgerSum,
  readDoc,
  startPayment,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";
import {
  deliverStripeEvent,
  stripeDispute,
  stripePaymentIntent,
  stripeRefund,
} from "../support/stripeShapes";

useLocalFirestore();

const UID = "student-1";

beforeEach(() => {
  installLocalProvider();
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

describe("currencies", () => {
  /** A course priced `price` in `currency`, the student enrolled, and a real-shaped payment of `amount` delivered. */
  async function payIn(currency: string, price: number, amount: number) {
    const courseId = `${currency}-course`;
    await createCourse(courseId, price, { currency });
    await enroll(UID, courseId);
    const intent = stripePaymentIntent({
      id: `pi_3${currency}Payment0001`,
      amount,
      currency,
      metadata: { uid: UID, courseId },
    });
    const reply = await deliverStripeEvent(`evt_${currency}_1`, "payment_intent.succeeded", intent);
    return { reply, enrollment: await readDoc(`users/${UID}/courses/${courseId}`) };
  }

  it("an IDR payment above 99,999,999 minor units (Stripe allows 12 digits in IDR) is applied", async () => {
    const { reply, enrollment } = await payIn("idr", 250_000_000_000, 150_000_000_000); // of Rp 2.5 billion
    expect(reply).toEqual({ status: 200, body: { received: true, outcome: "applied" } });
    expect(enrollment).toMatchObject({
      amountPaid: 150_000_000_000,
      amountDue: 100_000_000_000,
      paymentStatus: "partial",
    });
  });

  it("a zero-decimal currency's amount is whole units: ¥4,900 is 4900, paid in full", async () => {
    const { reply, enrollment } = await payIn("jpy", 4900, 4900);
    expect(reply.status).toBe(200);
    expect(enrollment).toMatchObject({ amountPaid: 4900, paymentStatus: "paid", accessStatus: "active" });
  });
});

describe("metadata keys are data", () => {
  beforeEach(async () => {
    await createCourse("c1", 5000);
    await enroll(UID, "c1");
  });

  it("metadata a Dashboard user added (`constructor`, `__proto__`, anything) does not make a genuine event malformed", async () => {
    const intent = stripePaymentIntent({
      id: "pi_3DashMeta0001",
      amount: 5000,
      currency: "usd",
      metadata: {
        uid: UID,
        courseId: "c1",
        constructor: "x",
        prototype: "y",
        order_note: "paid at the desk",
      },
    });
    // JSON.stringify cannot write an own `__proto__` key from an object literal: splice one into the raw text.
    const reply = await deliverStripeEvent("evt_dash_meta_1", "payment_intent.succeeded", intent, {
      rawBody: (json) =>
        json.replace('"metadata":{', '"metadata":{"__proto__":{"uid":"mallory","admin":true},'),
    });
    expect(reply).toEqual({ status: 200, body: { received: true, outcome: "applied" } });
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({
      amountPaid: 5000,
      paymentStatus: "paid",
    });
    expect(await readDoc("users/mallory/courses/c1")).toBeUndefined();
  });

  it("a prototype key outside metadata still makes the body malformed (400), and nothing is written", async () => {
    const intent = stripePaymentIntent({
      id: "pi_3ProtoTop0001",
      amount: 5000,
      currency: "usd",
      metadata: { uid: UID, courseId: "c1" },
    });
    const reply = await deliverStripeEvent("evt_proto_top_1", "payment_intent.succeeded", intent, {
      rawBody: (json) =>
        json.replace('"object":"payment_intent",', '"object":"payment_intent","__proto__":{"amount":1},'),
    });
    expect(reply.status).toBe(400);
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({ amountPaid: 0 });
  });
});

describe("payment intents that end without money", () => {
  beforeEach(async () => {
    await createCourse("c1", 5000);
    await enroll(UID, "c1");
  });

  /** The real-shaped intent of a startPayment checkout, in `status`. */
  const intentOf = (started: { paymentId: string; checkoutId: string }, status: string) =>
    stripePaymentIntent({
      id: started.paymentId,
      amount: 5000,
      currency: "usd",
      status,
      metadata: { uid: UID, courseId: "c1", checkoutId: started.checkoutId },
    });

  it("payment_intent.canceled closes the checkout and frees the open checkout: the next tab pays through a new one", async () => {
    const first = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "tab-one-00001" });
    const reply = await deliverStripeEvent(
      "evt_pi_canceled_1",
      "payment_intent.canceled",
      intentOf(first, "canceled"),
    );
    expect(reply).toEqual({ status: 200, body: { received: true, outcome: "noop" } });
    expect(await readDoc(`checkouts/${first.checkoutId}`)).toMatchObject({ status: "canceled" });
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({ openCheckout: null, amountPaid: 0 });
    // Before, a second tab joined the canceled intent and could not pay; now it gets a payment of its own.
    const second = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "tab-two-00001" });
    expect(second.paymentId).not.toBe(first.paymentId);
    expect(second.status).toBe("pending");
    // The canceled one is not handed out again.
    await expectHttpsError(
      call(startPayment, { uid: UID }, { courseId: "c1", requestId: "tab-one-00001" }),
      "failed-precondition",
    );
  });

  it("after payment_failed a second tab's balance payment first cancels the failed intent: never charged twice", async () => {
    const provider = installLocalProvider();
    const first = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "fail-tab-0001" });
    expect(
      (
        await deliverStripeEvent(
          "evt_pi_failed_3",
          "payment_intent.payment_failed",
          intentOf(first, "requires_payment_method"),
        )
      ).status,
    ).toBe(200);
    // The first tab may retry its card on the same intent: its retry still returns it.
    expect(
      await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "fail-tab-0001" }),
    ).toMatchObject({
      paymentId: first.paymentId,
      status: "failed",
    });
    const second = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "fail-tab-0002" });
    expect(second.paymentId).not.toBe(first.paymentId);
    expect(await readDoc(`localProvider/${first.paymentId}`)).toMatchObject({ status: "canceled" });
    expect(await readDoc(`checkouts/${first.checkoutId}`)).toMatchObject({ status: "canceled" });
    // Before, the customer's retry on the failed intent and the second tab's payment both succeeded.
    await expect(provider.confirmPayment(first.paymentId)).rejects.toThrow(/canceled/);
    await provider.confirmPayment(second.paymentId);
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({ amountPaid: 5000, amountOverpaid: 0 });
  });

  it("a canceled event after the payment succeeded (or delivered twice) changes nothing", async () => {
    const started = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "paid-then-c01" });
    expect(
      (await deliverStripeEvent("evt_pi_ok_2", "payment_intent.succeeded", intentOf(started, "succeeded")))
        .status,
    ).toBe(200);
    for (const id of ["evt_pi_canceled_2", "evt_pi_canceled_2"])
      expect(
        (await deliverStripeEvent(id, "payment_intent.canceled", intentOf(started, "canceled"))).status,
      ).toBe(200);
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({ status: "succeeded" });
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({
      amountPaid: 5000,
      paymentStatus: "paid",
    });
  });
});

describe("refunds that fail after succeeding", () => {
  const PI = "pi_3RefundFail0001";
  const refundIn = (status: "succeeded" | "failed") =>
    stripeRefund({ id: "re_3RefundFail0001", amount: 5000, currency: "usd", paymentIntent: PI, status });

  beforeEach(async () => {
    await createCourse("c1", 5000);
    await enroll(UID, "c1");
    const intent = stripePaymentIntent({
      id: PI,
      amount: 5000,
      currency: "usd",
      metadata: { uid: UID, courseId: "c1" },
    });
    expect((await deliverStripeEvent("evt_rf_pay", "payment_intent.succeeded", intent)).status).toBe(200);
  });

  it("succeeded → failed (expired card): the money is back, so is access; the ledger shows the refund and its reversal", async () => {
    expect((await deliverStripeEvent("evt_rf_created", "refund.created", refundIn("succeeded"))).status).toBe(
      200,
    );
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({
      amountPaid: 0,
      accessStatus: "revoked",
    });
    for (const [id, type] of [
      ["evt_rf_updated", "refund.updated"],
      ["evt_rf_failed", "refund.failed"],
      ["evt_rf_failed", "refund.failed"],
    ] as const)
      expect((await deliverStripeEvent(id, type, refundIn("failed"))).status).toBe(200);
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({
      amountPaid: 5000,
      refundCount: 0,
      paymentStatus: "paid",
      accessStatus: "active",
      refundedByPayment: { [PI]: 0 },
    });
    expect(await ledgerSum(UID, "c1")).toEqual({
      sum: 5000,
      ids: [PI, "re_3RefundFail0001", "re_3RefundFail0001_reversal"],
    });
  });

  it("a failed update that overtakes the succeeded one: the refund never takes the money", async () => {
    expect((await deliverStripeEvent("evt_rf_updated", "refund.updated", refundIn("failed"))).status).toBe(
      200,
    );
    expect((await deliverStripeEvent("evt_rf_created", "refund.created", refundIn("succeeded"))).status).toBe(
      200,
    );
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({
      amountPaid: 5000,
      accessStatus: "active",
    });
    // And the payment can still be refunded in full.
    const second = stripeRefund({
      id: "re_3RefundOk0002",
      amount: 5000,
      currency: "usd",
      paymentIntent: PI,
      status: "succeeded",
    });
    expect((await deliverStripeEvent("evt_rf_second", "refund.created", second)).body).toEqual({
      received: true,
      outcome: "applied",
    });
    expect(await readDoc(`users/${UID}/courses/c1`)).toMatchObject({
      amountPaid: 0,
      accessStatus: "revoked",
    });
  });
});

describe("disputes: funds, appeals and late deliveries", () => {
  const ENROLLMENT = `users/${UID}/courses/dc1`;
  const PI = "pi_3DisputedPayment01";

  beforeEach(async () => {
    await createCourse("dc1", 2000);
    await enroll(UID, "dc1");
    const intent = stripePaymentIntent({
      id: PI,
      amount: 2000,
      currency: "usd",
      metadata: { uid: UID, courseId: "dc1" },
    });
    await deliverStripeEvent("evt_dc_paid", "payment_intent.succeeded", intent);
  });

  /** The dispute object at each step of its life, as Stripe sends it. */
  const at = (status: string, funds: ("withdrawn" | "reinstated")[] = []) =>
    stripeDispute({ id: "dp_1Appealed", amount: 2000, currency: "usd", paymentIntent: PI, status, funds });
  const steps = {
    created: ["evt_dp_created", "charge.dispute.created", at("needs_response")],
    withdrawn: ["evt_dp_withdrawn", "charge.dispute.funds_withdrawn", at("needs_response", ["withdrawn"])],
    review: ["evt_dp_review", "charge.dispute.updated", at("under_review", ["withdrawn"])],
    lost: ["evt_dp_lost", "charge.dispute.closed", at("lost", ["withdrawn"])],
    won: ["evt_dp_won", "charge.dispute.updated", at("won", ["withdrawn", "reinstated"])],
    reinstated: [
      "evt_dp_reinstated",
      "charge.dispute.funds_reinstated",
      at("won", ["withdrawn", "reinstated"]),
    ],
  } as const;
  const send = async (step: keyof typeof steps) => {
    const [id, type, object] = steps[step];
    return deliverStripeEvent(id, type, object);
  };

  it("open (funds withdrawn, under review): access suspended, nothing taken until it is decided", async () => {
    for (const step of ["created", "withdrawn", "review"] as const)
      expect((await send(step)).status).toBe(200);
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 2000,
      openDisputes: 1,
      accessStatus: "suspended",
      disputes: { dp_1Appealed: { status: "open", stage: "under_review", fundsWithdrawn: true } },
    });
  });

  it("lost, then won on appeal with the funds reinstated: the money and access come back, each entry once", async () => {
    for (const step of ["created", "withdrawn", "review", "lost"] as const) await send(step);
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 0,
      accessStatus: "locked",
      openDisputes: 0,
    });
    for (const step of ["won", "reinstated", "reinstated", "lost"] as const)
      expect((await send(step)).status).toBe(200);
    expect(await ledgerSum(UID, "dc1")).toEqual({
      sum: 2000,
      ids: ["dp_1Appealed", "dp_1Appealed_reinstated", PI],
    });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 2000,
      paymentStatus: "paid",
      accessStatus: "active",
      disputes: { dp_1Appealed: { status: "closed", outcome: "won", lostSeen: true, fundsReinstated: true } },
    });
  });

  it("the same events in another order (reinstated first, the stale loss last) end the same way", async () => {
    for (const step of ["reinstated", "review", "created", "won", "withdrawn", "lost"] as const)
      await send(step);
    expect(await ledgerSum(UID, "dc1")).toEqual({
      sum: 2000,
      ids: ["dp_1Appealed", "dp_1Appealed_reinstated", PI],
    });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ accessStatus: "active", openDisputes: 0 });
  });

  it("an inquiry (warning_*) closed in the merchant's favour moves no money", async () => {
    const inquiry = (status: string) =>
      stripeDispute({ id: "dp_1Inquiry", amount: 2000, currency: "usd", paymentIntent: PI, status });
    await deliverStripeEvent("evt_inq_1", "charge.dispute.created", inquiry("warning_needs_response"));
    expect(await readDoc(ENROLLMENT)).toMatchObject({ accessStatus: "suspended" });
    await deliverStripeEvent("evt_inq_2", "charge.dispute.closed", inquiry("warning_closed"));
    expect(await ledgerSum(UID, "dc1")).toEqual({ sum: 2000, ids: [PI] });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ accessStatus: "active", openDisputes: 0 });
  });
});
