/**
 * startPayment. The checkout id is deterministic from (uid, requestId), and doubles as the provider
 * idempotency key, so a retried request always ends at the same provider payment:
 *
 *   tx 1: read enrollment + checkout. Exists → reuse it. Paying the remaining balance and the enrollment has an
 *         open checkout for the same amountDue → reuse THAT (two tabs, one payment). Else validate the amount
 *         and create the checkout as 'creating' (and remember it as the enrollment's openCheckout).
 *   provider.createPayment(idempotencyKey = checkout id)   — outside any transaction; safe to repeat
 *   tx 2: 'creating' → 'pending' with providerPaymentId and clientSecret (never moves a final status back).
 */
import { FieldValue } from "firebase-admin/firestore";
import { isOpenCheckoutStatus, nextCheckoutStatus, type CheckoutStatus } from "../domain/checkoutStatus";
import { checkoutIdFor } from "../domain/ids";
import { decidePaymentAmount } from "../domain/money";
import type { StartPaymentInput } from "../schemas/callables";
import { failedPrecondition, invalidArgument } from "../shared/errors";
import { logInfo } from "../shared/log";
import type { CheckoutDoc } from "./firestore/models";
import { refs, updateIn } from "./firestore/refs";
import { getPaymentProvider } from "./payments";
import { runTransaction } from "./firestore/transactions";

/** What startPayment needs of a checkout (no timestamps). */
type CheckoutView = Omit<CheckoutDoc, "createdAt" | "updatedAt">;

export interface StartPaymentResult {
  checkoutId: string;
  paymentId: string;
  clientSecret: string;
  amount: number;
  currency: string;
  status: CheckoutStatus;
}

const AMOUNT_MESSAGES = {
  "nothing-due": "Nothing is due for this course.",
  "exceeds-amount-due": "The amount exceeds the amount due.",
  "below-minimum": "The amount must be at least 1.",
} as const;

export async function startPayment(uid: string, input: StartPaymentInput): Promise<StartPaymentResult> {
  const provider = getPaymentProvider();
  const requestedCheckoutId = checkoutIdFor(uid, input.requestId);
  const enrollmentRef = refs.enrollment(uid, input.courseId);
  const requestedRef = refs.checkout(requestedCheckoutId);

  const chosen = await runTransaction(async (tx): Promise<{ id: string; checkout: CheckoutView }> => {
    const [enrollmentSnap, checkoutSnap] = await Promise.all([tx.get(enrollmentRef), tx.get(requestedRef)]);
    const own = checkoutSnap.data();
    if (own !== undefined) {
      if (
        own.uid !== uid ||
        own.courseId !== input.courseId ||
        (input.amount !== undefined && input.amount !== own.amount)
      ) {
        throw invalidArgument("This requestId was already used for a different payment.");
      }
      return { id: requestedCheckoutId, checkout: own };
    }
    const enrollment = enrollmentSnap.data();
    if (enrollment === undefined) throw failedPrecondition("Enroll in the course first.");

    if (
      input.amount === undefined &&
      enrollment.openCheckout !== null &&
      enrollment.openCheckout.amount === enrollment.amountDue
    ) {
      const openId = enrollment.openCheckout.checkoutId;
      const open = (await tx.get(refs.checkout(openId))).data();
      if (open !== undefined && open.uid === uid && isOpenCheckoutStatus(open.status))
        return { id: openId, checkout: open };
    }

    const decision = decidePaymentAmount(input.amount, enrollment.amountDue);
    if (!decision.ok) throw failedPrecondition(AMOUNT_MESSAGES[decision.reason]);
    const checkout = {
      uid,
      courseId: input.courseId,
      amount: decision.amount,
      currency: enrollment.currency,
      requestId: input.requestId,
      idempotencyKey: requestedCheckoutId,
      provider: provider.name,
      isRemainingBalance: input.amount === undefined,
      providerPaymentId: null,
      clientSecret: null,
      status: "creating" as const,
    };
    tx.create(requestedRef, {
      ...checkout,
      createdAt: FieldValue.serverTimestamp(),
      updatedAt: FieldValue.serverTimestamp(),
    });
    if (input.amount === undefined) {
      updateIn(tx, enrollmentRef, {
        openCheckout: { checkoutId: requestedCheckoutId, amount: decision.amount },
        updatedAt: FieldValue.serverTimestamp(),
      });
    }
    return { id: requestedCheckoutId, checkout };
  });

  const { id, checkout } = chosen;
  if (checkout.providerPaymentId !== null && checkout.clientSecret !== null) {
    return result(id, checkout, checkout.providerPaymentId, checkout.clientSecret, checkout.status);
  }

  // 'creating' (new, or a retry after a crash / provider error): same idempotency key → same provider payment.
  const created = await provider.createPayment({
    amount: checkout.amount,
    currency: checkout.currency,
    idempotencyKey: checkout.idempotencyKey,
    metadata: { uid, courseId: checkout.courseId, checkoutId: id },
  });
  const checkoutRef = refs.checkout(id);
  const status = await runTransaction(async (tx) => {
    const current = (await tx.get(checkoutRef)).data();
    if (current === undefined) throw new Error("checkout vanished");
    const next = nextCheckoutStatus(current.status, "provider-created");
    if (current.providerPaymentId === null || next !== current.status) {
      updateIn(tx, checkoutRef, {
        status: next,
        providerPaymentId: created.paymentId,
        clientSecret: created.clientSecret,
        updatedAt: FieldValue.serverTimestamp(),
      });
    }
    return next;
  });
  logInfo("payment started", {
    uid,
    courseId: checkout.courseId,
    checkoutId: id,
    paymentId: created.paymentId,
  });
  return result(id, checkout, created.paymentId, created.clientSecret, status);
}

function result(
  checkoutId: string,
  checkout: CheckoutView,
  paymentId: string,
  clientSecret: string,
  status: CheckoutStatus,
): StartPaymentResult {
  return {
    checkoutId,
    paymentId,
    clientSecret,
    amount: checkout.amount,
    currency: checkout.currency,
    status,
  };
}
