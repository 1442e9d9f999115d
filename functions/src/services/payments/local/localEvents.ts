/**
 * Stripe-format events for the local provider, and their `Stripe-Signature` header (computed by the official
 * `stripe` package's `webhooks.generateTestHeaderString`). Usable from tests and scripts without Firestore.
 */
import type { CheckoutSessionEventType, DisputeEventType } from "../../../schemas/webhook";
import { shortHash } from "../../../domain/ids";

export interface LocalRefundView {
  id: string;
  amount: number;
  status: string;
  metadata?: Record<string, string> | undefined;
}

export interface LocalPaymentView {
  id: string;
  chargeId: string;
  amount: number;
  currency: string;
  metadata: Record<string, string>;
  refunds: readonly LocalRefundView[];
}

export interface StripeEventJson {
  id: string;
  object: "event";
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  type: string;
  data: { object: Record<string, unknown> };
}

const API_VERSION = "2025-01-01";

function envelope(id: string, type: string, object: Record<string, unknown>): StripeEventJson {
  return {
    id,
    object: "event",
    api_version: API_VERSION,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    type,
    data: { object },
  };
}

/** Deterministic event id for one provider-side happening. */
export function localEventId(...parts: string[]): string {
  return `evt_local_${shortHash(parts.join("|"))}`;
}

export function paymentIntentObject(p: LocalPaymentView, status: string): Record<string, unknown> {
  return {
    id: p.id,
    object: "payment_intent",
    amount: p.amount,
    amount_received: status === "succeeded" ? p.amount : 0,
    currency: p.currency,
    status,
    latest_charge: p.chargeId,
    metadata: { ...p.metadata },
  };
}

export function paymentSucceededEvent(
  p: LocalPaymentView,
  eventId = localEventId(p.id, "succeeded"),
): StripeEventJson {
  return envelope(eventId, "payment_intent.succeeded", paymentIntentObject(p, "succeeded"));
}

export function paymentFailedEvent(
  p: LocalPaymentView,
  eventId = localEventId(p.id, "failed"),
): StripeEventJson {
  return envelope(
    eventId,
    "payment_intent.payment_failed",
    paymentIntentObject(p, "requires_payment_method"),
  );
}

export function paymentCanceledEvent(
  p: LocalPaymentView,
  eventId = localEventId(p.id, "canceled"),
): StripeEventJson {
  return envelope(eventId, "payment_intent.canceled", paymentIntentObject(p, "canceled"));
}

/**
 * A Checkout Session event for a hosted page that pays `p` (its payment intent): `payment_status` `paid` once the
 * money is in, `unpaid` while an asynchronous method (a bank debit) is still settling or after the page expired.
 */
export function checkoutSessionEvent(
  p: LocalPaymentView,
  sessionId: string,
  type: CheckoutSessionEventType,
  eventId = localEventId(sessionId, type),
): StripeEventJson {
  const paid = type === "checkout.session.async_payment_succeeded" || type === "checkout.session.completed";
  return envelope(eventId, type, {
    id: sessionId,
    object: "checkout.session",
    mode: "payment",
    amount_total: p.amount,
    amount_subtotal: p.amount,
    currency: p.currency,
    client_reference_id: p.metadata.checkoutId ?? null,
    metadata: { ...p.metadata },
    payment_intent: type === "checkout.session.expired" ? null : p.id,
    payment_status: paid ? "paid" : "unpaid",
    status: type === "checkout.session.expired" ? "expired" : "complete",
  });
}

/** A Stripe Refund object of payment `p`. */
export function refundObject(p: LocalPaymentView, refund: LocalRefundView): Record<string, unknown> {
  return {
    id: refund.id,
    object: "refund",
    amount: refund.amount,
    currency: p.currency,
    status: refund.status,
    payment_intent: p.id,
    charge: p.chargeId,
    metadata: { ...refund.metadata },
  };
}

