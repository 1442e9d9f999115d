/**
 * The local payment provider: a stand-in for Stripe used by tests and the offline stack.
 * Payments ("payment intents") are documents in the server-only collection `localProvider`, keyed
 * deterministically by the idempotency key, so the same key always yields the same payment. It confirms,
 * fails, refunds and disputes payments by sending correctly signed Stripe-format events to the webhook.
 */
import { FieldValue, Timestamp, type Transaction } from "firebase-admin/firestore";
import { shortHash } from "../../../domain/ids";
import { ProviderError } from "../../../shared/errors";
import { logError } from "../../../shared/log";
import {
  localPaymentRef,
  localPaymentsByChargeId,
  localPaymentsBySessionId,
  localSentEventRef,
  localSentEventsBetween,
  type LocalPaymentDoc,
} from "./documents";
import {
  chargeRefundedEvent,
  disputeEvent,
  checkoutSessionEvent,
  paymentCanceledEvent,
  paymentFailedEvent,
  paymentSucceededEvent,
  refundEvent,
  signEvent,
  type EventDeliverer,
  type LocalPaymentView,
  type SignedDelivery,
  type StripeEventJson,
} from "./localEvents";
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
} from "../provider";
import { isRefundOfRequest } from "../provider";
import { runTransaction } from "../../firestore/transactions";

export interface LocalProviderOptions {
  /** Signs outgoing events; must equal the webhook's STRIPE_WEBHOOK_SECRET. */
  webhookSecret: () => string | undefined;
  /** Where events go; when absent, events are built and returned but not sent. */
  deliver?: EventDeliverer | undefined;
  /**
   * Status of a new refund: `succeeded` (default, like most card refunds) or `pending` (settled later with
   * `updateRefund`, like Stripe's `refund.updated`).
   */
  refundStatus?: "succeeded" | "pending";
}

export interface DeliveryResult extends SignedDelivery {
  /** HTTP status the webhook answered, or null when nothing was delivered. */
  status: number | null;
}

export function localPaymentId(idempotencyKey: string): string {
  return `pi_local_${shortHash(`pi|${idempotencyKey}`)}`;
}

/**
 * The provider's record of a payment made outside startPayment (the Dashboard, another integration), as tests and
 * the simulation write it before sending its events: Stripe holds every payment its events are about, and the
 * webhook asks it (`findPayment`) whose an early refund or dispute is. Plain data (`createdAt` a Date), so any
 * Firestore client can write it.
 */
export function heldPaymentRecord(
  view: LocalPaymentView,
  status: LocalPaymentDoc["status"] = "succeeded",
): Omit<LocalPaymentDoc, "createdAt"> & { createdAt: Date } {
  return {
    id: view.id,
    chargeId: view.chargeId,
    amount: view.amount,
    currency: view.currency,
    idempotencyKey: `held:${view.id}`,
    clientSecret: `${view.id}_secret`,
    metadata: { ...view.metadata },
    status,
    refunds: [],
    createdAt: new Date(),
  };
}

/** What the event builders need of a stored local payment (also used by the tests and the local stack). */
export function localPaymentView(doc: LocalPaymentDoc): LocalPaymentView {
  return {
    id: doc.id,
    chargeId: doc.chargeId,
    amount: doc.amount,
    currency: doc.currency,
    metadata: doc.metadata,
    refunds: doc.refunds.map((r) => ({ id: r.id, amount: r.amount, status: r.status, metadata: r.metadata })),
  };
}

export class LocalPaymentProvider implements PaymentProvider {
  readonly name = "local" as const;

  constructor(private readonly options: LocalProviderOptions) {}

  async createPayment(params: CreatePaymentParams): Promise<CreatedPayment> {
    return this.createLocalPayment(params, null);
  }

