/**
 * The attacks of the adversarial review (issue 12), kept as tests: each was possible before and must stay refused.
 * Everything runs against the real handlers and the local Firestore; events are signed with the real secret (a
 * valid signature proves only that the event comes from the provider account, not that its claims are ours).
 */
import path from "node:path";
import { firestore } from "../../src/shared/admin";
import { expectsLivemode, webhookSecretValue } from "../../src/shared/config";
import { handleWebhook } from "../../src/services/webhookService";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import type { LocalPaymentProvider } from "../../src/services/payments/local/localProvider";
import type { PaymentProvider } from "../../src/services/payments/provider";
import { ProviderError } from "../../src/shared/errors";
import {
  chargeRefundedEvent,
  disputeEvent,
  paymentFailedEvent,
  paymentSucceededEvent,
  refundEvent,
  signEvent,
  type LocalPaymentView,
  type StripeEventJson,
} from "../../src/services/payments/local/localEvents";
import {
  ADMIN,
  call,
  countDocs,
  createCourse,
  deliverEvent,
  enroll,
  enrollInCourse,
  expectHttpsError,
  installLocalProvider,
  postWebhook,
  readDoc,
  recordManualPayment,
  refundPayment,
  startPayment,
  providerWith,
} from "../support/harness";
import { TEST_WEBHOOK_SECRET, useLocalFirestore } from "../support/localFirestore";

useLocalFirestore();

const ALICE = "alice";
const BOB = "bob";

function view(
  uid: string,
  id: string,
  amount: number,
  metadata: Record<string, string> = {},
): LocalPaymentView {
  return {
    id,
    chargeId: `ch_${id}`,
    amount,
    currency: "usd",
    metadata: { uid, courseId: "c1", ...metadata },
    refunds: [],
  };
}

async function enrollment(uid: string): Promise<Record<string, unknown> | undefined> {
  return readDoc(`users/${uid}/courses/c1`);
}

