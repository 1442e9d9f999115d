/**
 * Shapes of the Stripe webhook events the backend handles. Stripe objects carry many more fields than we
 * read, so these object schemas strip unknown keys instead of rejecting them (Stripe adds fields without
 * notice); what we read is bounded and typed.
 */
import { z } from "zod";
import { MAX_AMOUNT_CENTS } from "../domain/money";
import { currencySchema } from "./common";

/** Stripe object ids (evt_…, pi_…, re_…); never a Firestore-reserved `__x__` id, as they become document ids. */
export const providerIdSchema = z.string().regex(/^(?!__.*__$)[A-Za-z0-9_]{3,128}$/, "not a provider id");

export const HANDLED_EVENT_TYPES = [
  "payment_intent.succeeded",
  "payment_intent.payment_failed",
  "payment_intent.canceled",
  "charge.refunded",
  "refund.created",
  "refund.updated",
  "refund.failed",
  "charge.dispute.created",
  "charge.dispute.updated",
  "charge.dispute.funds_withdrawn",
  "charge.dispute.funds_reinstated",
  "charge.dispute.closed",
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "checkout.session.async_payment_failed",
  "checkout.session.expired",
] as const;
export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];

export function isHandledEventType(type: string): type is HandledEventType {
  return (HANDLED_EVENT_TYPES as readonly string[]).includes(type);
}

const amountSchema = z.int().min(0).max(MAX_AMOUNT_CENTS);

/** The metadata keys the backend reads; any other key is someone else's data and is dropped unread. */
export const READ_METADATA_KEYS = ["uid", "courseId", "checkoutId"] as const;

/**
 * Metadata is data: its keys are whatever a Dashboard user or another app on the account wrote (`constructor`,
 * `__proto__`, anything). Before anything else looks at a verified event, every `metadata` object in it is replaced
 * by a fresh one holding only READ_METADATA_KEYS, read as own properties: no key can reach a prototype, and an
 * unusual key never makes a genuine event malformed (which would have Stripe retry it for days). Everything else is
 * copied as it is (own enumerable keys), down to `maxDepth`.
 */
export function withReadMetadataOnly(value: unknown, maxDepth = 32, depth = 0): unknown {
  if (depth > maxDepth || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value))
    return value.map((item: unknown) => withReadMetadataOnly(item, maxDepth, depth + 1));
  const entries = Object.entries(value as Record<string, unknown>);
  return Object.fromEntries(
    entries.map(([key, item]) => [
      key,
      key === "metadata" && isRecord(item)
        ? readMetadataOnly(item)
        : withReadMetadataOnly(item, maxDepth, depth + 1),
    ]),
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readMetadataOnly(metadata: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    READ_METADATA_KEYS.filter((k) => Object.hasOwn(metadata, k)).map((k) => [k, metadata[k]]),
  );
}

/** Metadata values are strings in Stripe; we only read uid, courseId, checkoutId and validate them later. */
export const metadataSchema = z.record(z.string().max(500), z.string().max(500)).optional();

