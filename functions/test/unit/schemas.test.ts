import fc from "fast-check";
import {
  enrollInCourseInput,
  recordManualPaymentInput,
  refundPaymentInput,
  startPaymentInput,
  upsertCourseInput,
} from "../../src/schemas/callables";
import { docIdSchema, hasForbiddenKeys, uidSchema } from "../../src/schemas/common";
import { parseWebhookEvent } from "../../src/schemas/webhook";

describe("id rules", () => {
  it.each(["", "a/b", "__x__", "__proto__", "a".repeat(129), "a b", "é", ".", ".."])(
    "rejects doc id %j",
    (id) => {
      expect(docIdSchema.safeParse(id).success).toBe(false);
    },
  );
  it.each(["c1", "course-1_A", "a".repeat(128), "__x", "x__"])("accepts doc id %j", (id) => {
    expect(docIdSchema.safeParse(id).success).toBe(true);
  });
  it.each(["", "a/b", "__x__", ".", "..", "a".repeat(129)])("rejects uid %j", (uid) => {
    expect(uidSchema.safeParse(uid).success).toBe(false);
  });
});

describe("callable inputs", () => {
  it("startPayment: amount optional, positive integer cents, requestId 8–128 safe chars, no extra keys", () => {
    expect(startPaymentInput.safeParse({ courseId: "c1", requestId: "req-0001" }).success).toBe(true);
    expect(startPaymentInput.safeParse({ courseId: "c1", requestId: "req-0001", amount: 500 }).success).toBe(
      true,
    );
    for (const amount of [0, -1, 1.5, "500", Number.NaN, Infinity, 1e12, null]) {
      expect(startPaymentInput.safeParse({ courseId: "c1", requestId: "req-0001", amount }).success).toBe(
        false,
      );
    }
    for (const requestId of ["short", "x".repeat(129), "has space!", "", 12345678]) {
      expect(startPaymentInput.safeParse({ courseId: "c1", requestId }).success).toBe(false);
    }
    expect(startPaymentInput.safeParse({ courseId: "c1", requestId: "req-0001", extra: 1 }).success).toBe(
      false,
    );
  });

  it("recordManualPayment / refundPayment / enrollInCourse / upsertCourse shapes", () => {
    expect(
      recordManualPaymentInput.safeParse({ uid: "u1", courseId: "c1", amount: 100, reference: "bank-1" })
        .success,
    ).toBe(true);
    expect(
      recordManualPaymentInput.safeParse({ uid: "u1", courseId: "c1", amount: 100, reference: "a/b" })
        .success,
    ).toBe(false);
    const refund = { uid: "u1", courseId: "c1", paymentId: "pi_1", requestId: "refund-0001" };
    expect(refundPaymentInput.safeParse(refund).success).toBe(true);
    expect(refundPaymentInput.safeParse({ ...refund, amount: 0 }).success).toBe(false);
    // requestId is required: two deliberate refunds of the same amount must not collapse into one.
    expect(refundPaymentInput.safeParse({ uid: "u1", courseId: "c1", paymentId: "pi_1" }).success).toBe(
      false,
    );
    expect(refundPaymentInput.safeParse({ ...refund, requestId: "short" }).success).toBe(false);
    expect(enrollInCourseInput.safeParse({ courseId: "c1" }).success).toBe(true);
    expect(enrollInCourseInput.safeParse(null).success).toBe(false);
    expect(enrollInCourseInput.safeParse([]).success).toBe(false);
    expect(
      upsertCourseInput.safeParse({ courseId: "c1", title: "T", price: 0, currency: "usd", published: true })
        .success,
    ).toBe(true);
    expect(upsertCourseInput.safeParse({ courseId: "c1", currency: "USD" }).success).toBe(false);
    expect(upsertCourseInput.safeParse({ courseId: "c1", title: "  " }).success).toBe(false);
    expect(upsertCourseInput.safeParse({ courseId: "c1", title: "a\u0000b" }).success).toBe(false);
  });

  it("rejects __proto__ keys at any depth, even ones JSON.parse created as own properties", () => {
    const hostile: unknown = JSON.parse('{"courseId":"c1","__proto__":{"admin":true}}');
    expect(hasForbiddenKeys(hostile)).toBe(true);
    expect(hasForbiddenKeys(JSON.parse('{"a":[{"b":{"constructor":1}}]}'))).toBe(true);
    expect(hasForbiddenKeys({ courseId: "c1" })).toBe(false);
    expect(enrollInCourseInput.safeParse(hostile).success).toBe(false);
  });

  it("never throws on arbitrary JSON (fuzz)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const schema of [
          enrollInCourseInput,
          startPaymentInput,
          recordManualPaymentInput,
          refundPaymentInput,
          upsertCourseInput,
        ]) {
          expect(() => schema.safeParse(value)).not.toThrow();
        }
        expect(() => hasForbiddenKeys(value)).not.toThrow();
        expect(() => parseWebhookEvent(value)).not.toThrow();
      }),
    );
  });
});

