/**
 * Stripe adapter. The `stripe` package is imported lazily inside the calls that need it (it costs ~100 ms to
 * load), and every create carries an idempotency key.
 */
import type Stripe from "stripe";
import { ProviderError } from "../../shared/errors";
import type {
  EventPage,
  ListEventsParams,
  CancelOutcome,
  CancelPaymentParams,
  CreatePaymentParams,
  CreateRefundParams,
  CreatedPayment,
  CreatedRefund,
  FindRefundParams,
  PaymentProvider,
  ProviderPayment,
  CreateCheckoutSessionParams,
  CreatedCheckoutSession,
} from "./provider";
import { isRefundOfRequest } from "./provider";

let client: Stripe | undefined;

async function stripeClient(secretKey: string): Promise<Stripe> {
  if (client === undefined) {
    const { default: StripeCtor } = await import("stripe");
    client = new StripeCtor(secretKey, { maxNetworkRetries: 2, timeout: 20_000 });
  }
  return client;
}

/**
 * Connection, rate-limit and Stripe 5xx errors may succeed on retry with the same idempotency key, and so may a
 * request whose idempotency key another request (a concurrent retry) is still using. Anything else is permanent.
 */
function toProviderError(error: unknown): ProviderError {
  const { type, code } =
    typeof error === "object" && error !== null ? (error as { type?: unknown; code?: unknown }) : {};
  const transient =
    type === "StripeConnectionError" ||
    type === "StripeAPIError" ||
    type === "StripeRateLimitError" ||
    code === "idempotency_key_in_use";
  return new ProviderError(
    `stripe request failed (${typeof type === "string" ? type : "unknown"})`,
    transient,
  );
}

/** Stripe's answer for an object it does not hold (another account, a deleted test object, an expired event). */
function isResourceMissing(error: unknown): boolean {
  return (
    typeof error === "object" && error !== null && (error as { code?: unknown }).code === "resource_missing"
  );
}

function refundOf(refund: Stripe.Refund): CreatedRefund {
  return { refundId: refund.id, amount: refund.amount, status: refund.status ?? "pending" };
}

export class StripePaymentProvider implements PaymentProvider {
  readonly name = "stripe" as const;

  private own: Stripe | undefined;

  /** `api`: another Stripe API endpoint (tests point it at a local stand-in); default Stripe's, one shared client. */
  constructor(
    private readonly secretKey: () => string,
    private readonly api?: { host: string; port: number; protocol: "http" | "https" },
  ) {}

  private async client(): Promise<Stripe> {
    if (this.api === undefined) return stripeClient(this.secretKey());
    if (this.own === undefined) {
      const { default: StripeCtor } = await import("stripe");
      this.own = new StripeCtor(this.secretKey(), { ...this.api, maxNetworkRetries: 0, timeout: 5_000 });
    }
    return this.own;
  }

  async createPayment(params: CreatePaymentParams): Promise<CreatedPayment> {
    const stripe = await this.client();
    try {
      const intent = await stripe.paymentIntents.create(
        {
          amount: params.amount,
          currency: params.currency,
          automatic_payment_methods: { enabled: true },
          metadata: { ...params.metadata },
        },
        { idempotencyKey: params.idempotencyKey },
      );
      if (intent.client_secret === null)
        throw new ProviderError("payment intent without client secret", false);
      return { paymentId: intent.id, clientSecret: intent.client_secret };
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      throw toProviderError(error);
    }
  }

  async createRefund(params: CreateRefundParams): Promise<CreatedRefund> {
    const stripe = await this.client();
    try {
      const refund = await stripe.refunds.create(
        {
          payment_intent: params.paymentId,
          ...(params.amount === undefined ? {} : { amount: params.amount }),
          metadata: { ...params.metadata },
        },
        { idempotencyKey: params.idempotencyKey },
      );
      return refundOf(refund);
    } catch (error) {
      throw toProviderError(error);
    }
  }

  /**
   * Lists the payment intent's refunds (newest first, 100 a page, every page through auto-pagination) and returns
   * the one whose `metadata.refundRequest` names the request. Stripe allows only a few refunds per charge, so this
   * is one request in practice.
   */
  async findRefund(params: FindRefundParams): Promise<CreatedRefund | null> {
    const stripe = await this.client();
    try {
      for await (const refund of stripe.refunds.list({ payment_intent: params.paymentId, limit: 100 })) {
        if (isRefundOfRequest(refund, params.refundRequest)) return refundOf(refund);
      }
      return null;
    } catch (error) {
      throw toProviderError(error);
    }
  }