/** The envelope every event shares. */
export const eventEnvelopeSchema = z.object({
  id: providerIdSchema,
  object: z.literal("event"),
  type: z.string().min(1).max(100),
  created: z.int().nonnegative().optional(),
  livemode: z.boolean().optional(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

export const paymentIntentSchema = z.object({
  id: providerIdSchema,
  object: z.literal("payment_intent"),
  amount: amountSchema,
  amount_received: amountSchema.optional(),
  currency: currencySchema,
  status: z.string().max(50).optional(),
  metadata: metadataSchema,
});
export type PaymentIntentObject = z.infer<typeof paymentIntentSchema>;

/** A Refund, as listed in `charge.refunds.data` or as the object of a `refund.*` event. Only `succeeded` moves money. */
export const refundSchema = z.object({
  id: providerIdSchema,
  object: z.literal("refund").optional(),
  amount: amountSchema,
  currency: currencySchema,
  status: z.string().max(50).nullable().optional(),
  payment_intent: providerIdSchema.nullable().optional(),
  charge: providerIdSchema.nullable().optional(),
  metadata: metadataSchema,
});
export type RefundObject = z.infer<typeof refundSchema>;

/** The object of `refund.created` / `refund.updated`. */
export const refundEventObjectSchema = refundSchema.extend({ object: z.literal("refund") });

export const chargeSchema = z.object({
  id: providerIdSchema,
  object: z.literal("charge"),
  amount: amountSchema,
  amount_refunded: amountSchema.optional(),
  currency: currencySchema,
  payment_intent: providerIdSchema.nullable().optional(),
  metadata: metadataSchema,
  /** Absent since Stripe API 2022-11-15 (and at most 10 entries before): `refund.*` events carry each refund. */
  refunds: z
    .object({
      object: z.literal("list").optional(),
      data: z.array(refundSchema).max(100),
      has_more: z.boolean().optional(),
    })
    .nullable()
    .optional(),
});
export type ChargeObject = z.infer<typeof chargeSchema>;

export const disputeSchema = z.object({
  id: providerIdSchema,
  object: z.literal("dispute"),
  amount: amountSchema,
  currency: currencySchema,
  status: z.string().max(50),
  charge: providerIdSchema.nullable().optional(),
  payment_intent: providerIdSchema.nullable().optional(),
  metadata: metadataSchema,
  /** The dispute's balance movements: a withdrawal (< 0) and, once won, a reinstatement (> 0). */
  balance_transactions: z
    .array(z.object({ amount: z.int().min(-MAX_AMOUNT_CENTS).max(MAX_AMOUNT_CENTS) }))
    .max(20)
    .optional(),
});
export type DisputeObject = z.infer<typeof disputeSchema>;

/** A Checkout Session (the provider's hosted page). `payment_intent` exists once the customer has paid. */
export const checkoutSessionSchema = z.object({
  id: providerIdSchema,
  object: z.literal("checkout.session"),
  mode: z.string().max(50).optional(),
  amount_total: amountSchema.nullable(),
  currency: currencySchema.nullable(),
  payment_intent: providerIdSchema.nullable().optional(),
  payment_status: z.string().max(50),
  status: z.string().max(50).nullable().optional(),
  metadata: metadataSchema,
});
export type CheckoutSessionObject = z.infer<typeof checkoutSessionSchema>;

export type CheckoutSessionEventType =
  | "checkout.session.completed"
  | "checkout.session.async_payment_succeeded"
  | "checkout.session.async_payment_failed"
  | "checkout.session.expired";

export type ParsedWebhookEvent =
  | {
      id: string;
      type: "payment_intent.succeeded" | "payment_intent.payment_failed" | "payment_intent.canceled";
      object: PaymentIntentObject;
    }
  | { id: string; type: "charge.refunded"; object: ChargeObject }
  | { id: string; type: "refund.created" | "refund.updated" | "refund.failed"; object: RefundObject }
  | { id: string; type: DisputeEventType; object: DisputeObject }
  | { id: string; type: CheckoutSessionEventType; object: CheckoutSessionObject };

export type DisputeEventType =
  | "charge.dispute.created"
  | "charge.dispute.updated"
  | "charge.dispute.funds_withdrawn"
  | "charge.dispute.funds_reinstated"
  | "charge.dispute.closed";

export type WebhookParseResult =
  | { kind: "handled"; event: ParsedWebhookEvent }
  | { kind: "ignored"; id: string; type: string }
  | { kind: "malformed"; issues: string[] };

function issuesOf(error: z.ZodError): string[] {
  return error.issues.slice(0, 10).map((i) => `${i.path.join(".") || "(root)"}: ${i.code}`);
}

/** Parses a verified event body. Unknown event types are `ignored`; a bad shape of a handled type is `malformed`. */
export function parseWebhookEvent(body: unknown): WebhookParseResult {
  const envelope = eventEnvelopeSchema.safeParse(body);
  if (!envelope.success) return { kind: "malformed", issues: issuesOf(envelope.error) };
  const { id, type } = envelope.data;
  if (!isHandledEventType(type)) return { kind: "ignored", id, type };
  const raw = envelope.data.data.object;
  switch (type) {
    case "payment_intent.succeeded":
    case "payment_intent.payment_failed":
    case "payment_intent.canceled": {
      const parsed = paymentIntentSchema.safeParse(raw);
      return parsed.success
        ? { kind: "handled", event: { id, type, object: parsed.data } }
        : { kind: "malformed", issues: issuesOf(parsed.error) };
    }
    case "charge.refunded": {
      const parsed = chargeSchema.safeParse(raw);
      return parsed.success
        ? { kind: "handled", event: { id, type, object: parsed.data } }
        : { kind: "malformed", issues: issuesOf(parsed.error) };
    }
    case "refund.created":
    case "refund.updated":
    case "refund.failed": {
      const parsed = refundEventObjectSchema.safeParse(raw);
      return parsed.success
        ? { kind: "handled", event: { id, type, object: parsed.data } }
        : { kind: "malformed", issues: issuesOf(parsed.error) };
    }
    case "charge.dispute.created":
    case "charge.dispute.updated":
    case "charge.dispute.funds_withdrawn":
    case "charge.dispute.funds_reinstated":
    case "charge.dispute.closed": {
      const parsed = disputeSchema.safeParse(raw);
      return parsed.success
        ? { kind: "handled", event: { id, type, object: parsed.data } }
        : { kind: "malformed", issues: issuesOf(parsed.error) };
    }
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded":
    case "checkout.session.async_payment_failed":
    case "checkout.session.expired": {
      const parsed = checkoutSessionSchema.safeParse(raw);
      return parsed.success
        ? { kind: "handled", event: { id, type, object: parsed.data } }
        : { kind: "malformed", issues: issuesOf(parsed.error) };
    }
  }
}
