/**
 * Refund holds: what provider refunds that are asked for but not yet in the ledger take from a payment. Pure.
 *
 * A provider refund reaches the ledger only when its webhook arrives (a refund may stay `pending` for days), so
 * "payment − refunds in the ledger" alone would let two concurrent refund requests each take the whole payment
 * before either is recorded; the provider's own bound would refuse the second, but only after the backend had
 * asked. So `refundPayment` holds the amount, in the transaction that checks it, before it calls the provider:
 * what may still be refunded is the payment minus its recorded refunds, its lost disputes and the live holds.
 *
 * A hold ends when its refund is in the ledger (the next refund request of the payment drops it), when the provider
 * refuses or fails the refund, or after HOLD_TTL_MS (a crashed request that was never retried must not block the
 * payment forever). The TTL is not what makes a retry safe: the request's record is (domain/refundRequests). A
 * request still pending past the provider's key window (shorter than the TTL) re-takes its hold, against what is
 * then refundable, only after the provider said it has no refund of the request.
 */

export const HOLD_TTL_MS = 24 * 3600 * 1000;

export interface RefundHold {
  /** Cents held (> 0). */
  amount: number;
  /** The provider's refund id once it answered; null while the request is in flight. */
  refundId: string | null;
  /** When the hold was taken (ms since the epoch). */
  heldAtMs: number;
}

/**
 * The holds that still count at `nowMs`: not expired, and not for a refund the ledger already records (that
 * refund counts through the ledger; counting its hold too would refuse money that is still refundable).
 */
export function liveHolds(
  holds: Readonly<Record<string, RefundHold>>,
  nowMs: number,
  inLedger: (refundId: string) => boolean,
): Record<string, RefundHold> {
  const live: Record<string, RefundHold> = {};
  for (const [key, hold] of Object.entries(holds)) {
    if (nowMs - hold.heldAtMs >= HOLD_TTL_MS) continue;
    if (hold.refundId !== null && inLedger(hold.refundId)) continue;
    live[key] = hold;
  }
  return live;
}

/** Cents held by the holds other than `exceptKey`. */
export function heldAmount(holds: Readonly<Record<string, RefundHold>>, exceptKey?: string): number {
  let sum = 0;
  for (const [key, hold] of Object.entries(holds)) if (key !== exceptKey) sum += hold.amount;
  return sum;
}