  /**
   * `paymentIntents.cancel`. Stripe refuses to cancel an intent that succeeded, is processing or was canceled
   * already (`payment_intent_unexpected_state`); the intent's own status then says which.
   */
  async cancelPayment(params: CancelPaymentParams): Promise<CancelOutcome> {
    const stripe = await this.client();
    try {
      await stripe.paymentIntents.cancel(
        params.paymentId,
        { cancellation_reason: "abandoned" },
        { idempotencyKey: params.idempotencyKey },
      );
      return { canceled: true };
    } catch (error) {
      const code =
        typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
      if (code !== "payment_intent_unexpected_state") throw toProviderError(error);
    }
    try {
      const intent = await stripe.paymentIntents.retrieve(params.paymentId);
      return intent.status === "canceled" ? { canceled: true } : { canceled: false, status: intent.status };
    } catch (error) {
      throw toProviderError(error);
    }
  }

  /**
   * `paymentIntents.retrieve`, or for a charge id (`ch_…`/`py_…`: a charge made without an intent, as refunds and
   * disputes may name it) `charges.retrieve` and then the charge's intent, whose metadata is the one this backend
   * set. A missing object (`resource_missing`: another account, a deleted test object) is null.
   */
  async findPayment(paymentId: string): Promise<ProviderPayment | null> {
    const stripe = await this.client();
    try {
      if (!paymentId.startsWith("pi_")) {
        const charge = await stripe.charges.retrieve(paymentId);
        const intent = charge.payment_intent;
        if (intent === null) return { paymentId: charge.id, metadata: charge.metadata };
        if (typeof intent !== "string") return { paymentId: intent.id, metadata: intent.metadata };
        paymentId = intent;
      }
      const intent = await stripe.paymentIntents.retrieve(paymentId);
      return { paymentId: intent.id, metadata: intent.metadata };
    } catch (error) {
      if (isResourceMissing(error)) return null;
      throw toProviderError(error);
    }
  }

  /** `events.list` (`GET /v1/events`, newest first) filtered by type and creation time; one page. */
  async listEvents(params: ListEventsParams): Promise<EventPage> {
    const stripe = await this.client();
    try {
      const page = await stripe.events.list({
        types: [...params.types],
        created: { gte: Math.floor(params.createdFromMs / 1000), lt: Math.ceil(params.createdToMs / 1000) },
        limit: params.limit,
        ...(params.startingAfter === null ? {} : { starting_after: params.startingAfter }),
      });
      const last = page.data[page.data.length - 1];
      return { events: page.data, nextCursor: page.has_more && last !== undefined ? last.id : null };
    } catch (error) {
      throw toProviderError(error);
    }
  }

  /** `events.retrieve` (`GET /v1/events/{id}`); Stripe answers `resource_missing` past its 30-day retention: null. */
  async retrieveEvent(eventId: string): Promise<unknown> {
    const stripe = await this.client();
    try {
      return await stripe.events.retrieve(eventId);
    } catch (error) {
      if (isResourceMissing(error)) return null;
      throw toProviderError(error);
    }
  }

  /**
   * `checkout.sessions.create` in payment mode for one line (the course, the checkout's amount): the metadata goes
   * on the session and, through `payment_intent_data`, on the payment intent Stripe creates when the customer pays,
   * so `payment_intent.*` events, refunds and disputes of it are recognised as ours.
   */
  async createCheckoutSession(params: CreateCheckoutSessionParams): Promise<CreatedCheckoutSession> {
    const stripe = await this.client();
    try {
      const session = await stripe.checkout.sessions.create(
        {
          mode: "payment",
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: params.currency,
                unit_amount: params.amount,
                product_data: { name: params.description },
              },
            },
          ],
          success_url: params.successUrl,
          cancel_url: params.cancelUrl,
          client_reference_id: params.metadata.checkoutId,
          metadata: { ...params.metadata },
          payment_intent_data: { metadata: { ...params.metadata } },
        },
        { idempotencyKey: params.idempotencyKey },
      );
      if (session.url === null) throw new ProviderError("checkout session without url", false);
      return { sessionId: session.id, url: session.url, expiresAtMs: session.expires_at * 1000 };
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      throw toProviderError(error);
    }
  }

  /** `checkout.sessions.expire`; a session that is no longer open answers with its own status. */
  async expireCheckoutSession(params: { sessionId: string; idempotencyKey: string }): Promise<CancelOutcome> {
    const stripe = await this.client();
    try {
      await stripe.checkout.sessions.expire(params.sessionId, {}, { idempotencyKey: params.idempotencyKey });
      return { canceled: true };
    } catch (error) {
      const type =
        typeof error === "object" && error !== null ? (error as { type?: unknown }).type : undefined;
      if (type !== "StripeInvalidRequestError") throw toProviderError(error);
    }
    try {
      const session = await stripe.checkout.sessions.retrieve(params.sessionId);
      return session.status === "expired"
        ? { canceled: true }
        : { canceled: false, status: session.status ?? "unknown" };
    } catch (error) {
      throw toProviderError(error);
    }
  }
}
