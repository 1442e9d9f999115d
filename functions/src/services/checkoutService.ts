/**
 * startPayment. The checkout id is deterministic from (uid, requestId), and doubles as the provider
 * idempotency key, so a retried request always ends at the same provider payment:
 *
 *   tx 1: read enrollment + checkout. Exists → reuse it (an alias → the checkout it joined). Paying the remaining
 *         balance and the enrollment has an open checkout for the same amountDue → reuse THAT (two tabs, one
 *         payment) and record this request as an alias of it, so a retry of this requestId returns the same
 *         payment even after it completed. Else validate the amount and create the checkout as 'creating' (and
 *         remember it as the enrollment's openCheckout).
 *   provider.createPayment(idempotencyKey = checkout id)   — outside any transaction; safe to repeat.
 *         A transient provider error leaves the checkout 'creating' for a retry; a permanent one moves it to
 *         'failed', clears the enrollment's openCheckout if it points at it, and answers failed-precondition.
 *   tx 2: 'creating' → 'pending' with providerPaymentId and clientSecret (never moves a final status back).
 */
import { FieldValue, type DocumentReference } from "firebase-admin/firestore";
import { isOpenCheckoutStatus, nextCheckoutStatus, type CheckoutStatus } from "../domain/checkoutStatus";
import { checkoutIdFor } from "../domain/ids";
import { decidePaymentAmount, minimumChargeCents, type PaymentAmountDecision } from "../domain/money";
import type { StartPaymentInput } from "../schemas/callables";
import { ProviderError, failedPrecondition, invalidArgument } from "../shared/errors";
import { logInfo, logWarn } from "../shared/log";
import type { CheckoutDoc } from "./firestore/models";
import { refs, updateIn } from "./firestore/refs";
import { getPaymentProvider } from "./payments";
import type { CreatedPayment } from "./payments/provider";
import { runTransaction } from "./firestore/transactions";

/** What startPayment needs of a checkout (no timestamps). */
type CheckoutView = Omit<CheckoutDoc, "createdAt" | "updatedAt" | "aliasOf">;

export interface StartPaymentResult {
  checkoutId: string;
  paymentId: string;
  clientSecret: string;
  amount: number;
  currency: string;
  status: CheckoutStatus;
}

function amountMessage(reason: Extract<PaymentAmountDecision, { ok: false }>["reason"], currency: string) {
  switch (reason) {
    case "nothing-due":
      return "Nothing is due for this course.";
    case "exceeds-amount-due":
      return "The amount exceeds the amount due.";
    case "below-minimum":
      return "The amount must be at least 1.";
    case "below-minimum-charge":
      return `The amount is below the minimum charge (${minimumChargeCents(currency)} minor units of ${currency}).`;
  }
}

export async function startPayment(uid: string, input: StartPaymentInput): Promise<StartPaymentResult> {
  const provider = await getPaymentProvider();
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
      if (own.aliasOf === undefined || own.aliasOf === null)
        return { id: requestedCheckoutId, checkout: own };
      const joined = (await tx.get(refs.checkout(own.aliasOf))).data();
      if (joined === undefined) throw new Error("aliased checkout vanished");
      return { id: own.aliasOf, checkout: joined };
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
      if (open !== undefined && open.uid === uid && isOpenCheckoutStatus(open.status)) {
        // This request joins that checkout; the alias keeps "same requestId ⇒ same payment" true for it too.
        // Its own status and payment fields are never maintained: readers follow `aliasOf`.
        tx.create(requestedRef, {
          uid,
          courseId: input.courseId,
          amount: open.amount,
          currency: open.currency,
          requestId: input.requestId,
          idempotencyKey: open.idempotencyKey,
          provider: open.provider,
          isRemainingBalance: true,
          providerPaymentId: null,
          clientSecret: null,
          status: open.status,
          aliasOf: openId,
          createdAt: FieldValue.serverTimestamp(),
          updatedAt: FieldValue.serverTimestamp(),
        });
        return { id: openId, checkout: open };
      }
    }

    const decision = decidePaymentAmount(input.amount, enrollment.amountDue, enrollment.currency);
    if (!decision.ok) throw failedPrecondition(amountMessage(decision.reason, enrollment.currency));
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
  const checkoutRef = refs.checkout(id);
  let created: CreatedPayment;
  try {
    created = await provider.createPayment({
      amount: checkout.amount,
      currency: checkout.currency,
      idempotencyKey: checkout.idempotencyKey,
      metadata: { uid, courseId: checkout.courseId, checkoutId: id },
    });
  } catch (error) {
    if (!(error instanceof ProviderError) || error.transient) throw error;
    await failUncreatedCheckout(checkoutRef);
    logWarn("provider refused to create the payment", { uid, courseId: checkout.courseId, checkoutId: id });
    throw failedPrecondition("The payment provider refused this payment.");
  }
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

/**
 * After a permanent provider error: a checkout the provider never created moves to 'failed' (not open, so no
 * second tab joins it) and stops being the enrollment's openCheckout. A checkout that did get its payment meanwhile
 * (a concurrent request) is left alone.
 */
async function failUncreatedCheckout(checkoutRef: DocumentReference<CheckoutDoc>): Promise<void> {
  await runTransaction(async (tx) => {
    const current = (await tx.get(checkoutRef)).data();
    if (current?.status !== "creating" || current.providerPaymentId !== null) return;
    const enrollmentRef = refs.enrollment(current.uid, current.courseId);
    const enrollment = (await tx.get(enrollmentRef)).data();
    updateIn(tx, checkoutRef, {
      status: nextCheckoutStatus(current.status, "failed"),
      updatedAt: FieldValue.serverTimestamp(),
    });
    if (enrollment?.openCheckout?.checkoutId === checkoutRef.id) {
      updateIn(tx, enrollmentRef, { openCheckout: null, updatedAt: FieldValue.serverTimestamp() });
    }
  });
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