beforeEach(async () => {
  installLocalProvider();
  await createCourse("c1", 5000);
  await enroll(ALICE, "c1");
  await enroll(BOB, "c1");
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

describe("a signed payment is checked against the checkout it names", () => {
  it("bob's payment naming alice's checkout credits nobody and leaves her checkout as it was", async () => {
    const started = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "alice-req-1" });
    const before = await readDoc(`checkouts/${started.checkoutId}`);
    const forged = paymentSucceededEvent(
      view(BOB, "pi_outside_1", 5000, { checkoutId: started.checkoutId }),
      "evt_forged_1",
    );
    expect((await deliverEvent(forged)).body).toEqual({ received: true, outcome: "dead-lettered" });
    expect(await readDoc("deadLetters/evt_forged_1")).toMatchObject({ reason: "checkout-mismatch" });
    expect(await enrollment(BOB)).toMatchObject({ amountPaid: 0, paymentStatus: "unpaid" });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 0 });
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toEqual(before);
    // A dispute of that payment finds no ledger entry: it can suspend nobody.
    const dispute = disputeEvent(
      view(BOB, "pi_outside_1", 5000),
      { id: "dp_outside_1", amount: 5000, status: "lost" },
      "charge.dispute.closed",
      "evt_dispute_outside_1",
    );
    // The provider does not hold that payment (it never existed): not ours, ignored.
    expect((await deliverEvent(dispute)).body).toMatchObject({ outcome: "ignored" });
    expect(await enrollment(ALICE)).toMatchObject({ accessStatus: "locked", openDisputes: 0 });
    // Alice's genuine payment still goes through.
    const provider = installLocalProvider();
    await provider.confirmPayment(started.paymentId);
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 5000, paymentStatus: "paid" });
  });

  it("a payment of 50 on a 5000 checkout, in another currency, or with another payment attached is set aside", async () => {
    const started = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "alice-req-2" });
    const cases: [string, LocalPaymentView][] = [
      ["evt_small", view(ALICE, "pi_small", 50, { checkoutId: started.checkoutId })],
      ["evt_eur", { ...view(ALICE, "pi_eur", 5000, { checkoutId: started.checkoutId }), currency: "eur" }],
      // The checkout already carries its own payment id; another payment claiming it is not that payment.
      ["evt_other_pi", view(ALICE, "pi_other", 5000, { checkoutId: started.checkoutId })],
      ["evt_no_checkout", view(ALICE, "pi_nock", 5000, { checkoutId: "no-such-checkout" })],
    ];
    // A checkoutId that cannot be a checkout id is not ignored: the event is invalid.
    const odd = paymentSucceededEvent(view(ALICE, "pi_odd", 5000, { checkoutId: "a/b" }), "evt_odd");
    expect((await deliverEvent(odd)).body).toMatchObject({ outcome: "dead-lettered" });
    expect(await readDoc("deadLetters/evt_odd")).toMatchObject({ reason: "metadata-invalid" });
    for (const [eventId, payment] of cases) {
      expect((await deliverEvent(paymentSucceededEvent(payment, eventId))).body).toEqual({
        received: true,
        outcome: "dead-lettered",
      });
      expect(await readDoc(`deadLetters/${eventId}`)).toMatchObject({ reason: "checkout-mismatch" });
    }
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 0, ledgerCount: 0 });
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({ status: "pending" });
  });

  it("a failure event naming someone else's checkout does not fail it", async () => {
    const started = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "alice-req-3" });
    const failed = paymentFailedEvent(
      view(BOB, "pi_bobfail", 5000, { checkoutId: started.checkoutId }),
      "evt_f1",
    );
    expect((await deliverEvent(failed)).body).toMatchObject({ outcome: "dead-lettered" });
    expect(await readDoc("deadLetters/evt_f1")).toMatchObject({ reason: "checkout-mismatch" });
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({ status: "pending" });
    expect(await enrollment(ALICE)).toMatchObject({ openCheckout: { checkoutId: started.checkoutId } });
  });

  it("the checkout is held to what the payment was created for; what was received is credited", async () => {
    const started = await call(
      startPayment,
      { uid: ALICE },
      { courseId: "c1", requestId: "alice-capture-1" },
    );
    const event = paymentSucceededEvent(
      view(ALICE, started.paymentId, 5000, { checkoutId: started.checkoutId }),
      "evt_partial_capture",
    );
    // A partial capture: asked 5000 (the checkout's amount), received 4000.
    event.data.object.amount_received = 4000;
    expect((await deliverEvent(event)).body).toEqual({ received: true, outcome: "applied" });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 4000, paymentStatus: "partial" });
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({ status: "succeeded" });
  });

  it("a failure event never attaches its payment id to a checkout; the real payment still completes it", async () => {
    const started = await call(
      startPayment,
      { uid: ALICE },
      { courseId: "c1", requestId: "alice-unlearnt-1" },
    );
    // As if startPayment's second transaction never landed: the checkout does not know its payment yet.
    await firestore()
      .doc(`checkouts/${started.checkoutId}`)
      .update({ providerPaymentId: null, status: "creating" });
    const failed = paymentFailedEvent(
      view(ALICE, started.paymentId, 5000, { checkoutId: started.checkoutId }),
      "evt_unlearnt_fail",
    );
    expect((await deliverEvent(failed)).body).toMatchObject({ outcome: "noop" });
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({
      status: "failed",
      providerPaymentId: null,
    });
    const succeeded = paymentSucceededEvent(
      view(ALICE, started.paymentId, 5000, { checkoutId: started.checkoutId }),
      "evt_unlearnt_ok",
    );
    expect((await deliverEvent(succeeded)).body).toMatchObject({ outcome: "applied" });
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({
      status: "succeeded",
      providerPaymentId: started.paymentId,
    });
  });

  it("a genuine payment made outside startPayment (no checkout, e.g. a Payment Link) is credited to the enrolled student it names", async () => {
    const link = paymentSucceededEvent(view(ALICE, "pi_link_1", 2000), "evt_link_1");
    expect((await deliverEvent(link)).body).toEqual({ received: true, outcome: "applied" });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 2000, paymentStatus: "partial" });
  });
});

