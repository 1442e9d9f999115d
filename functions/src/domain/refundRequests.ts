/**
 * Refund requests: what a retry of a provider refund request may do. Pure.
 *
 * `refundPayment` records each provider refund request in `refundRequests/{id}` (id = hash of the student's uid and
 * the requestId, domain/ids `refundRequestIdFor`) in the transaction that takes its hold (domain/refundHolds),
 * before the provider is asked, as startPayment records a checkout before it creates the payment. The record, not
 * the provider's idempotency key, is what makes a retry safe at any age:
 *
 * - `answered` (the provider's refund, whatever its status) and `refused` (the provider or the backend said no) are
 *   final: a retry gets the stored answer and the provider is not asked again.
 * - `pending`: the provider was asked, or is about to be, and may or may not have made the refund (a crash or a
 *   timeout lost its answer). Within PROVIDER_KEY_WINDOW_MS of the request, a retry asks again with the same
 *   idempotency key and the provider answers with the same refund. Past it the provider may have forgotten the key
 *   (Stripe prunes keys once they are 24 h old), so a retry first asks the provider whether a refund of this
 *   request exists (every refund this backend makes carries the request id in its metadata): found → that is the
 *   answer; not found → no refund of this request exists and none is in flight (nothing runs for a day), so it is
 *   made now, with the same key.
 *
 * Holds and their TTL. A pending request's hold counts while it is live (HOLD_TTL_MS, longer than the key window)
 * and is re-taken, not trusted, after that: a request past the key window re-takes its hold only once the provider
 * said it has no refund of the request, in the transaction that checks what is still refundable (so the re-taken
 * hold can never exceed the payment; if nothing is left the request ends `refused`). A hold that expired while its
 * request stayed pending un-retried does not block the payment forever; if the provider did make that refund, the
 * webhook records it in the ledger and the provider's own bound refuses anything beyond the charge meanwhile.
 */

export const REFUND_REQUEST_STATUSES = ["pending", "answered", "refused"] as const;
export type RefundRequestStatus = (typeof REFUND_REQUEST_STATUSES)[number];

/**
 * How long after a request was recorded a repeated provider call with its idempotency key is answered with the same
 * result. Stripe keeps keys for at least 24 h from their first use, which is after the record was written; an hour
 * of margin.
 */
export const PROVIDER_KEY_WINDOW_MS = 23 * 3600 * 1000;

/** What names one refund: a retry must ask for exactly this again. */
export interface RefundRequestParams {
  uid: string;
  courseId: string;
  paymentId: string;
  /** Cents asked for; null = everything still refundable. */
  requestedAmount: number | null;
}

export interface StoredRefundRequest extends RefundRequestParams {
  status: RefundRequestStatus;
  /** When the request was recorded (ms since the epoch), before the provider was first asked. */
  createdAtMs: number;
}

export type RefundRequestDecision =
  /** No such request yet: take a hold and record it pending. */
  | { kind: "new" }
  /** The requestId was used for a different refund: refuse, change nothing. */
  | { kind: "conflict" }
  /** Final: answer what is stored. */
  | { kind: "answered" }
  | { kind: "refused" }
  /** Pending, and asking the provider with the same idempotency key cannot make a second refund: keep (or re-take) the hold and ask. */
  | { kind: "resume" }
  /** Pending past the provider's key window: ask the provider whether the refund exists before anything else. */
  | { kind: "lookup" };

export function sameRefundRequest(a: RefundRequestParams, b: RefundRequestParams): boolean {
  return (
    a.uid === b.uid &&
    a.courseId === b.courseId &&
    a.paymentId === b.paymentId &&
    a.requestedAmount === b.requestedAmount
  );
}

/**
 * What a (re)try of `params` does with the stored request. `providerChecked`: the provider was just asked and has
 * no refund of this request, so a pending one may be resumed at any age.
 */
export function decideRefundRequest(
  stored: StoredRefundRequest | undefined,
  params: RefundRequestParams,
  nowMs: number,
  providerChecked = false,
): RefundRequestDecision {
  if (stored === undefined) return { kind: "new" };
  if (!sameRefundRequest(stored, params)) return { kind: "conflict" };
  if (stored.status === "answered" || stored.status === "refused") return { kind: stored.status };
  if (providerChecked || nowMs - stored.createdAtMs < PROVIDER_KEY_WINDOW_MS) return { kind: "resume" };
  return { kind: "lookup" };
}

/** `answered` and `refused` are final: the first answer stands, whatever a concurrent retry hears later. */
export function isFinalRefundRequestStatus(status: RefundRequestStatus): boolean {
  return status !== "pending";
}
