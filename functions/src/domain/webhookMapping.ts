/**
 * Webhook event → domain command. Pure: takes a verified, schema-parsed event and decides what it means for
 * the ledger, without touching any database.
 */
import type {
  CheckoutSessionEventType,
  CheckoutSessionObject,
  ParsedWebhookEvent,
  RefundObject,
} from "../schemas/webhook";
import type { DisputeEvent } from "./disputes";
import { isDocId, isUid } from "./ids";
import type { LedgerEntryInput, LedgerSource } from "./ledger";

/** Where the enrollment is: from a payment's metadata, or (refunds, disputes) through the payment's ledger entry. */
export type EnrollmentTarget =
  { kind: "known"; uid: string; courseId: string } | { kind: "lookup"; providerPaymentId: string };

export type DeadLetterReason =
  | "metadata-missing"
  | "metadata-invalid"
  | "payment-reference-missing"
  | "invalid-amount"
  | "unknown-payment"
  | "unknown-enrollment"
  | "currency-mismatch"
  /** A payment naming a checkout that is not this backend's checkout for that user, course, amount and currency. */
  | "checkout-mismatch"
  /** A refund above what is left of its payment (the payment minus its refunds and lost disputes). */
  | "refund-exceeds-payment"
  /** A dispute above what is left of its payment after its refunds. */
  | "dispute-exceeds-payment"
  /** A non-transient unexpected failure while processing (a bug or corrupt stored data); see the logs. */
  | "internal-error";

export type WebhookCommand =
  | { kind: "deadLetter"; reason: DeadLetterReason }
  | { kind: "noop"; reason: string }
  | {
      kind: "applyEntries";
      target: EnrollmentTarget;
      entries: LedgerEntryInput[];
      /** Checkout to mark succeeded, when the payment came from startPayment. */
      checkoutId: string | null;
      /** What the payment was created for (`payment_intent.amount`): what its checkout must say. */
      requestedAmount?: number;
    }
  | {
      /** The payment did not go through: it failed (the customer may still retry it) or was canceled (final). */
      kind: "paymentEnded";
      how: "failed" | "canceled";
      target: EnrollmentTarget;
      checkoutId: string | null;
      providerPaymentId: string;
      amount: number;
      currency: string;
    }
  | { kind: "dispute"; target: EnrollmentTarget; disputeId: string; event: DisputeEvent; currency: string };

type MetadataResult =
  | { kind: "ok"; uid: string; courseId: string; checkoutId: string | null }
  | { kind: "missing" }
  | { kind: "invalid" };

export function readMetadata(metadata: Readonly<Record<string, string>> | undefined): MetadataResult {
  const uid = metadata?.uid;
  const courseId = metadata?.courseId;
  if (uid === undefined || courseId === undefined || uid === "" || courseId === "")
    return { kind: "missing" };
  if (!isUid(uid) || !isDocId(courseId)) return { kind: "invalid" };
  // A checkoutId that could not be ours is not ignored (that would skip the checkout check): the event is invalid.
  const checkoutId = metadata?.checkoutId;
  if (checkoutId !== undefined && !isDocId(checkoutId)) return { kind: "invalid" };
  return { kind: "ok", uid, courseId, checkoutId: checkoutId ?? null };
}

/**
 * Refunds and disputes find their enrollment through the payment's own ledger entry, never through metadata: a
 * refund's or dispute's metadata is whatever its creator wrote (disputes carry none), the ledger entry is what this
 * backend applied.
 */
function paymentTarget(providerPaymentId: string): EnrollmentTarget {
  return { kind: "lookup", providerPaymentId };
}

function refundEntry(
  refund: RefundObject,
  providerPaymentId: string,
  source: LedgerSource,
): LedgerEntryInput {
  return {
    id: refund.id,
    type: "refund",
    amount: -refund.amount,
    currency: refund.currency,
    source,
    providerPaymentId,
    providerRefundId: refund.id,
  };
}

/** The ledger id of a refund's reversal. */
export function refundReversalId(refundId: string): string {
  return `${refundId}_reversal`;
}

/**
 * The entries a refund in `status` stands for: a `succeeded` one takes its amount back; a `failed` one took it
 * back and gave it back — its refund entry and its reversal, the reversal first so the pair is bounded as a whole
 * (net zero) —, whatever arrived before; anything else (pending, requires_action, canceled) moves nothing yet.
 */
export function refundEntries(
  refund: RefundObject,
  providerPaymentId: string,
  source: LedgerSource,
): LedgerEntryInput[] {
  if (refund.amount <= 0) return [];
  const taken = refundEntry(refund, providerPaymentId, source);
  if (refund.status === "succeeded") return [taken];
  if (refund.status !== "failed") return [];
  return [
    { ...taken, id: refundReversalId(refund.id), type: "refund-reversal", amount: refund.amount },
    taken,
  ];
}