describe("refunds and disputes take back at most what their payment left", () => {
  beforeEach(async () => {
    await deliverEvent(paymentSucceededEvent(view(ALICE, "pi_a", 5000), "evt_pay_a"));
  });

  it("a signed refund of 99,999,999 on a 5000 payment is set aside", async () => {
    const huge = refundEvent(
      view(ALICE, "pi_a", 5000),
      { id: "re_huge", amount: 99_999_999, status: "succeeded" },
      "refund.created",
      "evt_re_huge",
    );
    expect((await deliverEvent(huge)).body).toMatchObject({ outcome: "dead-lettered" });
    expect(await readDoc("deadLetters/evt_re_huge")).toMatchObject({ reason: "refund-exceeds-payment" });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 5000, refundCount: 0 });
  });

  it("refunds add up to the payment at most, even when delivered at once", async () => {
    const refunds = ["re_1", "re_2", "re_3"].map((id, i) =>
      refundEvent(
        view(ALICE, "pi_a", 5000),
        { id, amount: 2000, status: "succeeded" },
        "refund.created",
        `evt_${id}_${i}`,
      ),
    );
    const replies = await Promise.all(refunds.map((r) => deliverEvent(r)));
    const outcomes = replies.map((r) => (r.body as { outcome?: string }).outcome).sort();
    expect(outcomes).toEqual(["applied", "applied", "dead-lettered"]);
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 1000, refundCount: 2 });
  });

  it("a partial refund then a lost dispute for the full amount: the dispute is set aside, amountPaid stays ≥ 0", async () => {
    const payment = view(ALICE, "pi_a", 5000);
    await deliverEvent(
      chargeRefundedEvent(
        { ...payment, refunds: [{ id: "re_part", amount: 500, status: "succeeded" }] },
        "evt_rp",
      ),
    );
    // The dispute opens (no money moves yet: access is suspended while it is open).
    const opened = await deliverEvent(
      disputeEvent(
        payment,
        { id: "dp_full", amount: 5000, status: "needs_response" },
        "charge.dispute.created",
        "evt_dc",
      ),
    );
    expect(opened.body).toMatchObject({ outcome: "applied" });
    expect(await enrollment(ALICE)).toMatchObject({
      amountPaid: 4500,
      openDisputes: 1,
      accessStatus: "suspended",
    });
    // Lost for more than the payment has left: set aside for an admin, nothing taken back.
    const lost = await deliverEvent(
      disputeEvent(
        payment,
        { id: "dp_full", amount: 5000, status: "lost" },
        "charge.dispute.closed",
        "evt_dl",
      ),
    );
    expect(lost.body).toMatchObject({ outcome: "dead-lettered" });
    expect(await readDoc("deadLetters/evt_dl")).toMatchObject({ reason: "dispute-exceeds-payment" });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 4500 });
  });

  it("a refund whose metadata names bob is applied to the enrollment of its payment (alice's), never to bob's", async () => {
    const refund = refundEvent(
      view(BOB, "pi_a", 5000),
      { id: "re_meta", amount: 1000, status: "succeeded" },
      "refund.created",
      "evt_re_meta",
    );
    expect((await deliverEvent(refund)).body).toMatchObject({ outcome: "applied" });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 4000, refundCount: 1 });
    expect(await enrollment(BOB)).toMatchObject({ amountPaid: 0, refundCount: 0 });
  });
});