export interface ChargeObjectOptions {
  /**
   * Include `refunds` (the list Stripe API versions before 2022-11-15 embedded). Default true; the local provider
   * sends charges without it, as current Stripe does, and the refunds as `refund.*` events.
   */
  refundList?: boolean;
}

export function chargeObject(
  p: LocalPaymentView,
  options: ChargeObjectOptions = {},
): Record<string, unknown> {
  const refunded = p.refunds
    .filter((r) => r.status !== "failed" && r.status !== "canceled")
    .reduce((sum, r) => sum + r.amount, 0);
  return {
    id: p.chargeId,
    object: "charge",
    amount: p.amount,
    amount_refunded: refunded,
    currency: p.currency,
    payment_intent: p.id,
    refunded: refunded >= p.amount,
    metadata: { ...p.metadata },
    ...(options.refundList === false
      ? {}
      : {
          refunds: {
            object: "list",
            data: p.refunds.map((r) => refundObject(p, r)),
            has_more: false,
          },
        }),
  };
}

export function chargeRefundedEvent(
  p: LocalPaymentView,
  eventId = localEventId(p.id, "refunded", ...p.refunds.map((r) => r.id)),
  options: ChargeObjectOptions = {},
): StripeEventJson {
  return envelope(eventId, "charge.refunded", chargeObject(p, options));
}

/** `refund.created` / `.updated` / `.failed` for one refund of `p` (ids are unique per refund, type and status). */
export function refundEvent(
  p: LocalPaymentView,
  refund: LocalRefundView,
  type: "refund.created" | "refund.updated" | "refund.failed",
  eventId = localEventId(refund.id, type, refund.status),
): StripeEventJson {
  return envelope(eventId, type, refundObject(p, refund));
}

export function disputeEvent(
  p: LocalPaymentView,
  dispute: { id: string; amount: number; status: string; funds?: readonly ("withdrawn" | "reinstated")[] },
  type: DisputeEventType,
  eventId = localEventId(p.id, dispute.id, type),
): StripeEventJson {
  // Like Stripe, the dispute itself carries no metadata: the backend finds the enrollment by payment intent. Its
  // balance transactions show the funds taken (−amount) and given back (+amount).
  return envelope(eventId, type, {
    id: dispute.id,
    object: "dispute",
    amount: dispute.amount,
    currency: p.currency,
    status: dispute.status,
    charge: p.chargeId,
    payment_intent: p.id,
    metadata: {},
    balance_transactions: (dispute.funds ?? []).map((kind, i) => ({
      id: `txn_${dispute.id}_${i}`,
      object: "balance_transaction",
      amount: kind === "withdrawn" ? -dispute.amount : dispute.amount,
      currency: p.currency,
      reporting_category: kind === "withdrawn" ? "dispute" : "dispute_reversal",
    })),
  });
}

/** `Stripe-Signature` for a payload, via the official stripe package (loaded lazily). */
export async function signPayload(
  payload: string,
  secret: string,
  timestampSeconds?: number,
): Promise<string> {
  const { default: Stripe } = await import("stripe");
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    ...(timestampSeconds === undefined ? {} : { timestamp: timestampSeconds }),
  });
}

export interface SignedDelivery {
  event: StripeEventJson;
  rawBody: string;
  signature: string;
}

export async function signEvent(
  event: StripeEventJson,
  secret: string,
  timestampSeconds?: number,
): Promise<SignedDelivery> {
  const rawBody = JSON.stringify(event);
  return { event, rawBody, signature: await signPayload(rawBody, secret, timestampSeconds) };
}

/** Sends a signed event somewhere (HTTP POST to the webhook URL, or straight into the handler in tests). */
export type EventDeliverer = (rawBody: string, signature: string) => Promise<number>;

export function httpDeliverer(url: string): EventDeliverer {
  return async (rawBody, signature) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signature },
      body: rawBody,
    });
    return response.status;
  };
}
