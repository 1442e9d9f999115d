import { Timestamp } from "firebase-admin/firestore";
import { firestore } from "../../src/shared/admin";
import { setPaymentProviderForTesting } from "../../src/services/payments";
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
  call,
  countDocs,
  createCourse,
  deliverEvent,
  enroll,
  installLocalProvider,
  ledgerSum,
  postWebhook,
  readDoc,
  snapshotAll,
  startPayment,
} from "../support/harness";
import { TEST_WEBHOOK_SECRET, useLocalFirestore } from "../support/localFirestore";

const lf = useLocalFirestore();
const UID = "student-1";
const ENROLLMENT = `users/${UID}/courses/c1`;

function payment(id: string, amount: number, extra: Partial<LocalPaymentView> = {}): LocalPaymentView {
  return {
    id,
    chargeId: `ch_${id}`,
    amount,
    currency: "usd",
    metadata: { uid: UID, courseId: "c1" },
    refunds: [],
    ...extra,
  };
}

beforeEach(async () => {
  installLocalProvider();
  await createCourse("c1", 1000);
  await enroll(UID, "c1");
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

describe("signature and request checks (before anything else)", () => {
  const event = paymentSucceededEvent(payment("pi_sig", 1000), "evt_sig");

  it("405 for non-POST", async () => {
    expect((await postWebhook(JSON.stringify(event), "t=1,v1=x", "GET")).status).toBe(405);
  });

  it("400 for missing, bad, stale and future signatures, and for tampered bodies; nothing written", async () => {
    const before = await snapshotAll();
    const body = JSON.stringify(event);
    const now = Math.floor(Date.now() / 1000);
    const good = await signEvent(event, TEST_WEBHOOK_SECRET);
    const wrongSecret = await signEvent(event, "whsec_other");
    const stale = await signEvent(event, TEST_WEBHOOK_SECRET, now - 600);
    const future = await signEvent(event, TEST_WEBHOOK_SECRET, now + 600);
    expect((await postWebhook(body, undefined)).status).toBe(400);
    expect((await postWebhook(body, "garbage")).status).toBe(400);
    expect((await postWebhook(body, wrongSecret.signature)).status).toBe(400);
    expect((await postWebhook(stale.rawBody, stale.signature)).status).toBe(400);
    expect((await postWebhook(future.rawBody, future.signature)).status).toBe(400);
    expect((await postWebhook(good.rawBody.replace("1000", "9999"), good.signature)).status).toBe(400);
    expect((await postWebhook(undefined, good.signature)).status).toBe(400);
    expect(await snapshotAll()).toEqual(before);
  });

  it("accepts a signature within the tolerance (slightly old or slightly future)", async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await deliverEvent(paymentSucceededEvent(payment("pi_a", 100), "evt_a"), now - 200)).status).toBe(
      200,
    );
    expect((await deliverEvent(paymentSucceededEvent(payment("pi_b", 100), "evt_b"), now + 200)).status).toBe(
      200,
    );
  });

  it("400 for a correctly signed but malformed body; 200 without writes for irrelevant types", async () => {
    const before = await snapshotAll();
    const malformed = {
      ...event,
      id: "evt_bad",
      data: { object: { id: "pi_x", object: "payment_intent", amount: "ten" } },
    };
    expect((await deliverEvent(malformed)).status).toBe(400);
    const { signPayload } = await import("../../src/services/payments/local/localEvents");
    expect((await postWebhook("{not json", await signPayload("{not json", TEST_WEBHOOK_SECRET))).status).toBe(
      400,
    );
    // A prototype key in the Stripe object itself (metadata keys are data: see stripeLifecycle.test.ts).
    const hostile: StripeEventJson = JSON.parse(
      JSON.stringify(event).replace(
        '"object":"payment_intent",',
        '"object":"payment_intent","__proto__":{"admin":"1"},',
      ),
    ) as StripeEventJson;
    expect((await deliverEvent(hostile)).status).toBe(400);
    const ignored = await deliverEvent({
      ...event,
      id: "evt_other",
      type: "customer.created",
      data: { object: { id: "cus_1" } },
    });
    expect(ignored).toEqual({ status: 200, body: { received: true, outcome: "ignored" } });
    expect(await snapshotAll()).toEqual(before);
  });
});