describe("the webhook's configuration", () => {
  it("applies only events of the configured mode: one of the other mode is refused (400) and nothing is recorded", async () => {
    const live = { ...paymentSucceededEvent(view(ALICE, "pi_live", 1000), "evt_live"), livemode: true };
    expect(await deliverEvent(live as unknown as StripeEventJson)).toEqual({
      status: 400,
      body: { received: false, error: "livemode-mismatch" },
    });
    // And a test-mode event at a live endpoint (what a production deploy expects by default).
    const test = await signEvent(
      paymentSucceededEvent(view(ALICE, "pi_test", 1000), "evt_test"),
      TEST_WEBHOOK_SECRET,
    );
    const reply = await handleWebhook(
      { method: "POST", rawBody: Buffer.from(test.rawBody), signature: test.signature },
      { secrets: [TEST_WEBHOOK_SECRET], source: "stripe", livemode: true },
    );
    expect(reply).toEqual({ status: 400, body: { received: false, error: "livemode-mismatch" } });
    expect(await countDocs("webhookEvents")).toBe(0);
    expect(await countDocs("deadLetters")).toBe(0);
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 0 });
    expect(expectsLivemode("local")).toBe(false);
    expect(expectsLivemode("stripe")).toBe(true);
  });

  it("several secrets (rolling one): an event signed with any configured one applies, another is refused", async () => {
    const saved = process.env.STRIPE_WEBHOOK_SECRET;
    const next = "whsec_rolled_in_0123456789abcdef";
    try {
      process.env.STRIPE_WEBHOOK_SECRET = `${next}, ${TEST_WEBHOOK_SECRET}`;
      const post = async (id: string, secret: string) => {
        const signed = await signEvent(
          paymentSucceededEvent(view(ALICE, `pi_${id}`, 1000), `evt_${id}`),
          secret,
        );
        return (await postWebhook(signed.rawBody, signed.signature)).status;
      };
      expect(await post("old_secret", TEST_WEBHOOK_SECRET)).toBe(200);
      expect(await post("new_secret", next)).toBe(200);
      expect(await post("no_secret", "whsec_not_configured_here")).toBe(400);
      expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 2000 });
    } finally {
      process.env.STRIPE_WEBHOOK_SECRET = saved;
    }
  });

  it("a blank (whitespace-only) webhook secret is not configured: 500, nothing written", async () => {
    const saved = process.env.STRIPE_WEBHOOK_SECRET;
    try {
      process.env.STRIPE_WEBHOOK_SECRET = "  \t ";
      expect(webhookSecretValue()).toBeUndefined();
      const signed = await signEvent(
        paymentSucceededEvent(view(ALICE, "pi_blank", 1000), "evt_blank"),
        "  \t ",
      );
      expect(await postWebhook(signed.rawBody, signed.signature)).toEqual({
        status: 500,
        body: { received: false, error: "not-configured" },
      });
      expect(await countDocs("webhookEvents")).toBe(0);
    } finally {
      process.env.STRIPE_WEBHOOK_SECRET = saved;
    }
  });
});

describe("callables", () => {
  it("an unpublished course answers exactly as a missing one (no existence oracle)", async () => {
    await createCourse("draft", 1000, { published: false });
    const draft = await expectHttpsError(
      call(enrollInCourse, { uid: ALICE }, { courseId: "draft" }),
      "not-found",
    );
    const missing = await expectHttpsError(
      call(enrollInCourse, { uid: ALICE }, { courseId: "nope" }),
      "not-found",
    );
    expect(draft.message).toBe(missing.message);
    expect(await readDoc(`users/${ALICE}/courses/draft`)).toBeUndefined();
  });

  it("`__proto__` in a callable's JSON cannot supply fields through the prototype", async () => {
    // firebase-functions decodes a callable's JSON by assigning each key (its `decode`): "__proto__" becomes the
    // decoded object's prototype. Run the real decode on hostile JSON.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { decode } = require(
      path.join(path.dirname(require.resolve("firebase-functions")), "../common/providers/https.js"),
    ) as { decode: (data: unknown) => Record<string, unknown> };
    const data = decode(
      JSON.parse('{"courseId":"c1","amount":100,"reference":"cash-1","__proto__":{"uid":"alice"}}'),
    );
    expect(Object.prototype.hasOwnProperty.call(data, "uid")).toBe(false);
    expect(data.uid).toBe("alice");
    await expectHttpsError(call(recordManualPayment, ADMIN, data), "invalid-argument");
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 0, ledgerCount: 0 });
  });
});

