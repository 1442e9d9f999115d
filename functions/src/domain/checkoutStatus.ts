/**
 * Checkout status transitions. `succeeded` and `canceled` are final: a `payment_failed` that arrives after
 * `succeeded` changes nothing. `failed` is not final: Stripe lets the customer retry the same payment intent.
 *
 *   creating ─provider created→ pending ─failed→ failed ─succeeded→ succeeded
 *        └──────────────────────────────┴─succeeded→ succeeded      (any non-final) ─canceled→ canceled
 */

export const CHECKOUT_STATUSES = ["creating", "pending", "succeeded", "failed", "canceled"] as const;
export type CheckoutStatus = (typeof CHECKOUT_STATUSES)[number];
export type CheckoutEvent = "provider-created" | "succeeded" | "failed" | "canceled";

export function isFinalCheckoutStatus(status: CheckoutStatus): boolean {
  return status === "succeeded" || status === "canceled";
}

/** True while a checkout may still be paid: a second tab may reuse it. */
export function isOpenCheckoutStatus(status: CheckoutStatus): boolean {
  return status === "creating" || status === "pending";
}

export function nextCheckoutStatus(current: CheckoutStatus, event: CheckoutEvent): CheckoutStatus {
  if (isFinalCheckoutStatus(current)) return current;
  switch (event) {
    case "provider-created":
      return current === "creating" ? "pending" : current;
    case "succeeded":
      return "succeeded";
    case "failed":
      return "failed";
    case "canceled":
      return "canceled";
  }
}

/**
 * A checkout that could still be paid (not final: Stripe keeps a failed payment intent confirmable) but is for
 * more than the enrollment owes now (a part payment or a manual one landed since it was created): paying it would
 * overpay, so startPayment cancels it instead of handing it out again.
 */
export function isStaleCheckout(
  checkout: { status: CheckoutStatus; amount: number },
  amountDue: number,
): boolean {
  return !isFinalCheckoutStatus(checkout.status) && checkout.amount > amountDue;
}