  /**
   * Like a Stripe Checkout Session: a hosted page (here a URL that names the session; the local stack's `confirm`
   * pays it) for one payment, whose payment intent carries the same metadata. Paying it sends
   * `payment_intent.succeeded` and `checkout.session.completed`; expiring it, `checkout.session.expired`.
   */
  async createCheckoutSession(params: CreateCheckoutSessionParams): Promise<CreatedCheckoutSession> {
    const sessionId = `cs_local_${shortHash(`cs|${params.idempotencyKey}`)}`;
    const url = `https://checkout.local.invalid/pay/${sessionId}`;
    await this.createLocalPayment(params, { id: sessionId, url, status: "open" });
    return { sessionId, url, expiresAtMs: Date.now() + 24 * 3600 * 1000 };
  }

  async expireCheckoutSession(params: { sessionId: string; idempotencyKey: string }): Promise<CancelOutcome> {
    const found = (await localPaymentsBySessionId(params.sessionId).get()).docs[0];
    if (found === undefined) throw new ProviderError("no such checkout session", false);
    const ref = localPaymentRef(found.id);
    const result = await runTransaction(async (tx) => {
      const doc = (await tx.get(ref)).data();
      if (doc?.session == null) throw new ProviderError("no such checkout session", false);
      if (doc.session.status === "complete" || doc.status === "succeeded")
        return { outcome: { canceled: false, status: "complete" } as const };
      if (doc.session.status === "expired") return { outcome: { canceled: true } as const };
      const session = { ...doc.session, status: "expired" as const };
      tx.update(ref, { session, status: "canceled" });
      return { outcome: { canceled: true } as const, doc: { ...doc, session } };
    });
    if (result.doc !== undefined) {
      const event = checkoutSessionEvent(
        localPaymentView(result.doc),
        params.sessionId,
        "checkout.session.expired",
      );
      await this.send(event).catch((error: unknown) => {
        logError("local provider: session expiry delivery failed", { sessionId: params.sessionId }, error);
      });
    }
    return result.outcome;
  }