describe("payment limits", () => {
  it("two tabs each passing the full balance as `amount` get one provider payment", async () => {
    const [a, b] = await Promise.all([
      call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "tab-a-full", amount: 5000 }),
      call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "tab-b-full", amount: 5000 }),
    ]);
    expect(b.paymentId).toBe(a.paymentId);
    expect(await countDocs("localProvider")).toBe(1);
  });

  it("joining another tab's balance checkout does not count against the rate limit", async () => {
    const saved = process.env.START_PAYMENT_LIMIT;
    process.env.START_PAYMENT_LIMIT = "2";
    try {
      await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "join-bal-0001" });
      for (const tab of ["join-bal-0002", "join-bal-0003", "join-bal-0004"])
        await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: tab });
      // One new payment so far: one more is allowed, the next is refused.
      await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "join-part-001", amount: 100 });
      await expectHttpsError(
        call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "join-part-002", amount: 100 }),
        "resource-exhausted",
      );
      expect(await countDocs("localProvider")).toBe(2);
    } finally {
      if (saved === undefined) delete process.env.START_PAYMENT_LIMIT;
      else process.env.START_PAYMENT_LIMIT = saved;
    }
  });

  it("a user starting payments faster than the limit gets resource-exhausted with a retry hint; retries stay free", async () => {
    const saved = process.env.START_PAYMENT_LIMIT;
    process.env.START_PAYMENT_LIMIT = "3";
    try {
      for (let i = 0; i < 3; i++)
        await call(
          startPayment,
          { uid: ALICE },
          { courseId: "c1", requestId: `burst-${i}-0000`, amount: 100 },
        );
      const refused = await expectHttpsError(
        call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "burst-3-0000", amount: 100 }),
        "resource-exhausted",
      );
      expect(refused.details).toMatchObject({ retryAfterSeconds: expect.any(Number) as number });
      expect(await countDocs("localProvider")).toBe(3);
      // A retry of an accepted request is not a new payment: still answered.
      const retry = await call(
        startPayment,
        { uid: ALICE },
        { courseId: "c1", requestId: "burst-1-0000", amount: 100 },
      );
      expect(retry.status).toBe("pending");
      // Another user is not limited by alice's burst.
      await call(startPayment, { uid: BOB }, { courseId: "c1", requestId: "bob-req-0001", amount: 100 });
      expect(await countDocs("localProvider")).toBe(4);
    } finally {
      if (saved === undefined) delete process.env.START_PAYMENT_LIMIT;
      else process.env.START_PAYMENT_LIMIT = saved;
    }
  });
});