describe("processing", () => {
  it("applies a payment with one BatchGet and one Commit; a duplicate delivery costs one RPC and no writes", async () => {
    const event = paymentSucceededEvent(payment("pi_1", 1000), "evt_1");
    lf.server().resetStats();
    expect(await deliverEvent(event)).toEqual({ status: 200, body: { received: true, outcome: "applied" } });
    const applied = lf.server().stats();
    expect(applied.rpcs).toEqual({ BatchGetDocuments: 1, Commit: 1 });
    // Read: the event record, the enrollment, the ledger entry. Written: the ledger entry, the enrollment, the record.
    expect([applied.reads, applied.writes]).toEqual([3, 3]);
    lf.server().resetStats();
    expect(await deliverEvent(event)).toEqual({
      status: 200,
      body: { received: true, outcome: "duplicate" },
    });
    const stats = lf.server().stats();
    expect(stats.rpcs).toEqual({ BatchGetDocuments: 1 });
    expect(stats.writes).toBe(0);
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 1000,
      paymentStatus: "paid",
      accessStatus: "active",
      ledgerCount: 1,
    });
    expect(await readDoc("webhookEvents/evt_1")).toMatchObject({
      type: "payment_intent.succeeded",
      outcome: "applied",
    });
  });

  it("stamps the enrollment and ledger entry with the server's commit time, not a client clock", async () => {
    await deliverEvent(paymentSucceededEvent(payment("pi_ts", 1000), "evt_ts"));
    const db = firestore();
    const enrollment = await db.doc(ENROLLMENT).get();
    const entry = await db.doc(`${ENROLLMENT}/ledger/pi_ts`).get();
    // serverTimestamp() resolves to the commit time, which is the document's own updateTime.
    const updatedAt = enrollment.get("updatedAt") as Timestamp;
    const createdAt = entry.get("createdAt") as Timestamp;
    expect(updatedAt).toBeInstanceOf(Timestamp);
    expect(enrollment.updateTime && updatedAt.isEqual(enrollment.updateTime)).toBe(true);
    expect(entry.createTime && createdAt.isEqual(entry.createTime)).toBe(true);
  });

  it("a different event for an already-applied payment changes nothing", async () => {
    await deliverEvent(paymentSucceededEvent(payment("pi_1", 1000), "evt_1"));
    expect((await deliverEvent(paymentSucceededEvent(payment("pi_1", 1000), "evt_1_again"))).body).toEqual({
      received: true,
      outcome: "duplicate",
    });
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 1000, ids: ["pi_1"] });
  });

  it("dead-letters permanent failures with 200 and changes no money", async () => {
    const unknownUser = paymentSucceededEvent(
      payment("pi_2", 500, { metadata: { uid: "ghost", courseId: "c1" } }),
      "evt_ghost",
    );
    const noMeta = paymentSucceededEvent(payment("pi_3", 500, { metadata: {} }), "evt_nometa");
    const badCurrency = paymentSucceededEvent(payment("pi_4", 500, { currency: "eur" }), "evt_eur");
    const unknownDispute = disputeEvent(
      payment("pi_unknown", 500, { metadata: {} }),
      { id: "dp_x", amount: 500, status: "needs_response" },
      "charge.dispute.created",
      "evt_dp_x",
    );
    for (const e of [unknownUser, noMeta, badCurrency]) {
      expect(await deliverEvent(e)).toEqual({
        status: 200,
        body: { received: true, outcome: "dead-lettered" },
      });
    }
    // A dispute of a payment the provider does not hold for this backend (no checkout, no metadata): not ours.
    expect(await deliverEvent(unknownDispute)).toEqual({
      status: 200,
      body: { received: true, outcome: "ignored" },
    });
    expect(await readDoc("deadLetters/evt_ghost")).toMatchObject({
      reason: "unknown-enrollment",
      type: "payment_intent.succeeded",
      providerObjectId: "pi_2",
    });
    expect(await readDoc("deadLetters/evt_nometa")).toMatchObject({ reason: "metadata-missing" });
    expect(await readDoc("deadLetters/evt_eur")).toMatchObject({ reason: "currency-mismatch" });
    expect(await readDoc("webhookEvents/evt_dp_x")).toMatchObject({ outcome: "ignored" });
    expect(await countDocs("deadLetters")).toBe(3);
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 0, ledgerCount: 0 });
    // Redelivery of a dead-lettered event is a duplicate.
    expect((await deliverEvent(unknownUser)).body).toEqual({ received: true, outcome: "duplicate" });
  });

  it("answers 500 on a transient Firestore failure so the provider retries, then applies once", async () => {
    const event = paymentSucceededEvent(payment("pi_t", 1000), "evt_t");
    // Every attempt of the SDK's transaction retry loop (5) fails: the error surfaces as transient.
    lf.server().faults.inject({ method: "Commit", kind: "deadline-exceeded", times: 5 });
    const first = await deliverEvent(event);
    expect(first).toEqual({ status: 500, body: { received: false, error: "transient" } });
    expect(await readDoc("webhookEvents/evt_t")).toBeUndefined();
    lf.server().faults.clear();
    expect((await deliverEvent(event)).status).toBe(200);
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 1000, ids: ["pi_t"] });
  }, 60_000);

  it("charge.refunded applies each refund id once, across cumulative refund lists", async () => {
    await deliverEvent(paymentSucceededEvent(payment("pi_1", 1000), "evt_pay"));
    const r1 = { id: "re_1", amount: 300, status: "succeeded" };
    const r2 = { id: "re_2", amount: 700, status: "succeeded" };
    await deliverEvent(chargeRefundedEvent(payment("pi_1", 1000, { refunds: [r1] }), "evt_ref1"));
    await deliverEvent(chargeRefundedEvent(payment("pi_1", 1000, { refunds: [r1, r2] }), "evt_ref2"));
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 0, ids: ["pi_1", "re_1", "re_2"] });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 0,
      amountDue: 1000,
      paymentStatus: "refunded",
      accessStatus: "revoked",
      refundCount: 2,
      refundedByPayment: { pi_1: 1000 },
    });
  });

  it("disputes suspend access; lost adds a −amount adjustment keyed by dispute id; late created is ignored", async () => {
    const provider = installLocalProvider();
    const started = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "req-dispute-1" });
    await provider.confirmPayment(started.paymentId);
    const opened = await provider.openDispute(started.paymentId, "dp_1");
    expect(opened.status).toBe(200);
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      openDisputes: 1,
      accessStatus: "suspended",
      paymentStatus: "paid",
    });
    const closed = await provider.closeDispute(started.paymentId, "dp_1", "lost");
    expect(closed.status).toBe(200);
    expect(await postWebhook(opened.rawBody, opened.signature)).toEqual({
      status: 200,
      body: { received: true, outcome: "duplicate" },
    });
    const lateCreated = disputeEvent(
      await provider.load(started.paymentId),
      { id: "dp_1", amount: 1000, status: "needs_response" },
      "charge.dispute.created",
      "evt_late_created",
    );
    expect((await deliverEvent(lateCreated)).body).toEqual({ received: true, outcome: "noop" });
    expect(await readDoc(`${ENROLLMENT}/ledger/dp_1`)).toMatchObject({ amount: -1000, type: "adjustment" });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      openDisputes: 0,
      amountPaid: 0,
      accessStatus: "locked",
      disputes: { dp_1: { status: "closed", outcome: "lost" } },
    });
  });

  it("payment_failed marks the checkout failed, but never after success, and moves no money", async () => {
    const provider = installLocalProvider();
    const started = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "req-fail-001" });
    const view = await provider.load(started.paymentId);
    const failed = paymentFailedEvent({ ...view, refunds: [] }, "evt_fail_1");
    expect((await deliverEvent(failed)).body).toEqual({ received: true, outcome: "noop" });
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({ status: "failed" });
    // The customer may still retry the failed intent: it stays the checkout a new balance payment must replace.
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      openCheckout: { checkoutId: started.checkoutId, amount: 1000 },
      amountPaid: 0,
    });
    await provider.confirmPayment(started.paymentId);
    await deliverEvent(paymentFailedEvent({ ...view, refunds: [] }, "evt_fail_2"));
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({ status: "succeeded" });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 1000, paymentStatus: "paid" });
  });
});

