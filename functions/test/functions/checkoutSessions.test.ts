/**
 * Issue 13, Checkout Sessions: startCheckoutSession and the checkout.session.* events, with real-shaped session
 * objects, through the same checkout rules and the same exactly-once ledger as startPayment.
 */
import { startCheckoutSession } from "../../src/functions/startCheckoutSession";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { firestore } from "../../src/shared/admin";
import {
  call,
  countDocs,
  createCourse,
  enroll,
  expectHttpsError,
  installLocalProvider,
  ledgerSum,
  readDoc,
  snapshotAll,
  startPayment,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";
import {
  deliverStripeEvent,
  outcomeOf,
  stripeCheckoutSession,
  stripePaymentIntent,
} from "../support/stripeShapes";

useLocalFirestore();
const UID = "student-cs";
const ENROLLMENT = `users/${UID}/courses/c1`;
const URLS = { successUrl: "https://app.example.com/paid", cancelUrl: "https://app.example.com/course/c1" };

beforeEach(async () => {
  await createCourse("c1", 4900);
  await enroll(UID, "c1");
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
  delete process.env.CHECKOUT_REDIRECT_ORIGINS;
});

const start = (requestId: string, extra: Record<string, unknown> = {}) =>
  call(startCheckoutSession, { uid: UID }, { courseId: "c1", requestId, ...URLS, ...extra });

/** The checkout's session as Stripe sends it in an event, paid by payment intent `pi` (or not yet). */
function sessionObject(
  checkoutId: string,
  sessionId: string,
  fields: { pi?: string; status?: string; payment?: string },
) {
  return stripeCheckoutSession({
    id: sessionId,
    amountTotal: 4900,
    currency: "usd",
    paymentIntent: fields.pi ?? null,
    paymentStatus: fields.payment ?? "paid",
    status: fields.status ?? "complete",
    metadata: { uid: UID, courseId: "c1", checkoutId },
  });
}

describe("startCheckoutSession", () => {
  it("answers the hosted page's URL; the same requestId answers the same page; nothing moves money yet", async () => {
    installLocalProvider();
    const first = await start("cs-req-0001");
    expect(first).toMatchObject({ amount: 4900, currency: "usd", status: "pending" });
    expect(first.url).toContain(first.sessionId);
    expect(await start("cs-req-0001")).toEqual(first);
    expect(await readDoc(`checkouts/${first.checkoutId}`)).toMatchObject({
      kind: "session",
      providerSessionId: first.sessionId,
      sessionUrl: first.url,
      providerPaymentId: null,
    });
    expect(await countDocs("localProvider")).toBe(1);
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 0,
      openCheckout: { checkoutId: first.checkoutId },
    });
  });

  it("refuses URLs that are not https (http only for localhost), a reused requestId and foreign origins once configured", async () => {
    installLocalProvider();
    for (const bad of [
      "http://evil.example.com/x",
      "javascript:alert(1)",
      "/relative",
      "ftp://x.example.com",
    ]) {
      await expectHttpsError(start(`cs-bad-${bad.length}0000`, { successUrl: bad }), "invalid-argument");
    }
    const before = await snapshotAll();
    for (const bad of [
      "http://evil.example.com/x",
      "javascript:alert(1)",
      "/relative",
      "ftp://x.example.com",
    ]) {
      await expectHttpsError(start(`cs-bad-${bad.length}0001`, { cancelUrl: bad }), "invalid-argument");
    }
    expect(await snapshotAll()).toEqual(before);
    await start("cs-local-001", { successUrl: "http://localhost:5173/paid" });
    const used = await start("cs-local-002");
    await expectHttpsError(
      call(startPayment, { uid: UID }, { courseId: "c1", requestId: "cs-local-002" }),
      "invalid-argument",
    );
    expect(used.status).toBe("pending");
    process.env.CHECKOUT_REDIRECT_ORIGINS = "https://app.example.com";
    try {
      await expectHttpsError(
        start("cs-origin-01", { cancelUrl: "https://elsewhere.example.com/" }),
        "invalid-argument",
      );
      expect((await start("cs-origin-02")).status).toBe("pending");
    } finally {
      delete process.env.CHECKOUT_REDIRECT_ORIGINS;
    }
  });
});