describe("a checkout for more than is owed now is never handed out again", () => {
  const manual = (reference: string, amount: number) =>
    call(recordManualPayment, ADMIN, { uid: ALICE, courseId: "c1", amount, reference });

  it("a retry of a balance checkout made before a part payment cancels it at the provider: failed-precondition", async () => {
    const provider = installLocalProvider();
    const old = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "stale-bal-001" });
    await manual("stale-cash-1", 1000);
    const refused = await expectHttpsError(
      call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "stale-bal-001" }),
      "failed-precondition",
    );
    expect(refused.details).toMatchObject({ checkoutId: old.checkoutId, canceled: true });
    expect(await readDoc(`localProvider/${old.paymentId}`)).toMatchObject({ status: "canceled" });
    expect(await readDoc(`checkouts/${old.checkoutId}`)).toMatchObject({ status: "canceled" });
    expect(await enrollment(ALICE)).toMatchObject({ openCheckout: null, amountPaid: 1000 });
    // The customer can no longer pay it; asking again answers the same, and a new request pays what is owed.
    await expect(provider.confirmPayment(old.paymentId)).rejects.toThrow(/canceled/);
    await expectHttpsError(
      call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "stale-bal-001" }),
      "failed-precondition",
    );
    const fresh = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "stale-bal-002" });
    expect(fresh.amount).toBe(4000);
  });

  it("a part checkout for more than is now owed is canceled the same way", async () => {
    const part = await call(
      startPayment,
      { uid: ALICE },
      { courseId: "c1", requestId: "stale-part-01", amount: 3000 },
    );
    await manual("stale-cash-2", 3000);
    await expectHttpsError(
      call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "stale-part-01", amount: 3000 }),
      "failed-precondition",
    );
    expect(await readDoc(`localProvider/${part.paymentId}`)).toMatchObject({ status: "canceled" });
    // A checkout that still fits what is owed is answered as before.
    const small = await call(
      startPayment,
      { uid: ALICE },
      { courseId: "c1", requestId: "stale-part-02", amount: 500 },
    );
    const again = await call(
      startPayment,
      { uid: ALICE },
      { courseId: "c1", requestId: "stale-part-02", amount: 500 },
    );
    expect(again.paymentId).toBe(small.paymentId);
  });

  it("a new balance checkout cancels the one it replaces: only one balance payment can be paid", async () => {
    const provider = installLocalProvider();
    const old = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "repl-bal-001" });
    await manual("repl-cash-1", 1000);
    const next = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "repl-bal-002" });
    expect(next).toMatchObject({ amount: 4000, status: "pending" });
    expect(await readDoc(`localProvider/${old.paymentId}`)).toMatchObject({ status: "canceled" });
    expect(await readDoc(`checkouts/${old.checkoutId}`)).toMatchObject({ status: "canceled" });
    expect(await readDoc(`checkouts/${next.checkoutId}`)).toMatchObject({ replaces: old.checkoutId });
    expect(await enrollment(ALICE)).toMatchObject({
      openCheckout: { checkoutId: next.checkoutId, amount: 4000 },
    });
    await expect(provider.confirmPayment(old.paymentId)).rejects.toThrow(/canceled/);
    await provider.confirmPayment(next.paymentId);
    expect(await enrollment(ALICE)).toMatchObject({
      amountPaid: 5000,
      amountOverpaid: 0,
      paymentStatus: "paid",
    });
  });

  it("a provider timeout while canceling the replaced one: unavailable, and the retry of the same requestId completes it", async () => {
    const provider = installLocalProvider();
    const old = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "slow-bal-001" });
    await manual("slow-cash-1", 1000);
    setPaymentProviderForTesting(
      providerWith(provider, { cancelPayment: () => Promise.reject(new ProviderError("timeout", true)) }),
    );
    await expectHttpsError(
      call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "slow-bal-002" }),
      "unavailable",
    );
    // Nothing payable was created meanwhile; the old one is still the customer's to pay.
    expect(await countDocs("localProvider")).toBe(1);
    setPaymentProviderForTesting(provider);
    const next = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "slow-bal-002" });
    expect(next).toMatchObject({ amount: 4000, status: "pending" });
    expect(await readDoc(`localProvider/${old.paymentId}`)).toMatchObject({ status: "canceled" });
  });

  it("when the replaced payment was paid meanwhile, no second payment is created", async () => {
    const old = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "paid-bal-001" });
    await manual("paid-cash-1", 1000);
    // The customer paid the old intent; its webhook has not arrived yet.
    await firestore().doc(`localProvider/${old.paymentId}`).update({ status: "succeeded" });
    const refused = await expectHttpsError(
      call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "paid-bal-002" }),
      "failed-precondition",
    );
    expect(refused.message).toMatch(/already being processed/);
    expect(await countDocs("localProvider")).toBe(1);
    expect(await readDoc(`checkouts/${old.checkoutId}`)).toMatchObject({ status: "pending" });
    expect(await enrollment(ALICE)).toMatchObject({ openCheckout: null });
    // A retry of the stale one cannot cancel it either: it says so, and the webhook will settle it.
    const retry = await expectHttpsError(
      call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "paid-bal-001" }),
      "failed-precondition",
    );
    expect(retry.details).toMatchObject({ canceled: false });
    await deliverEvent(
      paymentSucceededEvent(view(ALICE, old.paymentId, 5000, { checkoutId: old.checkoutId })),
    );
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 6000, amountOverpaid: 1000 });
  });
});