describe("refunds: refund.created / refund.updated (Stripe API ≥ 2022-11-15 lists no refunds on the charge)", () => {
  const refundMeta = { uid: UID, courseId: "c1" };

  it("a pending refund moves no money; refund.updated to succeeded applies it exactly once", async () => {
    const p = payment("pi_1", 1000);
    await deliverEvent(paymentSucceededEvent(p, "evt_pay"));
    const pending = { id: "re_1", amount: 400, status: "pending", metadata: refundMeta };
    const succeeded = { ...pending, status: "succeeded" };
    expect(await deliverEvent(refundEvent(p, pending, "refund.created", "evt_re_created"))).toEqual({
      status: 200,
      body: { received: true, outcome: "noop" },
    });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 1000, refundCount: 0 });
    const updated = refundEvent(p, succeeded, "refund.updated", "evt_re_updated");
    expect((await deliverEvent(updated)).body).toEqual({ received: true, outcome: "applied" });
    // The same refund again: redelivered, as another event, or in a charge.refunded list: counted once.
    expect((await deliverEvent(updated)).body).toEqual({ received: true, outcome: "duplicate" });
    expect((await deliverEvent(refundEvent(p, succeeded, "refund.updated", "evt_re_again"))).body).toEqual({
      received: true,
      outcome: "duplicate",
    });
    await deliverEvent(chargeRefundedEvent({ ...p, refunds: [succeeded] }, "evt_charge_list"));
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 600, ids: ["pi_1", "re_1"] });
    expect(await readDoc(`${ENROLLMENT}/ledger/re_1`)).toMatchObject({
      amount: -400,
      type: "refund",
      providerPaymentId: "pi_1",
      providerRefundId: "re_1",
      eventId: "evt_re_updated",
    });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 600,
      refundCount: 1,
      refundedByPayment: { pi_1: 400 },
      paymentStatus: "partial",
    });
  });

  it("canceled refunds never apply, failed ones net to zero; refund.created already succeeded applies at once", async () => {
    const p = payment("pi_1", 1000);
    await deliverEvent(paymentSucceededEvent(p, "evt_pay"));
    const canceled = { id: "re_x0", amount: 100, status: "canceled", metadata: refundMeta };
    expect((await deliverEvent(refundEvent(p, canceled, "refund.updated", "evt_x0"))).body).toEqual({
      received: true,
      outcome: "noop",
    });
    // A refund that failed took nothing in the end: its refund entry and its reversal, 0 net.
    const failed = { id: "re_x1", amount: 100, status: "failed", metadata: refundMeta };
    expect((await deliverEvent(refundEvent(p, failed, "refund.updated", "evt_x1"))).body).toEqual({
      received: true,
      outcome: "applied",
    });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 1000,
      refundCount: 0,
      paymentStatus: "paid",
    });
    const direct = { id: "re_ok", amount: 1000, status: "succeeded", metadata: refundMeta };
    expect((await deliverEvent(refundEvent(p, direct, "refund.created", "evt_ok"))).body).toEqual({
      received: true,
      outcome: "applied",
    });
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 0, ids: ["pi_1", "re_ok", "re_x1", "re_x1_reversal"] });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ paymentStatus: "refunded", accessStatus: "revoked" });
    expect(await countDocs("deadLetters")).toBe(0);
  });

  it("charge.refunded without a refund list answers 200 and dead-letters nothing; the list, when present, applies succeeded and failed (net zero) refunds", async () => {
    const p = payment("pi_1", 1000);
    await deliverEvent(paymentSucceededEvent(p, "evt_pay"));
    const withoutList = chargeRefundedEvent(
      { ...p, refunds: [{ id: "re_1", amount: 300, status: "succeeded" }] },
      "evt_nolist",
      {
        refundList: false,
      },
    );
    expect(withoutList.data.object).not.toHaveProperty("refunds");
    expect(await deliverEvent(withoutList)).toEqual({
      status: 200,
      body: { received: true, outcome: "noop" },
    });
    expect(await countDocs("deadLetters")).toBe(0);
    expect(await readDoc("webhookEvents/evt_nolist")).toMatchObject({ outcome: "noop" });
    const list = [
      { id: "re_1", amount: 300, status: "succeeded" },
      { id: "re_2", amount: 200, status: "pending" },
      { id: "re_3", amount: 100, status: "failed" },
    ];
    expect((await deliverEvent(chargeRefundedEvent({ ...p, refunds: list }, "evt_list"))).body).toEqual({
      received: true,
      outcome: "applied",
    });
    // The failed one is recorded with its reversal (net zero); the pending one not yet.
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 700, ids: ["pi_1", "re_1", "re_3", "re_3_reversal"] });
  });

  it("a refund without metadata finds its enrollment through the payment's ledger entry (no checkout)", async () => {
    const p = payment("pi_nocheckout", 1000);
    await deliverEvent(paymentSucceededEvent(p, "evt_pay"));
    expect(await countDocs("checkouts")).toBe(0);
    const refund = { id: "re_lookup", amount: 250, status: "succeeded", metadata: {} };
    expect((await deliverEvent(refundEvent(p, refund, "refund.created", "evt_lookup"))).body).toEqual({
      received: true,
      outcome: "applied",
    });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 750,
      refundedByPayment: { pi_nocheckout: 250 },
    });
    // A refund of a payment nobody here knows (another product on the same account) is ignored at once.
    const stranger = payment("pi_stranger", 1000, { metadata: {} });
    expect(
      (await deliverEvent(refundEvent(stranger, { ...refund, id: "re_stranger" }, "refund.created", "evt_s")))
        .body,
    ).toEqual({ received: true, outcome: "ignored" });
    expect(await readDoc("webhookEvents/evt_s")).toMatchObject({ outcome: "ignored" });
    expect(await countDocs("deadLetters")).toBe(0);
  });
});

