/**
 * The local provider's own documents: its "payment intents" in the server-only collection `localProvider`
 * (firestore.rules denies clients), keyed by payment id. Only the local provider reads or writes them.
 */
import { FieldPath, Timestamp, type DocumentReference, type Query } from "firebase-admin/firestore";
import { z } from "zod";
import { firestore } from "../../../shared/admin";
import { cents, timestamp } from "../../firestore/models";
import { converter } from "../../firestore/refs";

export const LOCAL_PROVIDER_COLLECTION = "localProvider";

export const localRefundSchema = z.object({
  id: z.string(),
  amount: cents.positive(),
  idempotencyKey: z.string(),
  status: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
});

export const localPaymentDocSchema = z.object({
  id: z.string(),
  chargeId: z.string(),
  amount: cents.positive(),
  currency: z.string(),
  idempotencyKey: z.string(),
  clientSecret: z.string(),
  metadata: z.record(z.string(), z.string()),
  status: z.enum(["requires_payment_method", "succeeded", "canceled"]),
  refunds: z.array(localRefundSchema),
  /** When the payment is made through a hosted checkout page (a Checkout Session) rather than by the app. */
  session: z
    .object({ id: z.string(), url: z.string(), status: z.enum(["open", "complete", "expired"]) })
    .nullable()
    .optional(),
  createdAt: timestamp,
});
export type LocalPaymentDoc = z.infer<typeof localPaymentDocSchema>;

const localPaymentConverter = converter<LocalPaymentDoc>(localPaymentDocSchema);

export function localPaymentRef(paymentId: string): DocumentReference<LocalPaymentDoc> {
  return firestore()
    .collection(LOCAL_PROVIDER_COLLECTION)
    .doc(paymentId)
    .withConverter(localPaymentConverter);
}

/** The local payment whose charge is `chargeId` (refunds and disputes may name the charge instead of the payment). */
export function localPaymentsByChargeId(chargeId: string): Query<LocalPaymentDoc> {
  return firestore()
    .collection(LOCAL_PROVIDER_COLLECTION)
    .where("chargeId", "==", chargeId)
    .limit(1)
    .withConverter(localPaymentConverter);
}

/** The local payment a hosted checkout page (session) pays. */
export function localPaymentsBySessionId(sessionId: string): Query<LocalPaymentDoc> {
  return firestore()
    .collection(LOCAL_PROVIDER_COLLECTION)
    .where("session.id", "==", sessionId)
    .limit(1)
    .withConverter(localPaymentConverter);
}

/**
 * `localProvider/sentEvents/events/{eventId}`: every event the local provider sent, as sent (its JSON), so it can
 * answer `retrieveEvent` as Stripe answers `GET /v1/events/{id}`. Under `localProvider` (server only), in a
 * subcollection so that listing the provider's payments never sees them.
 */
export const localSentEventSchema = z.object({ type: z.string(), json: z.string(), sentAt: timestamp });
export type LocalSentEventDoc = z.infer<typeof localSentEventSchema>;

export function localSentEventRef(eventId: string): DocumentReference<LocalSentEventDoc> {
  return firestore()
    .collection(LOCAL_PROVIDER_COLLECTION)
    .doc("sentEvents")
    .collection("events")
    .doc(eventId)
    .withConverter(converter<LocalSentEventDoc>(localSentEventSchema));
}

/** The sent events created in [fromMs, toMs), newest first (then by id, descending), at most `limit`. */
export function localSentEventsBetween(
  fromMs: number,
  toMs: number,
  limit: number,
): Query<LocalSentEventDoc> {
  return firestore()
    .collection(LOCAL_PROVIDER_COLLECTION)
    .doc("sentEvents")
    .collection("events")
    .where("sentAt", ">=", Timestamp.fromMillis(fromMs))
    .where("sentAt", "<", Timestamp.fromMillis(toMs))
    .orderBy("sentAt", "desc")
    .orderBy(FieldPath.documentId(), "desc")
    .limit(limit)
    .withConverter(converter<LocalSentEventDoc>(localSentEventSchema));
}