describe("open checkouts per enrollment", () => {
  it("at most MAX_OPEN_CHECKOUTS unfinished payments per course; retries and joins do not count", async () => {
    const saved = process.env.MAX_OPEN_CHECKOUTS;
    process.env.MAX_OPEN_CHECKOUTS = "2";
    try {
      const balance = await call(
        startPayment,
        { uid: ALICE },
        { courseId: "c1", requestId: "open-bal-0001" },
      );
      // A second tab joins the balance checkout: an alias, not a checkout of its own.
      await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "open-bal-0002" });
      const part = await call(
        startPayment,
        { uid: ALICE },
        { courseId: "c1", requestId: "open-part-001", amount: 1000 },
      );
      const refused = await expectHttpsError(
        call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "open-part-002", amount: 1000 }),
        "failed-precondition",
      );
      expect(refused.message).toMatch(/At most 2 unfinished payments/);
      // A retry of an existing request is answered as before.
      const retry = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "open-bal-0001" });
      expect(retry.paymentId).toBe(balance.paymentId);
      // Another course of the same student is not affected; nor is another student.
      await call(startPayment, { uid: BOB }, { courseId: "c1", requestId: "open-bob-0001", amount: 1000 });
      // Once one completes, there is room again.
      const provider = installLocalProvider();
      await provider.confirmPayment(part.paymentId);
      await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId: "open-part-003", amount: 100 });
    } finally {
      if (saved === undefined) delete process.env.MAX_OPEN_CHECKOUTS;
      else process.env.MAX_OPEN_CHECKOUTS = saved;
    }
  });
});

describe("refunds through the provider", () => {
  async function paidPayment(provider = installLocalProvider(), requestId = "alice-refund-1") {
    const started = await call(startPayment, { uid: ALICE }, { courseId: "c1", requestId });
    await provider.confirmPayment(started.paymentId);
    return started.paymentId;
  }
  const refund = (paymentId: string, requestId: string, amount?: number) =>
    call(refundPayment, ADMIN, {
      uid: ALICE,
      courseId: "c1",
      paymentId,
      requestId,
      ...(amount === undefined ? {} : { amount }),
    });
  const providerRefunds = async (paymentId: string) =>
    ((await readDoc(`localProvider/${paymentId}`))?.refunds as unknown[]).length;

  /** The local provider, with createRefund replaced. */
  function refundingWith(
    base: LocalPaymentProvider,
    createRefund: PaymentProvider["createRefund"],
  ): PaymentProvider {
    return providerWith(base, { createRefund });
  }

  it("a refund the provider refuses is failed-precondition with a clear message, and holds nothing", async () => {
    const provider = installLocalProvider();
    const paymentId = await paidPayment(provider);
    setPaymentProviderForTesting(
      refundingWith(provider, () => Promise.reject(new ProviderError("charge_disputed", false))),
    );
    const refused = await expectHttpsError(refund(paymentId, "refund-no-0001", 3000), "failed-precondition");
    expect(refused.message).toMatch(/refused this refund: charge_disputed/);
    // Its hold ended: the whole payment can still be refunded.
    setPaymentProviderForTesting(provider);
    expect(await refund(paymentId, "refund-ok-0001")).toMatchObject({ amount: 5000, status: "succeeded" });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 0, refundCount: 1 });
  });

  it("concurrent refunds cannot exceed the payment while the provider has recorded none of them", async () => {
    const provider = installLocalProvider({ refundStatus: "pending" });
    const paymentId = await paidPayment(provider);
    const results = await Promise.allSettled(
      ["refund-c-0001", "refund-c-0002", "refund-c-0003"].map((id) => refund(paymentId, id, 3000)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected")
        expect(String(r.reason)).toMatch(/Refund not possible: exceeds-refundable/);
    // The backend refused them itself: the provider was asked once.
    expect(await providerRefunds(paymentId)).toBe(1);
    // What is left is still refundable, and not a cent more.
    expect(await refund(paymentId, "refund-c-0004", 2000)).toMatchObject({ status: "pending" });
    await expectHttpsError(refund(paymentId, "refund-c-0005", 1), "failed-precondition");
    expect(await providerRefunds(paymentId)).toBe(2);
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 5000, refundCount: 0 });
  });

  it("a retry is answered from the record; a refund in the ledger counts once", async () => {
    const provider = installLocalProvider();
    const paymentId = await paidPayment(provider);
    const first = await refund(paymentId, "refund-r-0001", 3000);
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 2000, refundCount: 1 });
    // The webhook applied it; a retry gets the same refund and the provider is not asked again.
    expect(await refund(paymentId, "refund-r-0001", 3000)).toEqual(first);
    expect(await providerRefunds(paymentId)).toBe(1);
    // Its hold is not counted on top of the ledger: the remaining 2000 can be refunded.
    expect(await refund(paymentId, "refund-r-0002", 2000)).toMatchObject({ amount: 2000 });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 0, refundCount: 2 });
  });

  it("a refund the provider answers as failed ends its hold at once: the payment can be refunded in full", async () => {
    const provider = installLocalProvider();
    const paymentId = await paidPayment(provider);
    setPaymentProviderForTesting(
      refundingWith(provider, () =>
        Promise.resolve({ refundId: "re_failed_at_once", amount: 5000, status: "failed" }),
      ),
    );
    expect(await refund(paymentId, "refund-f-0001")).toMatchObject({
      refundId: "re_failed_at_once",
      status: "failed",
    });
    setPaymentProviderForTesting(provider);
    expect(await refund(paymentId, "refund-f-0002")).toMatchObject({ amount: 5000, status: "succeeded" });
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 0 });
  });

  it("a provider timeout keeps the hold: other refunds cannot take its money, its retry completes it", async () => {
    const provider = installLocalProvider();
    const paymentId = await paidPayment(provider);
    setPaymentProviderForTesting(
      refundingWith(provider, () => Promise.reject(new ProviderError("timeout", true))),
    );
    await expectHttpsError(refund(paymentId, "refund-t-0001"), "unavailable");
    setPaymentProviderForTesting(provider);
    await expectHttpsError(refund(paymentId, "refund-t-0002", 1000), "failed-precondition");
    expect(await refund(paymentId, "refund-t-0001")).toMatchObject({ amount: 5000, status: "succeeded" });
    expect(await providerRefunds(paymentId)).toBe(1);
    expect(await enrollment(ALICE)).toMatchObject({ amountPaid: 0 });
  });
});

