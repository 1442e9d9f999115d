import { mapWebhookEvent } from "../../src/domain/webhookMapping";
import type { ParsedWebhookEvent } from "../../src/schemas/webhook";

const meta = { uid: "u1", courseId: "c1", checkoutId: "co1" };

describe("webhook event → command", () => {
  it("payment succeeded → one payment entry keyed by the payment intent id", () => {
    const event: ParsedWebhookEvent = {
      id: "evt_1",
      type: "payment_intent.succeeded",
      object: {
        id: "pi_1",
        object: "payment_intent",
        amount: 900,
        amount_received: 900,
        currency: "usd",
        metadata: meta,
      },
    };
    expect(mapWebhookEvent(event, "stripe")).toEqual({
      kind: "applyEntries",
      target: { kind: "known", uid: "u1", courseId: "c1" },
      entries: [
        {
          id: "pi_1",
          type: "payment",
          amount: 900,
          currency: "usd",
          source: "stripe",
          providerPaymentId: "pi_1",
        },
      ],
      checkoutId: "co1",
    });
  });

  it("missing or invalid metadata → dead letter", () => {
    const base = { id: "pi_1", object: "payment_intent" as const, amount: 900, currency: "usd" };
    expect(
      mapWebhookEvent(
        { id: "e", type: "payment_intent.succeeded", object: { ...base, metadata: {} } },
        "stripe",
      ),
    ).toEqual({
      kind: "deadLetter",
      reason: "metadata-missing",
    });
    expect(
      mapWebhookEvent(
        {
          id: "e",
          type: "payment_intent.succeeded",
          object: { ...base, metadata: { uid: "a/b", courseId: "c" } },
        },
        "stripe",
      ),
    ).toEqual({ kind: "deadLetter", reason: "metadata-invalid" });
  });

  it("charge.refunded → one refund entry per refund id, skipping failed ones", () => {
    const cmd = mapWebhookEvent(
      {
        id: "evt_2",
        type: "charge.refunded",
        object: {
          id: "ch_1",
          object: "charge",
          amount: 900,
          currency: "usd",
          payment_intent: "pi_1",
          metadata: meta,
          refunds: {
            data: [
              { id: "re_1", amount: 100, currency: "usd", status: "succeeded" },
              { id: "re_2", amount: 200, currency: "usd", status: "failed" },
              { id: "re_3", amount: 300, currency: "usd", status: "pending" },
            ],
          },
        },
      },
      "local",
    );
    expect(
      cmd.kind === "applyEntries" && cmd.entries.map((e) => [e.id, e.amount, e.providerPaymentId]),
    ).toEqual([
      ["re_1", -100, "pi_1"],
      ["re_3", -300, "pi_1"],
    ]);
  });

  it("charge.refunded without metadata looks the enrollment up by payment intent; without refund list → dead letter", () => {
    const charge = {
      id: "ch_1",
      object: "charge" as const,
      amount: 900,
      currency: "usd",
      payment_intent: "pi_1",
    };
    const withRefunds = { ...charge, refunds: { data: [{ id: "re_1", amount: 100, currency: "usd" }] } };
    const cmd = mapWebhookEvent({ id: "e", type: "charge.refunded", object: withRefunds }, "stripe");
    expect(cmd.kind === "applyEntries" && cmd.target).toEqual({ kind: "lookup", providerPaymentId: "pi_1" });
    expect(mapWebhookEvent({ id: "e", type: "charge.refunded", object: charge }, "stripe")).toEqual({
      kind: "deadLetter",
      reason: "refund-list-missing",
    });
  });

  it("disputes map to dispute events; lost carries the outcome", () => {
    const dispute = {
      id: "dp_1",
      object: "dispute" as const,
      amount: 900,
      currency: "usd",
      status: "lost",
      payment_intent: "pi_1",
    };
    const cmd = mapWebhookEvent({ id: "e", type: "charge.dispute.closed", object: dispute }, "stripe");
    expect(cmd).toEqual({
      kind: "dispute",
      target: { kind: "lookup", providerPaymentId: "pi_1" },
      disputeId: "dp_1",
      event: { kind: "closed", outcome: "lost", amount: 900, providerPaymentId: "pi_1" },
      currency: "usd",
    });
    expect(
      mapWebhookEvent(
        {
          id: "e",
          type: "charge.dispute.created",
          object: { ...dispute, payment_intent: null, charge: null },
        },
        "stripe",
      ),
    ).toEqual({ kind: "deadLetter", reason: "payment-reference-missing" });
  });
});
