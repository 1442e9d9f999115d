/** The payment provider interface: what the backend needs from Stripe (or the local stand-in). */

export interface PaymentMetadata {
  uid: string;
  courseId: string;
  checkoutId: string;
}

export interface CreatePaymentParams {
  amount: number;
  currency: string;
  /** Same key ⇒ same provider payment (Stripe idempotency key). */
  idempotencyKey: string;
  metadata: PaymentMetadata;
}

export interface CreatedPayment {
  paymentId: string;
  clientSecret: string;
}

export interface CreateCheckoutSessionParams extends CreatePaymentParams {
  /** Where the provider's hosted page sends the customer after paying, and after giving up. */
  successUrl: string;
  cancelUrl: string;
  /** What the customer sees they pay for (the course title). */
  description: string;
}

/** A hosted checkout page (Stripe Checkout Session): its payment intent exists only once the customer pays. */
export interface CreatedCheckoutSession {
  sessionId: string;
  url: string;
  /** When the page stops accepting payment (ms since the epoch). */
  expiresAtMs: number;
}

/** The metadata key naming, on every refund this backend makes, the refund request that made it. */
export const REFUND_REQUEST_METADATA_KEY = "refundRequest";

export interface RefundMetadata {
  uid: string;
  courseId: string;
  /** The refund request's id (domain/ids `refundRequestIdFor`): how `findRefund` recognises the refund. */
  [REFUND_REQUEST_METADATA_KEY]: string;
}

export interface CreateRefundParams {
  paymentId: string;
  /** Cents; omitted = refund everything refundable. */
  amount: number | undefined;
  idempotencyKey: string;
  metadata: RefundMetadata;
}

export interface CreatedRefund {
  refundId: string;
  amount: number;
  status: string;
}

export interface FindRefundParams {
  paymentId: string;
  /** The refund request's id, as put in the refund's metadata by `createRefund`. */
  refundRequest: string;
}

/** True when a provider refund (its metadata) was made for refund request `refundRequest`. */
export function isRefundOfRequest(
  refund: { metadata?: Readonly<Record<string, string>> | null | undefined },
  refundRequest: string,
): boolean {
  return refund.metadata?.[REFUND_REQUEST_METADATA_KEY] === refundRequest;
}

export interface CancelPaymentParams {
  paymentId: string;
  idempotencyKey: string;
}

/**
 * The outcome of a cancel: `canceled` (now, or earlier) or, when the payment can no longer be canceled because the
 * customer already paid or the payment is being processed, `canceled: false` with the provider's status.
 */
export type CancelOutcome = { canceled: true } | { canceled: false; status: string };

/** What the provider says about a payment it holds: the metadata it was created with. */
export interface ProviderPayment {
  paymentId: string;
  metadata: Readonly<Record<string, string>>;
}

export interface PaymentProvider {
  readonly name: "stripe" | "local";
  createPayment(params: CreatePaymentParams): Promise<CreatedPayment>;
  createRefund(params: CreateRefundParams): Promise<CreatedRefund>;
  /**
   * The payment's refund made for this refund request (by its metadata), or null when there is none: how a retry
   * past the provider's idempotency-key window learns whether its first attempt made the refund. Read only.
   */
  findRefund(params: FindRefundParams): Promise<CreatedRefund | null>;
  /** A hosted checkout page for one payment; the metadata is put on the session and on its payment intent. */
  createCheckoutSession(params: CreateCheckoutSessionParams): Promise<CreatedCheckoutSession>;
  /**
   * Expires a hosted checkout page nobody should pay any more. `canceled: false` when it can no longer be expired
   * (the customer completed it). Safe to repeat.
   */
  expireCheckoutSession(params: { sessionId: string; idempotencyKey: string }): Promise<CancelOutcome>;
  /** Cancels a payment nobody should pay any more (a replaced or stale checkout's). Safe to repeat. */
  cancelPayment(params: CancelPaymentParams): Promise<CancelOutcome>;
  /**
   * The payment `paymentId` (a payment intent, or a charge made without one) as the provider holds it, or null when
   * the provider has no such payment on this account. Used to tell an event about one of this backend's payments
   * that overtook it from one about a payment of something else on the same account.
   */
  findPayment(paymentId: string): Promise<ProviderPayment | null>;
  /**
   * The event `eventId` as the provider holds it (the JSON it posts to the webhook), or null when it has no such
   * event: an unknown id, or one past the provider's retention (Stripe keeps events 30 days). Read only; how a
   * dead letter is replayed from its original event (services/deadLetterService).
   */
  retrieveEvent(eventId: string): Promise<unknown>;
  /**
   * The events of `types` the provider created in [createdFromMs, createdToMs), newest first, one page of at most
   * `limit` after the event `startingAfter` (null: from the newest). Read only; how reconciliation finds the events a
   * webhook endpoint missed (services/reconciliationService). Stripe keeps events 30 days.
   */
  listEvents(params: ListEventsParams): Promise<EventPage>;
}

export interface ListEventsParams {
  types: readonly string[];
  createdFromMs: number;
  createdToMs: number;
  startingAfter: string | null;
  limit: number;
}

export interface EventPage {
  /** The events as the provider posts them to the webhook (JSON objects). */
  events: unknown[];
  /** The last event's id when more follow (pass it as `startingAfter`), else null. */
  nextCursor: string | null;
}