  private async createLocalPayment(
    params: CreatePaymentParams,
    session: LocalPaymentDoc["session"],
  ): Promise<CreatedPayment> {
    const paymentId = localPaymentId(params.idempotencyKey);
    const ref = localPaymentRef(paymentId);
    return runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      const existing = snap.data();
      if (existing !== undefined) {
        if (existing.amount !== params.amount || existing.currency !== params.currency) {
          throw new ProviderError("idempotency key reused with different parameters", false);
        }
        return { paymentId, clientSecret: existing.clientSecret };
      }
      const clientSecret = `${paymentId}_secret_${shortHash(`secret|${params.idempotencyKey}`, 16)}`;
      tx.create(ref, {
        id: paymentId,
        chargeId: `ch_local_${shortHash(`ch|${params.idempotencyKey}`)}`,
        amount: params.amount,
        currency: params.currency,
        idempotencyKey: params.idempotencyKey,
        clientSecret,
        metadata: { ...params.metadata },
        status: "requires_payment_method",
        refunds: [],
        session,
        createdAt: FieldValue.serverTimestamp(),
      });
      return { paymentId, clientSecret };
    });
  }

  async createRefund(params: CreateRefundParams): Promise<CreatedRefund> {
    const refundId = `re_local_${shortHash(`re|${params.idempotencyKey}`)}`;
    const ref = localPaymentRef(params.paymentId);
    const result = await runTransaction(async (tx: Transaction) => {
      const doc = (await tx.get(ref)).data();
      if (doc === undefined) throw new ProviderError("no such payment", false);
      const known = doc.refunds.find((r) => r.id === refundId);
      if (known !== undefined) return { refund: known, doc };
      const refunded = doc.refunds
        .filter((r) => r.status !== "failed" && r.status !== "canceled")
        .reduce((sum, r) => sum + r.amount, 0);
      const amount = params.amount ?? doc.amount - refunded;
      if (amount <= 0 || refunded + amount > doc.amount)
        throw new ProviderError("amount exceeds refundable", false);
      const refund = {
        id: refundId,
        amount,
        idempotencyKey: params.idempotencyKey,
        status: this.options.refundStatus ?? "succeeded",
        metadata: { ...params.metadata },
      };
      const refunds = [...doc.refunds, refund];
      tx.update(ref, { refunds });
      return { refund, doc: { ...doc, refunds } };
    });
    // Like Stripe (API ≥ 2022-11-15): `charge.refunded` without the refund list, then `refund.created` carrying
    // the refund. Events are sent after the refund exists; a failed delivery does not undo the refund.
    const payment = localPaymentView(result.doc);
    for (const event of [
      chargeRefundedEvent(payment, undefined, { refundList: false }),
      refundEvent(payment, result.refund, "refund.created"),
    ]) {
      await this.send(event).catch((error: unknown) => {
        logError("local provider: refund event delivery failed", { refundId, type: event.type }, error);
      });
    }
    return { refundId: result.refund.id, amount: result.refund.amount, status: result.refund.status };
  }

  /** Like Stripe's refund list of a payment intent, searched for the refund request's metadata. */
  async findRefund(params: FindRefundParams): Promise<CreatedRefund | null> {
    const doc = await this.load(params.paymentId);
    const refund = doc.refunds.find((r) => isRefundOfRequest(r, params.refundRequest));
    return refund === undefined
      ? null
      : { refundId: refund.id, amount: refund.amount, status: refund.status };
  }

  /**
   * Like Stripe's `paymentIntents.cancel`: an unpaid payment becomes `canceled` (and `payment_intent.canceled` is
   * sent); a paid one cannot be canceled. Repeating it changes nothing and sends nothing again.
   */
  async cancelPayment(params: CancelPaymentParams): Promise<CancelOutcome> {
    const ref = localPaymentRef(params.paymentId);
    const result = await runTransaction(async (tx) => {
      const doc = (await tx.get(ref)).data();
      if (doc === undefined) throw new ProviderError("no such payment", false);
      if (doc.status === "succeeded") return { outcome: { canceled: false, status: doc.status } as const };
      if (doc.status === "canceled") return { outcome: { canceled: true } as const };
      tx.update(ref, { status: "canceled" });
      return { outcome: { canceled: true } as const, doc: { ...doc, status: "canceled" as const } };
    });
    if (result.doc !== undefined) {
      const event = paymentCanceledEvent(localPaymentView(result.doc));
      await this.send(event).catch((error: unknown) => {
        logError("local provider: cancel event delivery failed", { paymentId: params.paymentId }, error);
      });
    }
    return result.outcome;
  }

  /** The payment by its id or its charge's id; null when this provider never made it. */
  async findPayment(paymentId: string): Promise<ProviderPayment | null> {
    const doc = paymentId.startsWith("ch_")
      ? (await localPaymentsByChargeId(paymentId).get()).docs[0]?.data()
      : (await localPaymentRef(paymentId).get()).data();
    return doc === undefined ? null : { paymentId: doc.id, metadata: doc.metadata };
  }

  /** An event this provider sent (recorded by `send`), parsed back from its JSON; null for any other id. */
  async retrieveEvent(eventId: string): Promise<unknown> {
    const sent = (await localSentEventRef(eventId).get()).data();
    return sent === undefined ? null : (JSON.parse(sent.json) as unknown);
  }

  /** The events this provider sent in the time range, newest first, as Stripe's `events.list` pages them. */
  async listEvents(params: ListEventsParams): Promise<EventPage> {
    let query = localSentEventsBetween(params.createdFromMs, params.createdToMs, params.limit);
    if (params.startingAfter !== null) {
      const cursor = await localSentEventRef(params.startingAfter).get();
      if (!cursor.exists) throw new ProviderError(`no such event: ${params.startingAfter}`, false);
      query = query.startAfter(cursor);
    }
    const page = await query.get();
    const events = page.docs
      .filter((doc) => params.types.includes(doc.data().type))
      .map((doc) => JSON.parse(doc.data().json) as unknown);
    const last = page.docs[page.docs.length - 1];
    return { events, nextCursor: page.size === params.limit && last !== undefined ? last.id : null };
  }

  // ---- simulator actions (what the customer, the card network or the bank would do) ----

  /** Pays a payment intent, or (given its `cs_…` id) the payment of a hosted checkout page. */
  async confirmPayment(id: string): Promise<DeliveryResult> {
    const paymentId = id.startsWith("cs_")
      ? ((await localPaymentsBySessionId(id).get()).docs[0]?.id ?? id)
      : id;
    const ref = localPaymentRef(paymentId);
    const doc = await runTransaction(async (tx) => {
      const current = (await tx.get(ref)).data();
      if (current === undefined) throw new ProviderError("no such payment", false);
      // Stripe: a canceled payment intent can no longer be confirmed.
      if (current.status === "canceled") throw new ProviderError("payment intent canceled", false);
      const session =
        current.session == null ? current.session : { ...current.session, status: "complete" as const };
      if (current.status !== "succeeded") tx.update(ref, { status: "succeeded", session });
      return current;
    });
    const view = localPaymentView(doc);
    // A hosted page's payment: its intent's event and the session's (Stripe sends both, in no fixed order).
    if (doc.session != null)
      await this.send(checkoutSessionEvent(view, doc.session.id, "checkout.session.completed"));
    return this.send(paymentSucceededEvent(view));
  }

  async failPayment(paymentId: string): Promise<DeliveryResult> {
    return this.send(paymentFailedEvent(localPaymentView(await this.load(paymentId))));
  }

  async openDispute(paymentId: string, disputeId?: string): Promise<DeliveryResult> {
    const doc = await this.load(paymentId);
    const id = disputeId ?? `dp_local_${shortHash(`dp|${paymentId}`)}`;
    return this.send(
      disputeEvent(
        localPaymentView(doc),
        { id, amount: doc.amount, status: "needs_response" },
        "charge.dispute.created",
      ),
    );
  }

  async closeDispute(paymentId: string, disputeId: string, status: "won" | "lost"): Promise<DeliveryResult> {
    const doc = await this.load(paymentId);
    return this.send(
      disputeEvent(
        localPaymentView(doc),
        { id: disputeId, amount: doc.amount, status },
        "charge.dispute.closed",
      ),
    );
  }

  /** A refund changes status (a pending one settles, or fails): `refund.updated`, as Stripe sends it. */
  async updateRefund(
    paymentId: string,
    refundId: string,
    status: "succeeded" | "failed" | "canceled",
  ): Promise<DeliveryResult> {
    const ref = localPaymentRef(paymentId);
    const doc = await runTransaction(async (tx) => {
      const current = (await tx.get(ref)).data();
      if (current === undefined) throw new ProviderError("no such payment", false);
      if (!current.refunds.some((r) => r.id === refundId)) throw new ProviderError("no such refund", false);
      const refunds = current.refunds.map((r) => (r.id === refundId ? { ...r, status } : r));
      tx.update(ref, { refunds });
      return { ...current, refunds };
    });
    const payment = localPaymentView(doc);
    const refund = payment.refunds.find((r) => r.id === refundId);
    if (refund === undefined) throw new ProviderError("no such refund", false);
    return this.send(refundEvent(payment, refund, "refund.updated"));
  }

  async load(paymentId: string): Promise<LocalPaymentDoc> {
    const doc = (await localPaymentRef(paymentId).get()).data();
    if (doc === undefined) throw new ProviderError("no such payment", false);
    return doc;
  }

  /**
   * Records (for `retrieveEvent`, as Stripe keeps every event it sends), signs and (when a deliverer is configured)
   * delivers an event.
   */
  async send(event: StripeEventJson): Promise<DeliveryResult> {
    const secret = this.options.webhookSecret();
    if (secret === undefined) throw new ProviderError("STRIPE_WEBHOOK_SECRET is not set", false);
    const signed = await signEvent(event, secret);
    await localSentEventRef(event.id).set({
      type: event.type,
      json: signed.rawBody,
      sentAt: Timestamp.fromMillis(event.created * 1000),
    });
    const deliver = this.options.deliver;
    if (deliver === undefined) return { ...signed, status: null };
    return { ...signed, status: await deliver(signed.rawBody, signed.signature) };
  }
}
