/**
 * Issue 13, Stripe's lifecycle as a real account delivers it: real-shaped objects (test/support/stripeShapes),
 * signed and posted to the webhook.
 */
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { createCourse, enroll, installLocalProvider, readDoc } from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";
import { deliverStripeEvent, stripePaymentIntent } from "../support/stripeShapes";

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