describe("admin audit", () => {
  it("a manual payment and its refund name the admin only in admin-only audit records, not in the ledger", async () => {
    await call(recordManualPayment, ADMIN, {
      uid: ALICE,
      courseId: "c1",
      amount: 2000,
      reference: "cash-77",
    });
    await call(refundPayment, ADMIN, {
      uid: ALICE,
      courseId: "c1",
      paymentId: "manual_cash-77",
      amount: 500,
      requestId: "refund-cash-77",
    });
    const ledger = await firestore().collection(`users/${ALICE}/courses/c1/ledger`).get();
    expect(ledger.size).toBe(2);
    for (const entry of ledger.docs) expect(JSON.stringify(entry.data())).not.toContain(ADMIN.uid);
    const audit = await firestore().collection("adminAudit").get();
    expect(
      audit.docs.map((d) => d.data()).sort((a, b) => String(a.action).localeCompare(String(b.action))),
    ).toMatchObject([
      {
        action: "manual-payment",
        adminUid: ADMIN.uid,
        uid: ALICE,
        courseId: "c1",
        ledgerEntryId: "manual_cash-77",
        amount: 2000,
      },
      { action: "manual-refund", adminUid: ADMIN.uid, uid: ALICE, courseId: "c1", amount: -500 },
    ]);
    // A retry records nothing more.
    await call(recordManualPayment, ADMIN, {
      uid: ALICE,
      courseId: "c1",
      amount: 2000,
      reference: "cash-77",
    });
    expect((await firestore().collection("adminAudit").get()).size).toBe(2);
  });
});
