import { z } from "zod";
import { localPaymentId } from "../../src/services/payments/local/localProvider";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import type { PaymentProvider } from "../../src/services/payments/provider";
import { checkoutIdFor } from "../../src/domain/ids";
import { firestore } from "../../src/shared/admin";
import { ProviderError } from "../../src/shared/errors";
import { validatedOnCall } from "../../src/shared/validatedOnCall";
import {
  ADMIN,
  call,
  countDocs,
  createCourse,
  enroll,
  enrollInCourse,
  expectHttpsError,
  installLocalProvider,
  ledgerSum,
  postWebhook,
  readDoc,
  recordManualPayment,
  refundPayment,
  snapshotAll,
  startPayment,
  upsertCourse,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";

useLocalFirestore();
const STUDENT = { uid: "student-1" };

beforeEach(() => {
  installLocalProvider();
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

describe("upsertCourse", () => {
  it("creates and updates a course (admin only)", async () => {
    await expect(
      call(upsertCourse, ADMIN, { courseId: "c1", title: "Intro", price: 1000, currency: "usd" }),
    ).resolves.toEqual({
      courseId: "c1",
      created: true,
    });
    await call(upsertCourse, ADMIN, { courseId: "c1", published: true });
    const course = await readDoc("courses/c1");
    expect(course).toMatchObject({ title: "Intro", price: 1000, currency: "usd", published: true });
    expect(course?.createdAt).toBeDefined();
    expect(course?.updatedAt).toBeDefined();
  });

  it("refuses non-admins, unauthenticated callers and bad input, writing nothing", async () => {
    await expectHttpsError(
      call(upsertCourse, STUDENT, { courseId: "c1", title: "x", price: 1, currency: "usd" }),
      "permission-denied",
    );
    await expectHttpsError(
      call(upsertCourse, { uid: "u2", admin: false }, { courseId: "c1" }),
      "permission-denied",
    );
    await expectHttpsError(call(upsertCourse, null, { courseId: "c1" }), "unauthenticated");
    await expectHttpsError(call(upsertCourse, ADMIN, { courseId: "c1" }), "invalid-argument");
    const err = await expectHttpsError(
      call(upsertCourse, ADMIN, { courseId: "a/b", price: -1 }),
      "invalid-argument",
    );
    expect(err.details).toEqual({ fields: ["courseId", "price"] });
    expect(err.message).not.toMatch(/zod|ZodError|regex/i);
    await expectHttpsError(
      call(upsertCourse, ADMIN, JSON.parse('{"courseId":"c1","__proto__":{"x":1}}')),
      "invalid-argument",
    );
    expect(await snapshotAll()).toEqual([]);
  });
});

describe("enrollInCourse", () => {
  it("is idempotent and starts unpaid/locked", async () => {
    await createCourse("c1", 1000);
    const first = await call(enrollInCourse, STUDENT, { courseId: "c1" });
    const second = await call(enrollInCourse, STUDENT, { courseId: "c1" });
    expect(first).toMatchObject({
      created: true,
      paymentStatus: "unpaid",
      accessStatus: "locked",
      amountDue: 1000,
    });
    expect(second).toMatchObject({ created: false, paymentStatus: "unpaid", amountDue: 1000 });
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 0,
      amountDue: 1000,
      amountOverpaid: 0,
      price: 1000,
      currency: "usd",
      paymentStatus: "unpaid",
      accessStatus: "locked",
      openDisputes: 0,
      ledgerCount: 0,
    });
  });

  it("grants a free course at once", async () => {
    await createCourse("free", 0);
    await expect(call(enrollInCourse, STUDENT, { courseId: "free" })).resolves.toMatchObject({
      paymentStatus: "paid",
      accessStatus: "active",
    });
  });

  it("accepts a course written with the catalogue fields alone (no timestamps), as an admin would in the console", async () => {
    await firestore()
      .doc("courses/console-course")
      .set({ title: "Written by hand", price: 2500, currency: "usd", published: true });
    await expect(call(enrollInCourse, STUDENT, { courseId: "console-course" })).resolves.toMatchObject({
      created: true,
      price: 2500,
      amountDue: 2500,
      paymentStatus: "unpaid",
    });
    // The admin path keeps working on it: an update adds updatedAt and leaves the rest.
    await call(upsertCourse, ADMIN, { courseId: "console-course", price: 3000 });
    expect(await readDoc("courses/console-course")).toMatchObject({ price: 3000, title: "Written by hand" });
  });

  it("answers failed-precondition (never internal) for a course it cannot use, and logs the reason", async () => {
    await firestore()
      .doc("courses/broken-course")
      .set({ title: "Typo", price: "49.00", currency: "usd", published: true });
    const logged = jest.spyOn(console, "error");
    logged.mockClear();
    const err = await expectHttpsError(
      call(enrollInCourse, STUDENT, { courseId: "broken-course" }),
      "failed-precondition",
    );
    expect(err.message).not.toMatch(/price|49|zod/i);
    const lines = logged.mock.calls.map((args) =>
      args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "),
    );
    expect(lines.some((l) => l.includes("courses/broken-course") && /price/.test(l))).toBe(true);
    expect(await countDocs("users/student-1/courses")).toBe(0);
  });

  it("not-found for unknown and for unpublished alike; nothing written", async () => {
    await createCourse("draft", 1000, { published: false });
    const before = await snapshotAll();
    await expectHttpsError(call(enrollInCourse, STUDENT, { courseId: "nope" }), "not-found");
    await expectHttpsError(call(enrollInCourse, STUDENT, { courseId: "draft" }), "not-found");
    await expectHttpsError(call(enrollInCourse, STUDENT, { courseId: "" }), "invalid-argument");
    await expectHttpsError(call(enrollInCourse, null, { courseId: "draft" }), "unauthenticated");
    expect(await snapshotAll()).toEqual(before);
  });
});

describe("startPayment", () => {
  beforeEach(async () => {
    await createCourse("c1", 1000);
    await enroll(STUDENT.uid, "c1");
  });

  it("creates a checkout and a provider payment for the remaining balance", async () => {
    const result = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000001" });
    const checkoutId = checkoutIdFor(STUDENT.uid, "req-00000001");
    expect(result).toEqual({
      checkoutId,
      paymentId: localPaymentId(checkoutId),
      clientSecret: expect.stringContaining("_secret_") as unknown,
      amount: 1000,
      currency: "usd",
      status: "pending",
    });
    expect(await readDoc(`checkouts/${checkoutId}`)).toMatchObject({
      uid: STUDENT.uid,
      courseId: "c1",
      amount: 1000,
      status: "pending",
      idempotencyKey: checkoutId,
      providerPaymentId: result.paymentId,
    });
    expect(await readDoc(`localProvider/${result.paymentId}`)).toMatchObject({
      amount: 1000,
      metadata: { uid: STUDENT.uid, courseId: "c1", checkoutId },
    });
  });

  it("same requestId → same payment; a partial amount is bounded by amountDue", async () => {
    const a = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000002", amount: 300 });
    const b = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000002", amount: 300 });
    expect(b).toEqual(a);
    expect(await countDocs("localProvider")).toBe(1);
    await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000002", amount: 400 }),
      "invalid-argument",
    );
    await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000003", amount: 1001 }),
      "failed-precondition",
    );
    await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000003", amount: 0 }),
      "invalid-argument",
    );
    await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "short" }),
      "invalid-argument",
    );
    await expectHttpsError(
      call(startPayment, { uid: "stranger" }, { courseId: "c1", requestId: "req-00000004" }),
      "failed-precondition",
    );
    expect(await countDocs("checkouts")).toBe(1);
  });

  it("paying the full balance then confirming makes the enrollment paid/active", async () => {
    const provider = installLocalProvider();
    const started = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000005" });
    const delivery = await provider.confirmPayment(started.paymentId);
    expect(delivery.status).toBe(200);
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 1000,
      amountDue: 0,
      paymentStatus: "paid",
      accessStatus: "active",
      ledgerCount: 1,
      openCheckout: null,
    });
    expect(await readDoc(`checkouts/${started.checkoutId}`)).toMatchObject({ status: "succeeded" });
    expect(await readDoc(`users/student-1/courses/c1/ledger/${started.paymentId}`)).toMatchObject({
      amount: 1000,
      type: "payment",
      source: "local",
      providerPaymentId: started.paymentId,
      eventId: delivery.event.id,
    });
    await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000006" }),
      "failed-precondition",
    );
  });
});

