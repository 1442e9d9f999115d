/**
 * Stripe objects in the shape the API sends them (the fields of Stripe's OpenAPI example objects, written out
 * here with this backend's metadata), for tests that must see what a real account's webhook delivers rather than
 * the minimal objects the local provider builds. Only the values a test cares about are parameters.
 */
import { signPayload } from "../../src/services/payments/local/localEvents";
import { postWebhook, type WebhookReply } from "./harness";
import { TEST_WEBHOOK_SECRET } from "./localFirestore";

export const API_VERSION = "2025-01-27.acacia";

export interface IntentFields {
  id: string;
  amount: number;
  currency: string;
  status?: string;
  metadata: Record<string, string>;
}

export function stripePaymentIntent(f: IntentFields): Record<string, unknown> {
  const status = f.status ?? "succeeded";
  return {
    id: f.id,
    object: "payment_intent",
    amount: f.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: status === "succeeded" ? f.amount : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: { allow_redirects: "always", enabled: true },
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic_async",
    client_secret: `${f.id}_secret_abc`,
    confirmation_method: "automatic",
    created: 1_760_000_000,
    currency: f.currency,
    customer: null,
    description: null,
    last_payment_error: null,
    latest_charge: status === "succeeded" ? `ch_${f.id.slice(3)}` : null,
    livemode: false,
    metadata: f.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: status === "succeeded" ? "pm_1Example" : null,
    payment_method_configuration_details: { id: "pmc_1Example", parent: null },
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: "automatic" },
    },
    payment_method_types: ["card", "link"],
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status,
    transfer_data: null,
    transfer_group: null,
  };
}

export interface RefundFields {
  id: string;
  amount: number;
  currency: string;
  /** Null: a refund of a charge made without a payment intent (then `charge` names it). */
  paymentIntent: string | null;
  charge?: string;
  status: "pending" | "succeeded" | "failed" | "canceled" | "requires_action";
  failureReason?: string;
}

export function stripeRefund(f: RefundFields): Record<string, unknown> {
  return {
    id: f.id,
    object: "refund",
    amount: f.amount,
    balance_transaction: "txn_1Example",
    charge: f.charge ?? `ch_${(f.paymentIntent ?? "").slice(3)}`,
    created: 1_760_000_100,
    currency: f.currency,
    destination_details: {
      card: { reference_status: "pending", reference_type: "acquirer_reference_number", type: "refund" },
      type: "card",
    },
    ...(f.status === "failed"
      ? {
          failure_balance_transaction: "txn_1Failure",
          failure_reason: f.failureReason ?? "expired_or_canceled_card",
        }
      : {}),
    metadata: {},
    payment_intent: f.paymentIntent,
    reason: "requested_by_customer",
    receipt_number: null,
    source_transfer_reversal: null,
    status: f.status,
    transfer_reversal: null,
  };
}

export interface DisputeFields {
  id: string;
  amount: number;
  currency: string;
  paymentIntent: string;
  status?: string;
  /** The dispute's balance movements so far: funds withdrawn (−amount) and reinstated (+amount). */
  funds?: ("withdrawn" | "reinstated")[];
}

export function stripeDispute(f: DisputeFields): Record<string, unknown> {
  const status = f.status ?? "needs_response";
  const inquiry = status.startsWith("warning_");
  return {
    id: f.id,
    object: "dispute",
    amount: f.amount,
    balance_transactions: (f.funds ?? []).map((kind, i) => ({
      id: `txn_${f.id.slice(3)}_${i}`,
      object: "balance_transaction",
      amount: kind === "withdrawn" ? -f.amount : f.amount,
      available_on: 1_760_100_000,
      created: 1_760_000_200 + i,
      currency: f.currency,
      description: kind === "withdrawn" ? "Chargeback withdrawal" : "Chargeback reversal",
      fee: kind === "withdrawn" ? 1500 : -1500,
      net: kind === "withdrawn" ? -f.amount - 1500 : f.amount + 1500,
      reporting_category: kind === "withdrawn" ? "dispute" : "dispute_reversal",
      source: f.id,
      status: "pending",
      type: "adjustment",
    })),
    charge: `ch_${f.paymentIntent.slice(3)}`,
    created: 1_760_000_200,
    currency: f.currency,
    enhanced_eligibility_types: [],
    evidence: {
      access_activity_log: null,
      billing_address: null,
      customer_email_address: null,
      product_description: null,
      uncategorized_text: null,
    },
    evidence_details: { due_by: 1_761_000_000, has_evidence: false, past_due: false, submission_count: 0 },
    is_charge_refundable: !inquiry && status !== "lost",
    livemode: false,
    metadata: {},
    payment_intent: f.paymentIntent,
    payment_method_details: {
      card: { brand: "visa", case_type: inquiry ? "inquiry" : "chargeback", network_reason_code: "10.4" },
      type: "card",
    },
    reason: "fraudulent",
    status,
  };
}

export interface CheckoutSessionFields {
  id: string;
  amountTotal: number;
  currency: string;
  paymentIntent: string | null;
  paymentStatus: string;
  status: string;
  metadata: Record<string, string>;
}

export function stripeCheckoutSession(f: CheckoutSessionFields): Record<string, unknown> {
  return {
    id: f.id,
    object: "checkout.session",
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: f.amountTotal,
    amount_total: f.amountTotal,
    automatic_tax: { enabled: false, liability: null, status: null },
    billing_address_collection: null,
    cancel_url: "https://app.example.com/course/c1",
    client_reference_id: f.metadata.checkoutId ?? null,
    consent: null,
    consent_collection: null,
    created: 1_760_000_300,
    currency: f.currency,
    customer: null,
    customer_creation: "if_required",
    customer_details:
      f.status === "complete" ? { email: "student@example.com", name: null, phone: null } : null,
    customer_email: null,
    expires_at: 1_760_086_700,
    invoice: null,
    invoice_creation: { enabled: false, invoice_data: {} },
    livemode: false,
    locale: null,
    metadata: f.metadata,
    mode: "payment",
    payment_intent: f.paymentIntent,
    payment_link: null,
    payment_method_collection: "if_required",
    payment_method_types: ["card", "us_bank_account"],
    payment_status: f.paymentStatus,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_details: null,
    shipping_options: [],
    status: f.status,
    submit_type: null,
    subscription: null,
    success_url: "https://app.example.com/paid",
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: "hosted",
    url: f.status === "open" ? `https://checkout.stripe.com/c/pay/${f.id}` : null,
  };
}

/** A signed delivery of `object` as event `type`, posted to the webhook like Stripe posts it. */
export async function deliverStripeEvent(
  id: string,
  type: string,
  object: Record<string, unknown>,
  options: { rawBody?: (json: string) => string } = {},
): Promise<WebhookReply> {
  const event = {
    id,
    object: "event",
    api_version: API_VERSION,
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: "req_Example", idempotency_key: "idem-example" },
    type,
  };
  const json = JSON.stringify(event);
  const rawBody = options.rawBody === undefined ? json : options.rawBody(json);
  return postWebhook(rawBody, await signPayload(rawBody, TEST_WEBHOOK_SECRET));
}

/** The outcome the webhook answered a delivery with. */
export async function outcomeOf(reply: Promise<WebhookReply>): Promise<unknown> {
  return ((await reply).body as { outcome?: unknown }).outcome;
}
