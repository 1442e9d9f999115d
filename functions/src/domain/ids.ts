/** Id rules and deterministic ids. Pure: only `node:crypto` for hashing. */
import { createHash } from "node:crypto";

/** Firestore-safe document id we mint or accept: 1–128 chars of [A-Za-z0-9_-], not `__…__`. */
export const DOC_ID_PATTERN = /^(?!__.*__$)[A-Za-z0-9_-]{1,128}$/;
/**
 * Firebase Auth uid: looser, but a single safe path segment, and well-formed text: a lone UTF-16 surrogate cannot
 * be encoded as UTF-8, so Firestore would name a different document than the one asked for (the read fails).
 */
export const UID_PATTERN =
  /^(?!__.*__$)(?!\.\.?$)(?!.*(?:[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]))[^/\s]{1,128}$/;

export const isDocId = (value: unknown): value is string =>
  typeof value === "string" && DOC_ID_PATTERN.test(value);
export const isUid = (value: unknown): value is string =>
  typeof value === "string" && UID_PATTERN.test(value);

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Checkout id for one client request: the same (uid, requestId) always names the same checkout. */
export function checkoutIdFor(uid: string, requestId: string): string {
  return sha256Hex(`checkout\u0000${uid}\u0000${requestId}`);
}

/**
 * Refund request id for one admin request: the same (student uid, requestId) always names the same refund request
 * (`refundRequests/{id}`), whichever admin sends it. Also the `refundRequest` metadata of the provider refund it makes.
 */
export function refundRequestIdFor(uid: string, requestId: string): string {
  return sha256Hex(`refund\u0000${uid}\u0000${requestId}`);
}

/**
 * Quiz attempt id for one student request (`users/{uid}/courses/{courseId}/quizAttempts/{id}`): the same
 * (uid, requestId) always names the same attempt, so a retry finds the attempt it repeats.
 */
export function quizAttemptIdFor(uid: string, requestId: string): string {
  return sha256Hex(`quizAttempt\u0000${uid}\u0000${requestId}`);
}

/** Ledger id of a manual payment. */
export function manualPaymentLedgerId(reference: string): string {
  return `manual_${reference}`;
}

/** Idempotency key of a refund request: (payment id, amount or "full", request id). */
export function refundIdempotencyKey(
  paymentId: string,
  amount: number | undefined,
  requestId: string,
): string {
  const amountKey = amount === undefined ? "full" : String(amount);
  return `refund:${paymentId}:${amountKey}:${requestId}`;
}

/** Ledger id of a refund applied directly (manual payments): deterministic from its idempotency key. */
export function manualRefundLedgerId(idempotencyKey: string): string {
  return `manualrefund_${sha256Hex(idempotencyKey).slice(0, 40)}`;
}

/** Short stable hash for provider-side ids (local provider). */
export function shortHash(text: string, length = 24): string {
  return sha256Hex(text).slice(0, length);
}
