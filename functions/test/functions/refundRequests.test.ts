/**
 * Durable refund requests (services/refundRequestService, domain/refundRequests) against the local Firestore: a
 * retry of a requestId returns the same refund at any age, even after the hold expired and the provider forgot the
 * idempotency key. The service is called with an injected clock (`nowMs`); days pass without sleeping.
 */
import { refundRequestIdFor } from "../../src/domain/ids";
import { HOLD_TTL_MS } from "../../src/domain/refundHolds";
import { PROVIDER_KEY_WINDOW_MS } from "../../src/domain/refundRequests";
import { refundPayment as refundAt } from "../../src/services/adminPaymentService";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import type { LocalPaymentProvider } from "../../src/services/payments/local/localProvider";
import type { PaymentProvider } from "../../src/services/payments/provider";
import { ProviderError } from "../../src/shared/errors";
import {
  ADMIN,
  call,
  createCourse,
  enroll,
  expectHttpsError,
  installLocalProvider,
  readDoc,
  refundPayment,
  snapshotAll,
  startPayment,
  providerWith,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";

useLocalFirestore();
const ALICE = "alice";
const T0 = 1_900_000_000_000;
const DAY = 24 * 3600 * 1000;
const ADMIN_UID = ADMIN.uid;

afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

let provider: LocalPaymentProvider;
beforeEach(async () => {
  provider = installLocalProvider();
  await createCourse("c1", 5000);
  await enroll(ALICE, "c1");
});

async function paidPayment(requestId: string, amount?: number): Promise<string> {
  const started = await call(
    startPayment,
    { uid: ALICE },
    { courseId: "c1", requestId, ...(amount === undefined ? {} : { amount }) },
  );
  await provider.confirmPayment(started.paymentId);
  return started.paymentId;
}

const input = (paymentId: string, requestId: string, amount?: number) => ({
  uid: ALICE,
  courseId: "c1",
  paymentId,
  requestId,
  ...(amount === undefined ? {} : { amount }),
});

const providerRefunds = async (paymentId: string) => (await provider.load(paymentId)).refunds;
const requestDoc = (requestId: string) => readDoc(`refundRequests/${refundRequestIdFor(ALICE, requestId)}`);

/** The local provider with some calls replaced; every call is counted. */
function countingProvider(overrides: Partial<Pick<PaymentProvider, "createRefund" | "findRefund">>) {
  const calls = { createRefund: 0, findRefund: 0 };
  const wrapped = providerWith(provider, {
    createRefund: (p) => {
      calls.createRefund++;
      return (overrides.createRefund ?? ((q) => provider.createRefund(q)))(p);
    },
    findRefund: (p) => {
      calls.findRefund++;
      return (overrides.findRefund ?? ((q) => provider.findRefund(q)))(p);
    },
  });
  setPaymentProviderForTesting(wrapped);
  return calls;
}

/** The provider made the refund, but its answer never reached the backend (a timeout, a crash). */
const answerLost = () =>
  countingProvider({
    createRefund: async (p) => {
      await provider.createRefund(p);
      throw new ProviderError("timeout", true);
    },
  });

/**
 * Stripe a day later: it has pruned the idempotency key, so a create with that key makes a NEW refund (modelled by
 * changing the key the local provider sees). Any createRefund that reaches it makes a second refund.
 */
const keyForgotten = () =>
  countingProvider({
    createRefund: (p) => provider.createRefund({ ...p, idempotencyKey: `${p.idempotencyKey}#pruned` }),
  });

describe("refund requests: a retry returns the same refund at any age", () => {
  it("the provider made the refund, the answer was lost, the retry comes after the hold TTL and the key window: the same refund, one at the provider", async () => {
    const paymentId = await paidPayment("pay-00000001");
    answerLost();
    await expect(refundAt(ADMIN_UID, input(paymentId, "refund-lost-1", 2000), T0)).rejects.toMatchObject({
      transient: true,
    });
    const made = await providerRefunds(paymentId);
    expect(made).toHaveLength(1);
    expect(await requestDoc("refund-lost-1")).toMatchObject({
      status: "pending",
      uid: ALICE,
      courseId: "c1",
      paymentId,
      requestId: "refund-lost-1",
      requestedAmount: 2000,
      amount: 2000,
      refundId: null,
      requestedBy: ADMIN_UID,
    });

    const calls = keyForgotten();
    const later = T0 + Math.max(HOLD_TTL_MS, PROVIDER_KEY_WINDOW_MS) + 3600 * 1000;
    const retry = await refundAt(ADMIN_UID, input(paymentId, "refund-lost-1", 2000), later);
    expect(retry).toEqual({ refundId: made[0]?.id, amount: 2000, applied: false, status: "succeeded" });
    expect(calls).toEqual({ createRefund: 0, findRefund: 1 });
    expect(await providerRefunds(paymentId)).toHaveLength(1);
    expect(await requestDoc("refund-lost-1")).toMatchObject({
      status: "answered",
      refundId: made[0]?.id,
      providerStatus: "succeeded",
    });
    // The webhook recorded the one refund; the rest of the payment is still refundable, and no more.
    expect(await readDoc("users/alice/courses/c1")).toMatchObject({ amountPaid: 3000, refundCount: 1 });
    setPaymentProviderForTesting(provider);
    expect(await refundAt(ADMIN_UID, input(paymentId, "refund-rest-1"), later)).toMatchObject({
      amount: 3000,
    });
    expect(await providerRefunds(paymentId)).toHaveLength(2);
  });

  it("the first attempt never reached the provider: past the key window the retry finds nothing and makes the refund once", async () => {
    const paymentId = await paidPayment("pay-00000002");
    countingProvider({ createRefund: () => Promise.reject(new ProviderError("connection reset", true)) });
    await expect(refundAt(ADMIN_UID, input(paymentId, "refund-never-1"), T0)).rejects.toMatchObject({
      transient: true,
    });
    expect(await requestDoc("refund-never-1")).toMatchObject({ status: "pending", requestedAmount: null });
    const calls = keyForgotten();
    const later = T0 + 3 * DAY;
    const retry = await refundAt(ADMIN_UID, input(paymentId, "refund-never-1"), later);
    expect(retry).toMatchObject({ amount: 5000, status: "succeeded" });
    expect(calls).toEqual({ createRefund: 1, findRefund: 1 });
    const refunds = await providerRefunds(paymentId);
    expect(refunds.map((r) => [r.id, r.metadata?.refundRequest])).toEqual([
      [retry.refundId, refundRequestIdFor(ALICE, "refund-never-1")],
    ]);
    // And a further retry is answered from the record.
    expect(await refundAt(ADMIN_UID, input(paymentId, "refund-never-1"), later + DAY)).toEqual(retry);
    expect(calls).toEqual({ createRefund: 1, findRefund: 1 });
  });

  it("a pending request whose money went elsewhere after its hold expired is refused once the provider says it has no refund of it", async () => {
    const paymentId = await paidPayment("pay-00000003");
    countingProvider({ createRefund: () => Promise.reject(new ProviderError("connection reset", true)) });
    await expect(refundAt(ADMIN_UID, input(paymentId, "refund-late-1", 4000), T0)).rejects.toMatchObject({
      transient: true,
    });
    setPaymentProviderForTesting(provider);
    // Within the TTL its hold counts: another refund cannot take the money.
    await expect(refundAt(ADMIN_UID, input(paymentId, "refund-other-1", 2000), T0 + DAY - 1)).rejects.toThrow(
      /Refund not possible: exceeds-refundable/,
    );
    // After it, the hold has expired and the money is taken by another request.
    await refundAt(ADMIN_UID, input(paymentId, "refund-other-2", 2000), T0 + DAY + 1);
    const calls = keyForgotten();
    await expect(refundAt(ADMIN_UID, input(paymentId, "refund-late-1", 4000), T0 + 2 * DAY)).rejects.toThrow(
      /Refund not possible: exceeds-refundable/,
    );
    expect(calls).toEqual({ createRefund: 0, findRefund: 1 });
    expect(await requestDoc("refund-late-1")).toMatchObject({ status: "refused", refundId: null });
    // Refused is final: a retry is answered the same without asking the provider.
    await expect(refundAt(ADMIN_UID, input(paymentId, "refund-late-1", 4000), T0 + 3 * DAY)).rejects.toThrow(
      /Refund not possible: exceeds-refundable/,
    );
    expect(calls).toEqual({ createRefund: 0, findRefund: 1 });
    expect(await providerRefunds(paymentId)).toHaveLength(1);
  });

  it("an answered request is returned at any age without asking the provider", async () => {
    const paymentId = await paidPayment("pay-00000004");
    const first = await refundAt(ADMIN_UID, input(paymentId, "refund-done-1", 1500), T0);
    const calls = countingProvider({
      createRefund: () => Promise.reject(new Error("the provider must not be asked")),
      findRefund: () => Promise.reject(new Error("the provider must not be asked")),
    });
    for (const age of [0, PROVIDER_KEY_WINDOW_MS, HOLD_TTL_MS + 1, 400 * DAY]) {
      expect(await refundAt(ADMIN_UID, input(paymentId, "refund-done-1", 1500), T0 + age)).toEqual(first);
    }
    expect(calls).toEqual({ createRefund: 0, findRefund: 0 });
    expect(await providerRefunds(paymentId)).toHaveLength(1);
  });

  it("the same requestId for a different payment or amount is refused (invalid-argument) and changes nothing", async () => {
    const payA = await paidPayment("pay-00000005", 3000);
    const payB = await paidPayment("pay-00000006", 2000);
    const first = await call(refundPayment, ADMIN, input(payA, "refund-same-1", 1000));
    const before = await snapshotAll();
    for (const other of [
      input(payB, "refund-same-1", 1000),
      input(payA, "refund-same-1", 999),
      input(payA, "refund-same-1"),
    ]) {
      const err = await expectHttpsError(call(refundPayment, ADMIN, other), "invalid-argument");
      expect(err.message).toBe("This requestId was already used for a different refund.");
    }
    expect(await snapshotAll()).toEqual(before);
    // The original request is still answered as before.
    expect(await call(refundPayment, ADMIN, input(payA, "refund-same-1", 1000))).toEqual(first);
    expect(await providerRefunds(payA)).toHaveLength(1);
    expect(await providerRefunds(payB)).toHaveLength(0);
  });

  it("concurrent retries of one request, past the key window after a lost answer, make one refund and all get it", async () => {
    const paymentId = await paidPayment("pay-00000007");
    countingProvider({ createRefund: () => Promise.reject(new ProviderError("connection reset", true)) });
    await expect(refundAt(ADMIN_UID, input(paymentId, "refund-many-1", 2500), T0)).rejects.toMatchObject({
      transient: true,
    });
    keyForgotten();
    const later = T0 + 2 * DAY;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => refundAt(ADMIN_UID, input(paymentId, "refund-many-1", 2500), later)),
    );
    const refunds = await providerRefunds(paymentId);
    expect(refunds).toHaveLength(1);
    for (const r of results)
      expect(r).toEqual({ refundId: refunds[0]?.id, amount: 2500, applied: false, status: "succeeded" });
    expect(await requestDoc("refund-many-1")).toMatchObject({ status: "answered", refundId: refunds[0]?.id });
  });

  it("concurrent first attempts of one request make one refund", async () => {
    const paymentId = await paidPayment("pay-00000008");
    const results = await Promise.all(
      Array.from({ length: 4 }, () => call(refundPayment, ADMIN, input(paymentId, "refund-race-1", 1200))),
    );
    const refunds = await providerRefunds(paymentId);
    expect(refunds).toHaveLength(1);
    for (const r of results) expect(r.refundId).toBe(refunds[0]?.id);
    expect(await readDoc("users/alice/courses/c1")).toMatchObject({ amountPaid: 3800, refundCount: 1 });
  });
});
