/**
 * Overpayments are surfaced, never silent and never refunded automatically: listOverpayments (admin) lists the
 * enrollments paid beyond their price, most overpaid first, through the collection-group index the repo declares;
 * onEnrollmentWritten logs each new one.
 */
import type { DocumentSnapshot } from "firebase-admin/firestore";
import { Change } from "firebase-functions/v2";
import { listOverpayments } from "../../src/functions/listOverpayments";
import { onEnrollmentWritten } from "../../src/functions/onEnrollmentWritten";
import { firestore } from "../../src/shared/admin";
import { newOverpayment } from "../../src/domain/statusPolicy";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import {
  ADMIN,
  call,
  createCourse,
  enroll,
  expectHttpsError,
  fft,
  installLocalProvider,
  readDoc,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";
import { deliverStripeEvent, stripePaymentIntent } from "../support/stripeShapes";

useLocalFirestore();

beforeEach(async () => {
  installLocalProvider();
  await createCourse("c1", 1000);
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

/** `uid` pays `amounts` for c1 in payments made outside startPayment (as a Dashboard payment would be). */
async function pays(uid: string, amounts: number[]): Promise<void> {
  await enroll(uid, "c1");
  for (const [i, amount] of amounts.entries()) {
    const intent = stripePaymentIntent({
      id: `pi_3Over${uid}${i}`,
      amount,
      currency: "usd",
      metadata: { uid, courseId: "c1" },
    });
    await deliverStripeEvent(`evt_over_${uid}_${i}`, "payment_intent.succeeded", intent);
  }
}

describe("listOverpayments", () => {
  it("lists exactly the overpaid enrollments, most overpaid first, in pages", async () => {
    await pays("alice", [1000, 1099]);
    await pays("bob", [1000, 250]);
    await pays("carol", [1000]);
    await pays("dave", [400]);
    expect(await readDoc("users/alice/courses/c1")).toMatchObject({
      amountOverpaid: 1099,
      paymentStatus: "paid",
    });
    const all = await call(listOverpayments, ADMIN, {});
    expect(all).toEqual({
      overpayments: [
        {
          uid: "alice",
          courseId: "c1",
          amountOverpaid: 1099,
          amountPaid: 2099,
          price: 1000,
          currency: "usd",
        },
        { uid: "bob", courseId: "c1", amountOverpaid: 250, amountPaid: 1250, price: 1000, currency: "usd" },
      ],
      next: null,
    });
    const first = await call(listOverpayments, ADMIN, { limit: 1 });
    expect(first.overpayments.map((o) => o.uid)).toEqual(["alice"]);
    expect(first.next).toBe("users/alice/courses/c1");
    const second = await call(listOverpayments, ADMIN, { limit: 1, startAfter: first.next ?? undefined });
    expect(second.overpayments.map((o) => o.uid)).toEqual(["bob"]);
  });

  it("is for admins only, and refuses a cursor that is not an enrollment", async () => {
    await expectHttpsError(call(listOverpayments, { uid: "alice" }, {}), "permission-denied");
    await expectHttpsError(call(listOverpayments, ADMIN, { startAfter: "courses/c1" }), "invalid-argument");
    await expectHttpsError(
      call(listOverpayments, ADMIN, { startAfter: "users/nobody/courses/c1" }),
      "invalid-argument",
    );
    await expectHttpsError(call(listOverpayments, ADMIN, { limit: 0 }), "invalid-argument");
  });
});

describe("onEnrollmentWritten logs each new overpayment", () => {
  it("logs `enrollment overpaid` (WARN) for the write that overpays, not for a later one", async () => {
    const snap = () => firestore().doc("users/erin/courses/c1").get();
    const s0 = await snap();
    await enroll("erin", "c1");
    const s1 = await snap();
    const deliver = async (id: string, before: DocumentSnapshot, after: DocumentSnapshot) => {
      await fft.wrap(onEnrollmentWritten)({
        id,
        params: { uid: "erin", courseId: "c1" },
        data: new Change(before, after),
      });
    };
    const warn = jest.spyOn(console, "warn");
    const warned = () =>
      warn.mock.calls.map((args) => String(args[0])).filter((line) => line.includes("enrollment overpaid"));
    const intent = stripePaymentIntent({
      id: "pi_3OverErin",
      amount: 1250,
      currency: "usd",
      metadata: { uid: "erin", courseId: "c1" },
    });
    await deliverStripeEvent("evt_over_erin", "payment_intent.succeeded", intent);
    const s2 = await snap();
    const before = warned().length;
    await deliver("ce-erin-1", s0, s1);
    expect(warned()).toHaveLength(before);
    await deliver("ce-erin-2", s1, s2);
    const lines = warned().slice(before);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
      message: "enrollment overpaid",
      uid: "erin",
      courseId: "c1",
      amountOverpaid: 250,
      currency: "usd",
    });
    await deliver("ce-erin-3", s2, s2);
    expect(warned().slice(before)).toHaveLength(1);
  });
});

describe("newOverpayment (what onEnrollmentWritten logs)", () => {
  const doc = (amountPaid: number) => ({ price: 1000, amountPaid, refundCount: 0, openDisputes: 0 });
  it("reports a write that makes an enrollment overpaid, once", () => {
    expect(newOverpayment(doc(1000), doc(1099))).toBe(99);
    expect(newOverpayment(undefined, doc(1200))).toBe(200);
    expect(newOverpayment(doc(1099), doc(1500))).toBeNull();
    expect(newOverpayment(doc(1099), doc(1000))).toBeNull();
    expect(newOverpayment(doc(0), doc(1000))).toBeNull();
  });
});