describe("webhook event parsing", () => {
  const pi = {
    id: "pi_1",
    object: "payment_intent",
    amount: 500,
    currency: "usd",
    metadata: { uid: "u1", courseId: "c1" },
    extra: { nested: true },
  };
  const envelope = (type: string, object: unknown) => ({
    id: "evt_1",
    object: "event",
    type,
    data: { object },
  });

  it("accepts handled types (tolerating Stripe's extra fields) and ignores others", () => {
    const r = parseWebhookEvent(envelope("payment_intent.succeeded", pi));
    expect(r.kind).toBe("handled");
    expect(parseWebhookEvent(envelope("customer.created", { id: "cus_1" }))).toEqual({
      kind: "ignored",
      id: "evt_1",
      type: "customer.created",
    });
  });
  it("parses refund.created / refund.updated; a refund event's object must be a refund", () => {
    const refund = {
      id: "re_1",
      object: "refund",
      amount: 300,
      currency: "usd",
      status: "pending",
      payment_intent: "pi_1",
      charge: "ch_1",
      metadata: {},
      balance_transaction: null,
    };
    for (const type of ["refund.created", "refund.updated"]) {
      expect(parseWebhookEvent(envelope(type, refund))).toEqual({
        kind: "handled",
        event: {
          id: "evt_1",
          type,
          object: {
            id: "re_1",
            object: "refund",
            amount: 300,
            currency: "usd",
            status: "pending",
            payment_intent: "pi_1",
            charge: "ch_1",
            metadata: {},
          },
        },
      });
      expect(parseWebhookEvent(envelope(type, { ...refund, object: "charge" })).kind).toBe("malformed");
      expect(parseWebhookEvent(envelope(type, { ...refund, amount: "300" })).kind).toBe("malformed");
    }
  });
  it("rejects a malformed handled event", () => {
    expect(parseWebhookEvent(envelope("payment_intent.succeeded", { ...pi, amount: -1 })).kind).toBe(
      "malformed",
    );
    expect(parseWebhookEvent(envelope("payment_intent.succeeded", { ...pi, id: "pi/../x" })).kind).toBe(
      "malformed",
    );
    expect(parseWebhookEvent(envelope("charge.refunded", { id: "ch_1", object: "charge" })).kind).toBe(
      "malformed",
    );
    expect(parseWebhookEvent({ id: "evt_1" }).kind).toBe("malformed");
    expect(parseWebhookEvent("x").kind).toBe("malformed");
  });
});

describe("provider ids become document ids", () => {
  it("rejects Firestore-reserved __x__ ids (e.g. an event id of __proto__)", async () => {
    const { providerIdSchema } = await import("../../src/schemas/webhook");
    expect(providerIdSchema.safeParse("__proto__").success).toBe(false);
    expect(providerIdSchema.safeParse("__x__").success).toBe(false);
    expect(providerIdSchema.safeParse("evt_1").success).toBe(true);
    expect(providerIdSchema.safeParse("__id_only_prefix").success).toBe(true);
  });
});