export function mapWebhookEvent(event: ParsedWebhookEvent, source: LedgerSource): WebhookCommand {
  switch (event.type) {
    case "payment_intent.succeeded": {
      const pi = event.object;
      const meta = readMetadata(pi.metadata);
      if (meta.kind !== "ok") return { kind: "deadLetter", reason: `metadata-${meta.kind}` };
      const amount =
        pi.amount_received !== undefined && pi.amount_received > 0 ? pi.amount_received : pi.amount;
      if (amount <= 0) return { kind: "deadLetter", reason: "invalid-amount" };
      return {
        kind: "applyEntries",
        target: { kind: "known", uid: meta.uid, courseId: meta.courseId },
        entries: [
          { id: pi.id, type: "payment", amount, currency: pi.currency, source, providerPaymentId: pi.id },
        ],
        checkoutId: meta.checkoutId,
        requestedAmount: pi.amount,
      };
    }
    case "payment_intent.payment_failed":
    case "payment_intent.canceled": {
      const pi = event.object;
      const meta = readMetadata(pi.metadata);
      if (meta.kind !== "ok") return { kind: "deadLetter", reason: `metadata-${meta.kind}` };
      return {
        kind: "paymentEnded",
        how: event.type === "payment_intent.canceled" ? "canceled" : "failed",
        target: { kind: "known", uid: meta.uid, courseId: meta.courseId },
        checkoutId: meta.checkoutId,
        providerPaymentId: pi.id,
        amount: pi.amount,
        currency: pi.currency,
      };
    }
    case "charge.refunded": {
      const charge = event.object;
      // Since Stripe API 2022-11-15 the charge carries no refund list (before, at most 10): the refund.*
      // events carry each refund, keyed by the same refund id, so nothing is lost by not dead-lettering.
      if (charge.refunds === undefined || charge.refunds === null)
        return { kind: "noop", reason: "refund-list-absent" };
      const providerPaymentId = charge.payment_intent ?? charge.id;
      const target = paymentTarget(providerPaymentId);
      const entries = charge.refunds.data.flatMap((r) => refundEntries(r, providerPaymentId, source));
      if (entries.length === 0) return { kind: "noop", reason: "no-money-moving-refunds" };
      return { kind: "applyEntries", target, entries, checkoutId: null };
    }
    case "refund.created":
    case "refund.updated":
    case "refund.failed": {
      const refund = event.object;
      if (refund.status !== "succeeded" && refund.status !== "failed")
        return { kind: "noop", reason: "refund-not-settled" };
      if (refund.amount <= 0) return { kind: "deadLetter", reason: "invalid-amount" };
      const providerPaymentId = refund.payment_intent ?? refund.charge ?? null;
      if (providerPaymentId === null) return { kind: "deadLetter", reason: "payment-reference-missing" };
      const target = paymentTarget(providerPaymentId);
      return {
        kind: "applyEntries",
        target,
        entries: refundEntries(refund, providerPaymentId, source),
        checkoutId: null,
      };
    }
    case "charge.dispute.created":
    case "charge.dispute.updated":
    case "charge.dispute.funds_withdrawn":
    case "charge.dispute.funds_reinstated":
    case "charge.dispute.closed": {
      const dispute = event.object;
      const providerPaymentId = dispute.payment_intent ?? dispute.charge ?? null;
      if (providerPaymentId === null) return { kind: "deadLetter", reason: "payment-reference-missing" };
      const target = paymentTarget(providerPaymentId);
      if (dispute.amount <= 0) return { kind: "deadLetter", reason: "invalid-amount" };
      const movements = dispute.balance_transactions ?? [];
      const disputeEvent: DisputeEvent = {
        status: dispute.status,
        closedEvent: event.type === "charge.dispute.closed",
        amount: dispute.amount,
        providerPaymentId,
        withdrawn: event.type === "charge.dispute.funds_withdrawn" || movements.some((m) => m.amount < 0),
        reinstated: event.type === "charge.dispute.funds_reinstated" || movements.some((m) => m.amount > 0),
      };
      return {
        kind: "dispute",
        target,
        disputeId: dispute.id,
        event: disputeEvent,
        currency: dispute.currency,
      };
    }
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded":
    case "checkout.session.async_payment_failed":
    case "checkout.session.expired":
      return mapCheckoutSession(event.type, event.object, source);
  }
}

/**
 * The provider's hosted page. Its payment is the same ledger entry as its payment intent's own
 * `payment_intent.succeeded` (keyed by the intent id), so whichever of the two arrives first applies it, once.
 * `completed` with `payment_status: paid` (a card) or `async_payment_succeeded` (a bank debit settled) pays;
 * `completed` still `unpaid` waits for the async outcome; `async_payment_failed` and `expired` end the checkout:
 * canceled — a completed or expired page can never be paid again (the student starts a new payment).
 */
function mapCheckoutSession(
  type: CheckoutSessionEventType,
  session: CheckoutSessionObject,
  source: LedgerSource,
): WebhookCommand {
  if (session.mode !== undefined && session.mode !== "payment")
    return { kind: "noop", reason: "not-a-payment-session" };
  const meta = readMetadata(session.metadata);
  if (meta.kind !== "ok") return { kind: "deadLetter", reason: `metadata-${meta.kind}` };
  const target: EnrollmentTarget = { kind: "known", uid: meta.uid, courseId: meta.courseId };
  const amount = session.amount_total ?? 0;
  const currency = session.currency ?? "";
  const paid =
    type === "checkout.session.async_payment_succeeded" ||
    (type === "checkout.session.completed" && session.payment_status === "paid");
  if (paid) {
    const paymentId = session.payment_intent ?? null;
    if (paymentId === null) return { kind: "deadLetter", reason: "payment-reference-missing" };
    if (amount <= 0 || currency === "") return { kind: "deadLetter", reason: "invalid-amount" };
    return {
      kind: "applyEntries",
      target,
      entries: [{ id: paymentId, type: "payment", amount, currency, source, providerPaymentId: paymentId }],
      checkoutId: meta.checkoutId,
      requestedAmount: amount,
    };
  }
  if (type === "checkout.session.completed") return { kind: "noop", reason: "session-payment-pending" };
  return {
    kind: "paymentEnded",
    how: "canceled",
    target,
    checkoutId: meta.checkoutId,
    providerPaymentId: session.payment_intent ?? session.id,
    amount,
    currency,
  };
}
