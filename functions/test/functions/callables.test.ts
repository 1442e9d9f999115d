import { localPaymentId } from "../../src/services/payments/localProvider";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { checkoutIdFor } from "../../src/domain/ids";
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

  it("not-found for unknown, failed-precondition for unpublished; nothing written", async () => {
    await createCourse("draft", 1000, { published: false });
    const before = await snapshotAll();
    await expectHttpsError(call(enrollInCourse, STUDENT, { courseId: "nope" }), "not-found");
    await expectHttpsError(call(enrollInCourse, STUDENT, { courseId: "draft" }), "failed-precondition");
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
    expect(await readDoc(`users/student-1/courses/c1/payments/${started.paymentId}`)).toMatchObject({
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
    const partial = { uid: STUDENT.uid, courseId: "c1", paymentId: "manual_cash-1", amount: 400 };
    const r1 = await call(refundPayment, ADMIN, partial);
    const r2 = await call(refundPayment, ADMIN, partial);
    expect(r2).toEqual(r1);
    expect(r1).toMatchObject({ amount: 400, applied: true });
    await expectHttpsError(call(refundPayment, ADMIN, { ...partial, amount: 601 }), "failed-precondition");
    await call(refundPayment, ADMIN, { uid: STUDENT.uid, courseId: "c1", paymentId: "manual_cash-1" });
    await expectHttpsError(
      call(refundPayment, ADMIN, { uid: STUDENT.uid, courseId: "c1", paymentId: "manual_cash-1", amount: 1 }),
      "failed-precondition",
    );
    await expectHttpsError(
      call(refundPayment, ADMIN, { uid: STUDENT.uid, courseId: "c1", paymentId: "pi_unknown" }),
      "not-found",
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

  it("refunds a provider payment through the provider; money moves when charge.refunded arrives", async () => {
    const provider = installLocalProvider();
    const started = await call(startPayment, STUDENT, { courseId: "c1", requestId: "req-00000010" });
    await provider.confirmPayment(started.paymentId);
    const refund = await call(refundPayment, ADMIN, {
      uid: STUDENT.uid,
      courseId: "c1",
      paymentId: started.paymentId,
      amount: 250,
    });
    expect(refund).toMatchObject({ amount: 250, applied: false });
    expect(await readDoc(`users/student-1/courses/c1/payments/${refund.refundId}`)).toMatchObject({
      amount: -250,
      type: "refund",
      providerPaymentId: started.paymentId,
      providerRefundId: refund.refundId,
    });
    const again = await call(refundPayment, ADMIN, {
      uid: STUDENT.uid,
      courseId: "c1",
      paymentId: started.paymentId,
      amount: 250,
    });
    expect(again.refundId).toBe(refund.refundId);
    expect(await readDoc("users/student-1/courses/c1")).toMatchObject({
      amountPaid: 750,
      paymentStatus: "partial",
      accessStatus: "locked",
    });
  });
});