describe("finding the enrollment of a dispute (payment intent id → checkout, else ledger)", () => {
  it("a dispute without metadata on a payment made outside startPayment is matched through the ledger", async () => {
    const p = payment("pi_manualflow", 1000);
    await deliverEvent(paymentSucceededEvent(p, "evt_pay"));
    const dispute = disputeEvent(
      { ...p, metadata: {} },
      { id: "dp_l", amount: 1000, status: "needs_response" },
      "charge.dispute.created",
      "evt_dp_l",
    );
    expect((await deliverEvent(dispute)).body).toEqual({ received: true, outcome: "applied" });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ openDisputes: 1, accessStatus: "suspended" });
  });

  it("a checkout that never learnt its payment id gets it when the payment succeeds", async () => {
    const provider = installLocalProvider();
    const started = await call(startPayment, { uid: UID }, { courseId: "c1", requestId: "req-crashed-1" });
    // As if startPayment had crashed between creating the provider payment and its second transaction.
    await firestore()
      .doc(`checkouts/${started.checkoutId}`)
      .update({ providerPaymentId: null, clientSecret: null, status: "creating" });
    await provider.confirmPayment(started.paymentId);
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({
      status: "succeeded",
      providerPaymentId: started.paymentId,
    });
  });
});

describe("unexpected failures: dead letter when permanent, 500 only when transient", () => {
  it("a non-transient unexpected error (corrupt stored enrollment) → dead letter `internal-error` + 200", async () => {
    await firestore().doc(ENROLLMENT).update({ amountPaid: "a lot" });
    const event = paymentSucceededEvent(payment("pi_c", 1000), "evt_corrupt");
    expect(await deliverEvent(event)).toEqual({
      status: 200,
      body: { received: true, outcome: "dead-lettered" },
    });
    const letter = await readDoc("deadLetters/evt_corrupt");
    // Ids, type, reason and status only: no payload.
    expect(Object.keys(letter ?? {}).sort()).toEqual([
      "createdAt",
      "eventId",
      "providerObjectId",
      "reason",
      "status",
      "type",
    ]);
    expect(letter).toMatchObject({
      eventId: "evt_corrupt",
      type: "payment_intent.succeeded",
      reason: "internal-error",
      providerObjectId: "pi_c",
    });
    expect(await readDoc("webhookEvents/evt_corrupt")).toMatchObject({ outcome: "dead-lettered" });
    expect((await deliverEvent(event)).body).toEqual({ received: true, outcome: "duplicate" });
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 0, ids: [] });
  });

  it("an injected UNAVAILABLE (on every retry of the first read) → 500 and nothing recorded, so the provider retries", async () => {
    const event = paymentSucceededEvent(payment("pi_u", 1000), "evt_unavailable");
    // The SDK tries a read 5 times; all five fail. (On Commit, gax would keep retrying UNAVAILABLE for 60 s.)
    lf.server().resetStats();
    lf.server().faults.inject({ method: "BatchGetDocuments", kind: "unavailable", times: 5 });
    expect(await deliverEvent(event)).toEqual({ status: 500, body: { received: false, error: "transient" } });
    expect(lf.server().stats().faultsInjected).toBe(5);
    expect(await readDoc("webhookEvents/evt_unavailable")).toBeUndefined();
    expect(await countDocs("deadLetters")).toBe(0);
    expect((await deliverEvent(event)).body).toEqual({ received: true, outcome: "applied" });
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 1000, ids: ["pi_u"] });
  }, 60_000);
});

describe("reads back what the ledger says", () => {
  it("totals equal the ledger sum after a mixed sequence", async () => {
    await deliverEvent(paymentSucceededEvent(payment("pi_1", 400), "evt_m1"));
    await deliverEvent(paymentSucceededEvent(payment("pi_2", 800), "evt_m2"));
    await deliverEvent(
      chargeRefundedEvent(
        payment("pi_2", 800, { refunds: [{ id: "re_9", amount: 100, status: "succeeded" }] }),
        "evt_m3",
      ),
    );
    const enrollment = await readDoc(ENROLLMENT);
    const { sum } = await ledgerSum(UID, "c1");
    expect(enrollment).toMatchObject({
      amountPaid: sum,
      amountDue: 0,
      amountOverpaid: 100,
      paymentStatus: "paid",
    });
    expect(sum).toBe(1100);
    expect((await firestore().collection("webhookEvents").get()).size).toBe(3);
  });
});