describe("recordManualPayment and refundPayment", () => {
  beforeEach(async () => {
    await createCourse("c1", 1000);
    await enroll(STUDENT.uid, "c1");
  });

  it("records a manual payment once per reference; a conflicting reuse is refused", async () => {
    const input = { uid: STUDENT.uid, courseId: "c1", amount: 600, reference: "bank-42" };
    await expect(call(recordManualPayment, ADMIN, input)).resolves.toEqual({
      paymentId: "manual_bank-42",
      amount: 600,
      duplicate: false,
    });
    await expect(call(recordManualPayment, ADMIN, input)).resolves.toEqual({
      paymentId: "manual_bank-42",
      amount: 600,
      duplicate: true,
    });
    await expectHttpsError(call(recordManualPayment, ADMIN, { ...input, amount: 700 }), "already-exists");
    await expectHttpsError(call(recordManualPayment, STUDENT, input), "permission-denied");
    await expectHttpsError(
      call(recordManualPayment, ADMIN, { ...input, uid: "nobody", reference: "x1" }),
      "failed-precondition",
    );
    expect(await ledgerSum(STUDENT.uid, "c1")).toEqual({ sum: 600, ids: ["manual_bank-42"] });
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 600,
      amountDue: 400,
      paymentStatus: "partial",
    });
  });

  it("refunds a manual payment directly and idempotently, bounded by what is refundable", async () => {
    await call(recordManualPayment, ADMIN, {
      uid: STUDENT.uid,
      courseId: "c1",
      amount: 1000,
      reference: "cash-1",
    });
    const partial = {
      uid: STUDENT.uid,
      courseId: "c1",
      paymentId: "manual_cash-1",
      amount: 400,
      requestId: "refund-partial-1",
    };
    const r1 = await call(refundPayment, ADMIN, partial);
    const r2 = await call(refundPayment, ADMIN, partial);
    expect(r2).toEqual(r1);
    expect(r1).toMatchObject({ amount: 400, applied: true });
    await expectHttpsError(call(refundPayment, ADMIN, { ...partial, amount: 601 }), "failed-precondition");
    await call(refundPayment, ADMIN, {
      uid: STUDENT.uid,
      courseId: "c1",
      paymentId: "manual_cash-1",
      requestId: "refund-full-1",
    });
    await expectHttpsError(
      call(refundPayment, ADMIN, {
        uid: STUDENT.uid,
        courseId: "c1",
        paymentId: "manual_cash-1",
        amount: 1,
        requestId: "refund-more-1",
      }),
      "failed-precondition",
    );
    await expectHttpsError(
      call(refundPayment, ADMIN, {
        uid: STUDENT.uid,
        courseId: "c1",
        paymentId: "pi_unknown",
        requestId: "refund-none-1",
      }),
      "not-found",
    );
    await expectHttpsError(
      call(refundPayment, ADMIN, {
        uid: "not-enrolled-1",
        courseId: "c1",
        paymentId: "pi_unknown",
        requestId: "refund-none-2",
      }),
      "failed-precondition",
    );
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 0,
      paymentStatus: "refunded",
      accessStatus: "revoked",
      refundCount: 2,
      refundedByPayment: { "manual_cash-1": 1000 },
    });
    expect((await ledgerSum(STUDENT.uid, "c1")).sum).toBe(0);
  });

  it("requires a requestId; two deliberate refunds of the same amount are two refunds, a retry is one", async () => {
    await call(recordManualPayment, ADMIN, {
      uid: STUDENT.uid,
      courseId: "c1",
      amount: 1000,
      reference: "cash-2",
    });
    const base = { uid: STUDENT.uid, courseId: "c1", paymentId: "manual_cash-2", amount: 100 };
    const before = await snapshotAll();
    const err = await expectHttpsError(call(refundPayment, ADMIN, base), "invalid-argument");
    expect(err.details).toEqual({ fields: ["requestId"] });
    expect(await snapshotAll()).toEqual(before);
    const first = await call(refundPayment, ADMIN, { ...base, requestId: "refund-first-1" });
    const retry = await call(refundPayment, ADMIN, { ...base, requestId: "refund-first-1" });
    const second = await call(refundPayment, ADMIN, { ...base, requestId: "refund-second-1" });
    expect(retry).toEqual(first);
    expect(second.refundId).not.toBe(first.refundId);
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 800,
      refundCount: 2,
      refundedByPayment: { "manual_cash-2": 200 },
    });
  });

  it("refunds a provider payment through the provider; money moves when refund.created arrives", async () => {
    const provider = installLocalProvider();
    const started = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000010" });
    await provider.confirmPayment(started.paymentId);
    const input = {
      uid: STUDENT.uid,
      courseId: "c1",
      paymentId: started.paymentId,
      amount: 250,
      requestId: "refund-00000010",
    };
    const refund = await call(refundPayment, ADMIN, input);
    expect(refund).toMatchObject({ amount: 250, applied: false, status: "succeeded" });
    expect(await readDoc(`users/student-1/courses/c1/ledger/${refund.refundId}`)).toMatchObject({
      amount: -250,
      type: "refund",
      providerPaymentId: started.paymentId,
      providerRefundId: refund.refundId,
    });
    // Like current Stripe: charge.refunded carries no refund list (a noop), refund.created applies the refund.
    const events = await firestore().collection("webhookEvents").get();
    expect(
      Object.fromEntries(events.docs.map((d) => [d.get("type") as string, d.get("outcome") as string])),
    ).toEqual({
      "payment_intent.succeeded": "applied",
      "charge.refunded": "noop",
      "refund.created": "applied",
    });
    const again = await call(refundPayment, ADMIN, input);
    expect(again.refundId).toBe(refund.refundId);
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 750,
      refundCount: 1,
      paymentStatus: "partial",
      accessStatus: "locked",
    });
  });

  it("a pending provider refund moves no money until refund.updated says it succeeded", async () => {
    const provider = installLocalProvider({ refundStatus: "pending" });
    const started = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000011" });
    await provider.confirmPayment(started.paymentId);
    const refund = await call(refundPayment, ADMIN, {
      uid: STUDENT.uid,
      courseId: "c1",
      paymentId: started.paymentId,
      requestId: "refund-00000011",
    });
    expect(refund).toMatchObject({ amount: 1000, applied: false, status: "pending" });
    const ledgerPath = `users/student-1/courses/c1/ledger/${refund.refundId}`;
    expect(await readDoc(ledgerPath)).toBeUndefined();
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 1000,
      paymentStatus: "paid",
    });
    const settled = await provider.updateRefund(started.paymentId, refund.refundId, "succeeded");
    expect(settled.status).toBe(200);
    expect(await readDoc(ledgerPath)).toMatchObject({ amount: -1000, type: "refund" });
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 0,
      refundCount: 1,
      paymentStatus: "refunded",
      accessStatus: "revoked",
    });
    // A redelivery, or a later status change of an applied refund, changes nothing more.
    expect((await postWebhook(settled.rawBody, settled.signature)).body).toEqual({
      received: true,
      outcome: "duplicate",
    });
    expect((await ledgerSum(STUDENT.uid, "c1")).sum).toBe(0);
  });
});