describe("checkout.session.* events", () => {
  it("completed and paid: one payment entry, keyed by its payment intent, whichever of the two events comes first", async () => {
    installLocalProvider();
    const s = await start("cs-pay-0001");
    const object = sessionObject(s.checkoutId, s.sessionId, { pi: "pi_3SessionPaid0001" });
    expect((await deliverStripeEvent("evt_cs_done", "checkout.session.completed", object)).body).toEqual({
      received: true,
      outcome: "applied",
    });
    // Stripe also sends the intent's own event, with the metadata the session put on it.
    const intent = stripePaymentIntent({
      id: "pi_3SessionPaid0001",
      amount: 4900,
      currency: "usd",
      metadata: { uid: UID, courseId: "c1", checkoutId: s.checkoutId },
    });
    // Its entry exists already: counted once.
    expect(await outcomeOf(deliverStripeEvent("evt_cs_pi", "payment_intent.succeeded", intent))).toBe(
      "duplicate",
    );
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 4900, ids: ["pi_3SessionPaid0001"] });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      paymentStatus: "paid",
      accessStatus: "active",
      openCheckout: null,
    });
    expect(await readDoc(`checkouts/${s.checkoutId}`)).toMatchObject({
      status: "succeeded",
      providerPaymentId: "pi_3SessionPaid0001",
    });
    // Another intent claiming the same checkout is not its payment.
    const other = stripePaymentIntent({
      ...{ id: "pi_3SessionOther001", amount: 4900, currency: "usd" },
      metadata: { uid: UID, courseId: "c1", checkoutId: s.checkoutId },
    });
    expect(await outcomeOf(deliverStripeEvent("evt_cs_other", "payment_intent.succeeded", other))).toBe(
      "dead-lettered",
    );
    expect(await readDoc("deadLetters/evt_cs_other")).toMatchObject({ reason: "checkout-mismatch" });
  });

  it("a bank debit: completed unpaid waits, async_payment_succeeded pays; async_payment_failed cancels", async () => {
    installLocalProvider();
    const s = await start("cs-async-001");
    const pending = sessionObject(s.checkoutId, s.sessionId, {
      pi: "pi_3SessionAsync001",
      payment: "unpaid",
    });
    expect(await outcomeOf(deliverStripeEvent("evt_cs_async_1", "checkout.session.completed", pending))).toBe(
      "noop",
    );
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 0 });
    const settled = sessionObject(s.checkoutId, s.sessionId, { pi: "pi_3SessionAsync001" });
    expect(
      await outcomeOf(
        deliverStripeEvent("evt_cs_async_2", "checkout.session.async_payment_succeeded", settled),
      ),
    ).toBe("applied");
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 4900, accessStatus: "active" });

    await createCourse("c2", 1500);
    await enroll(UID, "c2");
    const f = await call(
      startCheckoutSession,
      { uid: UID },
      { courseId: "c2", requestId: "cs-async-002", ...URLS },
    );
    const failed = stripeCheckoutSession({
      id: f.sessionId,
      amountTotal: 1500,
      currency: "usd",
      paymentIntent: "pi_3SessionAsyncFail",
      paymentStatus: "unpaid",
      status: "complete",
      metadata: { uid: UID, courseId: "c2", checkoutId: f.checkoutId },
    });
    expect(
      await outcomeOf(deliverStripeEvent("evt_cs_async_f", "checkout.session.async_payment_failed", failed)),
    ).toBe("noop");
    expect(await readDoc(`checkouts/${f.checkoutId}`)).toMatchObject({ status: "canceled" });
    expect(await readDoc(`users/${UID}/courses/c2`)).toMatchObject({ amountPaid: 0, openCheckout: null });
  });

  it("expired: the checkout is canceled and stops being the open one; its requestId then answers failed-precondition", async () => {
    installLocalProvider();
    const s = await start("cs-exp-0001");
    const expired = sessionObject(s.checkoutId, s.sessionId, { status: "expired", payment: "unpaid" });
    expect(await outcomeOf(deliverStripeEvent("evt_cs_exp", "checkout.session.expired", expired))).toBe(
      "noop",
    );
    expect(await readDoc(`checkouts/${s.checkoutId}`)).toMatchObject({ status: "canceled" });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ openCheckout: null });
    await expectHttpsError(start("cs-exp-0001"), "failed-precondition");
    expect((await start("cs-exp-0002")).status).toBe("pending");
  });

  it("a tab paying in the app replaces an open hosted page: the page is expired at the provider first", async () => {
    const provider = installLocalProvider();
    const page = await start("cs-tab-0001");
    const app = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "cs-tab-0002" });
    expect(app.paymentId).toBeDefined();
    expect(await readDoc(`checkouts/${page.checkoutId}`)).toMatchObject({ status: "canceled" });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ openCheckout: { checkoutId: app.checkoutId } });
    // The local provider expired the page (and sent checkout.session.expired); paying it is refused.
    const pagePayment = (await localPayments()).find((p) => p.session?.id === page.sessionId);
    expect(pagePayment).toMatchObject({ status: "canceled", session: { status: "expired" } });
    await expect(provider.confirmPayment(pagePayment?.id ?? "")).rejects.toThrow("canceled");
    await expectHttpsError(start("cs-tab-0001"), "failed-precondition");
  });

  it("paid on the local provider's page: both events arrive and the payment counts once", async () => {
    const provider = installLocalProvider();
    const s = await start("cs-local-pay1");
    const [payment] = await localPayments();
    if (payment === undefined) throw new Error("no local payment");
    // The stack's `confirm` takes the page's id, as a student pays the page.
    await provider.confirmPayment(s.sessionId);
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 4900, ids: [payment.id] });
    expect(await readDoc(`checkouts/${s.checkoutId}`)).toMatchObject({
      status: "succeeded",
      providerPaymentId: payment.id,
    });
  });
});

/** The local provider's payments (a hosted page's payment carries its `session`). */
async function localPayments(): Promise<
  { id: string; status: string; session?: { id: string; status: string } | null }[]
> {
  const docs = (await firestore().collection("localProvider").get()).docs;
  return docs.map(
    (d) => d.data() as { id: string; status: string; session?: { id: string; status: string } | null },
  );
}
