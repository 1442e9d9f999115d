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
      requestedAmount: 900,
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

  it("charge.refunded → a refund entry per succeeded refund; a failed one also gets its reversal; others nothing", () => {
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
              { id: "re_4", amount: 400, currency: "usd", status: "canceled" },
              { id: "re_5", amount: 500, currency: "usd", status: "succeeded" },
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
      ["re_2_reversal", 200, "pi_1"],
      ["re_2", -200, "pi_1"],
      ["re_5", -500, "pi_1"],
    ]);
  });

  it("charge.refunded without metadata looks the enrollment up by payment intent; without refund list → noop (refund.* events carry the refunds)", () => {
    const charge = {
      id: "ch_1",
      object: "charge" as const,
      amount: 900,
      currency: "usd",
      payment_intent: "pi_1",
    };
    const withRefunds = {
      ...charge,
      refunds: { data: [{ id: "re_1", amount: 100, currency: "usd", status: "succeeded" }] },
    };
    const cmd = mapWebhookEvent({ id: "e", type: "charge.refunded", object: withRefunds }, "stripe");
    expect(cmd.kind === "applyEntries" && cmd.target).toEqual({ kind: "lookup", providerPaymentId: "pi_1" });
    expect(mapWebhookEvent({ id: "e", type: "charge.refunded", object: charge }, "stripe")).toEqual({
      kind: "noop",
      reason: "refund-list-absent",
    });
    // Even with metadata that would otherwise be dead-lettered: nothing in it to apply.
    expect(
      mapWebhookEvent(
        { id: "e", type: "charge.refunded", object: { ...charge, metadata: { uid: "a/b", courseId: "c" } } },
        "stripe",
      ),
    ).toEqual({ kind: "noop", reason: "refund-list-absent" });
    const onlyPending = {
      ...charge,
      refunds: { data: [{ id: "re_1", amount: 100, currency: "usd", status: "pending" }] },
    };
    expect(mapWebhookEvent({ id: "e", type: "charge.refunded", object: onlyPending }, "stripe")).toEqual({
      kind: "noop",
      reason: "no-money-moving-refunds",
    });
  });

  describe("refund.created / refund.updated", () => {
    const refund = {
      id: "re_7",
      object: "refund" as const,
      amount: 250,
      currency: "usd",
      status: "succeeded",
      payment_intent: "pi_1",
      charge: "ch_1",
      metadata: { uid: "u1", courseId: "c1" },
    };
    const map = (
      object: typeof refund | Record<string, unknown>,
      type: "refund.created" | "refund.updated" | "refund.failed",
    ) => mapWebhookEvent({ id: "e", type, object: object as typeof refund }, "stripe");

    it("a succeeded refund → one refund entry keyed by the refund id, the enrollment through its payment (not its metadata)", () => {
      for (const type of ["refund.created", "refund.updated"] as const) {
        expect(map(refund, type)).toEqual({
          kind: "applyEntries",
          target: { kind: "lookup", providerPaymentId: "pi_1" },
          entries: [
            {
              id: "re_7",
              type: "refund",
              amount: -250,
              currency: "usd",
              source: "stripe",
              providerPaymentId: "pi_1",
              providerRefundId: "re_7",
            },
          ],
          checkoutId: null,
        });
      }
    });

    it("pending, requires_action, canceled (or no status) move no money", () => {
      for (const status of ["pending", "requires_action", "canceled", null]) {
        expect(map({ ...refund, status }, "refund.updated")).toEqual({
          kind: "noop",
          reason: "refund-not-settled",
        });
      }
    });

    it("a failed refund (refund.updated or refund.failed) stands for its refund and its reversal: net zero", () => {
      for (const type of ["refund.updated", "refund.failed"] as const) {
        const cmd = map({ ...refund, status: "failed" }, type);
        expect(
          cmd.kind === "applyEntries" &&
            cmd.entries.map((e) => [e.id, e.type, e.amount, e.providerPaymentId]),
        ).toEqual([
          [`${refund.id}_reversal`, "refund-reversal", refund.amount, "pi_1"],
          [refund.id, "refund", -refund.amount, "pi_1"],
        ]);
      }
    });

    it("with or without metadata → lookup by payment intent (else by charge); without either → dead letter", () => {
      const noMeta = { ...refund, metadata: {} };
      const byPi = map(noMeta, "refund.created");
      expect(byPi.kind === "applyEntries" && byPi.target).toEqual({
        kind: "lookup",
        providerPaymentId: "pi_1",
      });
      const byCharge = map({ ...noMeta, payment_intent: null }, "refund.created");
      expect(byCharge.kind === "applyEntries" && byCharge.target).toEqual({
        kind: "lookup",
        providerPaymentId: "ch_1",
      });
      expect(map({ ...noMeta, payment_intent: null, charge: null }, "refund.created")).toEqual({
        kind: "deadLetter",
        reason: "payment-reference-missing",
      });
      // Metadata plays no part: even invalid metadata does not stop the lookup by payment.
      const badMeta = map({ ...refund, metadata: { uid: "a/b", courseId: "c1" } }, "refund.created");
      expect(badMeta.kind === "applyEntries" && badMeta.target).toEqual({
        kind: "lookup",
        providerPaymentId: "pi_1",
      });
      expect(map({ ...refund, amount: 0 }, "refund.created")).toEqual({
        kind: "deadLetter",
        reason: "invalid-amount",
      });
    });
  });

  it("disputes map to dispute events: status, closed, funds withdrawn and reinstated", () => {
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
      event: {
        status: "lost",
        closedEvent: true,
        amount: 900,
        providerPaymentId: "pi_1",
        withdrawn: false,
        reinstated: false,
      },
      currency: "usd",
    });
    // Funds movements: from the event type, or from the dispute's balance transactions.
    const withdrawn = mapWebhookEvent(
      { id: "e", type: "charge.dispute.funds_withdrawn", object: { ...dispute, status: "needs_response" } },
      "stripe",
    );
    expect(withdrawn).toMatchObject({ event: { closedEvent: false, withdrawn: true, reinstated: false } });
    const updated = mapWebhookEvent(
      {
        id: "e",
        type: "charge.dispute.updated",
        object: { ...dispute, status: "won", balance_transactions: [{ amount: -900 }, { amount: 900 }] },
      },
      "stripe",
    );
    expect(updated).toMatchObject({ event: { status: "won", withdrawn: true, reinstated: true } });
    const reinstated = mapWebhookEvent(
      { id: "e", type: "charge.dispute.funds_reinstated", object: { ...dispute, status: "won" } },
      "stripe",
    );
    expect(reinstated).toMatchObject({ event: { reinstated: true } });
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