describe("startPayment: provider failures, minimum charge, two tabs", () => {
  beforeEach(async () => {
    await createCourse("c1", 1000);
    await enroll(STUDENT.uid, "c1");
  });

  function failingProvider(transient: boolean): PaymentProvider {
    return {
      name: "local",
      createPayment: () => Promise.reject(new ProviderError("provider said no", transient)),
      createRefund: () => Promise.reject(new ProviderError("provider said no", transient)),
      findRefund: () => Promise.reject(new ProviderError("provider said no", transient)),
      cancelPayment: () => Promise.reject(new ProviderError("provider said no", transient)),
      findPayment: () => Promise.reject(new ProviderError("provider said no", transient)),
      retrieveEvent: () => Promise.reject(new ProviderError("provider said no", transient)),
      listEvents: () => Promise.reject(new ProviderError("provider said no", transient)),
      createCheckoutSession: () => Promise.reject(new ProviderError("provider said no", transient)),
      expireCheckoutSession: () => Promise.reject(new ProviderError("provider said no", transient)),
    };
  }

  it("a permanent provider error fails the checkout, clears openCheckout and answers failed-precondition", async () => {
    setPaymentProviderForTesting(failingProvider(false));
    const err = await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "req-refused-1" }),
      "failed-precondition",
    );
    expect(err.message).toBe("The payment provider refused this payment.");
    const checkoutId = checkoutIdFor(STUDENT.uid, "req-refused-1");
    expect(await readDoc(`checkouts/${checkoutId}`)).toMatchObject({
      status: "failed",
      providerPaymentId: null,
    });
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({ openCheckout: null });
    // A second tab is not sent to the failed checkout: a new request gets a new, working payment.
    installLocalProvider();
    const next = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-refused-2" });
    expect(next.checkoutId).toBe(checkoutIdFor(STUDENT.uid, "req-refused-2"));
    expect(next.status).toBe("pending");
  });

  it("a transient provider error answers unavailable and keeps the checkout for a retry of the same requestId", async () => {
    setPaymentProviderForTesting(failingProvider(true));
    await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "req-flaky-01" }),
      "unavailable",
    );
    const checkoutId = checkoutIdFor(STUDENT.uid, "req-flaky-01");
    expect(await readDoc(`checkouts/${checkoutId}`)).toMatchObject({ status: "creating" });
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({ openCheckout: { checkoutId } });
    installLocalProvider();
    const retried = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-flaky-01" });
    expect(retried).toMatchObject({ checkoutId, status: "pending", paymentId: localPaymentId(checkoutId) });
  });

  it("refuses an amount below the currency's minimum charge, even when it is the remaining balance", async () => {
    const before = await snapshotAll();
    const err = await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "req-tiny-001", amount: 49 }),
      "failed-precondition",
    );
    expect(err.message).toMatch(/below the minimum charge/);
    expect(await snapshotAll()).toEqual(before);
    await call(recordManualPayment, ADMIN, {
      uid: STUDENT.uid,
      courseId: "c1",
      amount: 970,
      reference: "bank-9",
    });
    const rest = await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "req-tiny-002" }),
      "failed-precondition",
    );
    expect(rest.message).toMatch(/below the minimum charge/);
    expect(await countDocs("checkouts")).toBe(0);
    expect(await countDocs("localProvider")).toBe(0);
  });

  it("the second tab's requestId keeps naming the same payment, even after that payment completed", async () => {
    const provider = installLocalProvider();
    const a = await call(startPayment, STUDENT, { courseId: "c1", requestId: "tab-a-00001" });
    const b = await call(startPayment, STUDENT, { courseId: "c1", requestId: "tab-b-00001" });
    expect(b).toEqual(a);
    expect(await readDoc(`checkouts/${checkoutIdFor(STUDENT.uid, "tab-b-00001")}`)).toMatchObject({
      aliasOf: a.checkoutId,
      requestId: "tab-b-00001",
      uid: STUDENT.uid,
    });
    await provider.confirmPayment(a.paymentId);
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      paymentStatus: "paid",
      openCheckout: null,
    });
    const retryB = await call(startPayment, STUDENT, { courseId: "c1", requestId: "tab-b-00001" });
    expect(retryB).toEqual({ ...a, status: "succeeded" });
    await expectHttpsError(
      call(startPayment, STUDENT, { courseId: "c1", requestId: "tab-b-00001", amount: 500 }),
      "invalid-argument",
    );
    expect(await countDocs("localProvider")).toBe(1);
  });
});

describe("validatedOnCall", () => {
  it("answers an unexpected handler error with `internal` and a generic message (no internal detail)", async () => {
    const fn = validatedOnCall({
      name: "explodingCallable",
      load: () =>
        Promise.resolve({
          schema: z.strictObject({}),
          handler: (): Promise<never> => Promise.reject(new Error("secret detail")),
        }),
    });
    const err = await expectHttpsError(call(fn, STUDENT, {}), "internal");
    expect(err.message).toBe("Internal error.");
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain("secret detail");
  });
});
