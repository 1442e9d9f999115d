/**
 * startPayment. The checkout id is deterministic from (uid, requestId), and doubles as the provider
 * idempotency key, so a retried request always ends at the same provider payment:
 *
 *   tx 1: read enrollment + checkout. Exists → reuse it (an alias → the checkout it joined), unless it is stale: not
 *         final and for more than is owed now (a part or manual payment landed since) — then it is canceled at the
 *         provider and the request answered failed-precondition, so an old checkout is never paid on top of the
 *         balance. Paying a balance amount (amount omitted — the remaining balance, or on an installment plan the
 *         installment due — or equal to one of those) and the enrollment has an open checkout for the same amount
 *         → reuse THAT (two tabs, one payment) and record this request as an alias of it, so a retry of this
 *         requestId returns the same payment even after it completed. Else check the
 *         per-user limits (the user's rate-limit window, the enrollment's unfinished checkouts), validate the amount
 *         and create the checkout as 'creating' (and make a balance checkout the enrollment's openCheckout; the one
 *         it replaces is remembered in `replaces`).
 *   cancel the replaced checkout at the provider — before this one's payment exists, so the student never holds
 *         two payable balance payments. If the replaced one was paid meanwhile, this checkout is canceled instead
 *         and the request answered failed-precondition. Repeated by a retry until the replaced one is final.
 *   provider.createPayment(idempotencyKey = checkout id)   — outside any transaction; safe to repeat.
 *         A transient provider error leaves the checkout 'creating' for a retry; a permanent one moves it to
 *         'failed', clears the enrollment's openCheckout if it points at it, and answers failed-precondition.
 *   tx 2: 'creating' → 'pending' with providerPaymentId and clientSecret (never moves a final status back; a
 *         checkout canceled meanwhile has its new payment canceled too).
 */
import type { StartCheckoutSessionResponse, StartPaymentResponse } from "../api";
import { FieldValue, Timestamp, type DocumentReference, type Transaction } from "firebase-admin/firestore";
import {
  isFinalCheckoutStatus,
  isOpenCheckoutStatus,
  isStaleCheckout,
  nextCheckoutStatus,
  type CheckoutStatus,
} from "../domain/checkoutStatus";
import { checkoutIdFor } from "../domain/ids";
import {
  decidePaymentAmount,
  maxChargeMinorUnits,
  minimumChargeCents,
  type PaymentAmountDecision,
} from "../domain/money";
import { decideRate } from "../domain/rateLimit";
import { planPaymentAmount, storedSchedule } from "../domain/installments";
import { deriveStatus } from "../domain/statusPolicy";
import type { StartCheckoutSessionInput, StartPaymentInput } from "../schemas/callables";
import { checkoutRedirectOrigins, maxOpenCheckouts, startPaymentRateLimit } from "../shared/config";
import { ProviderError, failedPrecondition, invalidArgument, resourceExhausted } from "../shared/errors";
import { logInfo, logWarn } from "../shared/log";
import type { CheckoutDoc, EnrollmentDoc } from "./firestore/models";
import { openCheckoutsOf, refs, updateIn } from "./firestore/refs";
import { getPaymentProvider } from "./payments";
import type { PaymentProvider } from "./payments/provider";
import { runTransaction } from "./firestore/transactions";

/** What startPayment needs of a checkout (no timestamps). */
type CheckoutView = Omit<CheckoutDoc, "createdAt" | "updatedAt" | "aliasOf">;

function amountMessage(reason: Extract<PaymentAmountDecision, { ok: false }>["reason"], currency: string) {
  switch (reason) {
    case "nothing-due":
      return "Nothing is due for this course.";
    case "exceeds-amount-due":
      return "The amount exceeds the amount due.";
    case "below-minimum":
      return "The amount must be at least 1.";
    case "above-maximum-charge":
      return `The amount is above the largest single charge (${maxChargeMinorUnits(currency)} minor units of ${currency}); pay in parts.`;
    case "not-representable":
      return `Amounts in ${currency} must be whole hundredths (the last of its three decimals 0).`;
    case "below-minimum-charge":
      return `The amount is below the minimum charge (${minimumChargeCents(currency)} minor units of ${currency}).`;
  }
}

type CheckoutKind = "intent" | "session";

/** One startPayment (payment intent) or startCheckoutSession (hosted page) request, as every step sees it. */
interface PaymentRequest {
  uid: string;
  input: StartPaymentInput;
  kind: CheckoutKind;
  /** For a hosted page: where it sends the student back. */
  redirect?: { successUrl: string; cancelUrl: string };
  /** The checkout id (uid, requestId) names, and the provider idempotency key of a checkout created for it. */
  checkoutId: string;
  provider: PaymentProvider;
}

/** What the provider made for a checkout: a payment intent the app confirms, or a hosted page. */
type ProviderObject =
  | { kind: "intent"; paymentId: string; clientSecret: string }
  | { kind: "session"; sessionId: string; url: string };

const kindOf = (checkout: Pick<CheckoutDoc, "kind">): CheckoutKind => checkout.kind ?? "intent";

/** The provider object a checkout already has, or null while it is being created. */
function providerObjectOf(checkout: CheckoutView): ProviderObject | null {
  if (kindOf(checkout) === "session") {
    const { providerSessionId, sessionUrl } = checkout;
    return providerSessionId == null || sessionUrl == null
      ? null
      : { kind: "session", sessionId: providerSessionId, url: sessionUrl };
  }
  return checkout.providerPaymentId === null || checkout.clientSecret === null
    ? null
    : { kind: "intent", paymentId: checkout.providerPaymentId, clientSecret: checkout.clientSecret };
}

/** The checkout this request pays through: its own, or the open one it joined. */
interface ChosenCheckout {
  id: string;
  checkout: CheckoutView;
  /** True when it is for more than is owed now and must be canceled instead of paid (see isStaleCheckout). */
  stale?: boolean;
}

export async function startPayment(uid: string, input: StartPaymentInput): Promise<StartPaymentResponse> {
  const started = await startCheckout({
    uid,
    input,
    kind: "intent",
    checkoutId: checkoutIdFor(uid, input.requestId),
    provider: await getPaymentProvider(),
  });
  if (started.object.kind !== "intent") throw new Error("startPayment made a hosted page");
  const { id, checkout, object, status } = started;
  return {
    checkoutId: id,
    paymentId: object.paymentId,
    clientSecret: object.clientSecret,
    amount: checkout.amount,
    currency: checkout.currency,
    status,
  };
}

/**
 * startCheckoutSession: the same checkout rules, paid on the provider's hosted page. The checkout's payment id is
 * learnt when the page's payment is applied (Stripe creates the payment intent only when the student pays).
 */
export async function startCheckoutSession(
  uid: string,
  input: StartCheckoutSessionInput,
): Promise<StartCheckoutSessionResponse> {
  const { successUrl, cancelUrl, ...payment } = input;
  refuseForeignRedirects([successUrl, cancelUrl]);
  const started = await startCheckout({
    uid,
    input: payment,
    kind: "session",
    redirect: { successUrl, cancelUrl },
    checkoutId: checkoutIdFor(uid, input.requestId),
    provider: await getPaymentProvider(),
  });
  if (started.object.kind !== "session") throw new Error("startCheckoutSession made a payment intent");
  const { id, checkout, object, status } = started;
  return {
    checkoutId: id,
    sessionId: object.sessionId,
    url: object.url,
    amount: checkout.amount,
    currency: checkout.currency,
    status,
  };
}

/** With CHECKOUT_REDIRECT_ORIGINS set, the hosted page may send students back to those origins only. */
function refuseForeignRedirects(urls: readonly string[]): void {
  const allowed = checkoutRedirectOrigins();
  if (allowed.length === 0) return;
  for (const url of urls) {
    if (!allowed.includes(new URL(url).origin))
      throw invalidArgument("successUrl and cancelUrl must be on an origin of this app.", { url });
  }
}

/** The steps both callables share (see the top of this file). */
async function startCheckout(
  request: PaymentRequest,
): Promise<{ id: string; checkout: CheckoutView; object: ProviderObject; status: CheckoutStatus }> {
  const { uid, provider } = request;
  const { id, checkout, stale } = await runTransaction((tx) => chooseCheckout(tx, request));
  if (stale === true) {
    const canceled = await cancelCheckout(provider, id);
    logInfo("stale checkout", { uid, courseId: checkout.courseId, checkoutId: id, canceled });
    throw failedPrecondition(
      canceled
        ? "This payment was for more than is now owed and has been canceled; start a new payment."
        : "This payment is for more than is now owed and is already being processed.",
      { checkoutId: id, canceled },
    );
  }
  if (checkout.status === "canceled") throw canceledCheckout(id);
  const existing = providerObjectOf(checkout);
  if (existing !== null) return { id, checkout, object: existing, status: checkout.status };
  // 'creating' (new, or a retry after a crash / provider error): same idempotency key → same provider object.
  await cancelReplacedCheckout(request, id, checkout);
  const created = await createProviderObject(request, id, checkout);
  const status = await runTransaction((tx) => recordProviderObject(tx, refs.checkout(id), created));
  if (status === "canceled") {
    // Canceled while its payment was being created (it was replaced or found stale meanwhile): nobody may pay it.
    await cancelProviderObject(provider, created, cancelKeyOf(checkout));
    throw canceledCheckout(id);
  }
  logInfo("payment started", {
    uid,
    courseId: checkout.courseId,
    checkoutId: id,
    ...(created.kind === "intent" ? { paymentId: created.paymentId } : { sessionId: created.sessionId }),
  });
  return { id, checkout, object: created, status };
}

/** What nobody must be able to pay: a payment intent, or a hosted page. */
type Payable = { kind: "intent"; paymentId: string } | { kind: "session"; sessionId: string };

/** What to cancel at the provider for a checkout: its payment intent once known, else its hosted page, if any. */
function payableOf(checkout: CheckoutView): Payable | null {
  if (checkout.providerPaymentId !== null) return { kind: "intent", paymentId: checkout.providerPaymentId };
  return checkout.providerSessionId == null
    ? null
    : { kind: "session", sessionId: checkout.providerSessionId };
}

/** Makes nobody able to pay `object`: cancels a payment intent, expires a hosted page. */
function cancelProviderObject(provider: PaymentProvider, object: Payable, idempotencyKey: string) {
  return object.kind === "intent"
    ? provider.cancelPayment({ paymentId: object.paymentId, idempotencyKey })
    : provider.expireCheckoutSession({ sessionId: object.sessionId, idempotencyKey });
}

function canceledCheckout(checkoutId: string) {
  return failedPrecondition("This payment was canceled; start a new payment.", {
    checkoutId,
    canceled: true,
  });
}

/** The provider idempotency key of canceling a checkout's payment. */
function cancelKeyOf(checkout: Pick<CheckoutView, "idempotencyKey">): string {
  return `cancel_${checkout.idempotencyKey}`;
}

/** Transaction 1: this request's checkout if it exists, else the open one it may join, else a new one. */
async function chooseCheckout(tx: Transaction, request: PaymentRequest): Promise<ChosenCheckout> {
  const { uid, input } = request;
  const enrollmentRef = refs.enrollment(uid, input.courseId);
  const [enrollmentSnap, checkoutSnap] = await Promise.all([
    tx.get(enrollmentRef),
    tx.get(refs.checkout(request.checkoutId)),
  ]);
  const own = checkoutSnap.data();
  const enrollment = enrollmentSnap.data();
  if (own !== undefined) {
    const chosen = await reuseOwnCheckout(tx, request, own);
    const stale =
      enrollment !== undefined && isStaleCheckout(chosen.checkout, deriveStatus(enrollment).amountDue);
    return stale ? { ...chosen, stale } : chosen;
  }
  if (enrollment === undefined) throw failedPrecondition("Enroll in the course first.");
  const joined = await joinOpenCheckout(tx, request, enrollment);
  if (joined !== undefined) return joined;
  // Only a new provider payment counts against the limits: retries and joins neither read nor lock them.
  const rateRef = refs.rateLimit("startPayment", uid);
  const [rateSnap] = await Promise.all([
    tx.get(rateRef),
    refuseTooManyOpenCheckouts(tx, uid, input.courseId),
  ]);
  const rule = startPaymentRateLimit();
  const nowMs = Date.now();
  const rate = decideRate(rule, nowMs, rateSnap.data());
  if (!rate.ok) {
    logWarn("startPayment rate limit", { uid, retryAfterSeconds: rate.retryAfterSeconds });
    throw resourceExhausted(`Too many payments started; retry in ${rate.retryAfterSeconds} s.`, {
      retryAfterSeconds: rate.retryAfterSeconds,
    });
  }
  tx.set(rateRef, { ...rate.next, expireAt: Timestamp.fromMillis(rate.next.windowStartMs + rule.windowMs) });
  return createCheckout(tx, request, enrollment);
}

/** Checkouts younger than this that are still open count against MAX_OPEN_CHECKOUTS. */
const OPEN_CHECKOUT_COUNT_WINDOW_MS = 24 * 3600 * 1000;

/**
 * At most MAX_OPEN_CHECKOUTS unfinished checkouts of this enrollment from the last 24 h (aliases of joined requests
 * are not checkouts of their own). Read in the transaction, so two concurrent requests cannot both take the last.
 */
async function refuseTooManyOpenCheckouts(tx: Transaction, uid: string, courseId: string): Promise<void> {
  const cap = maxOpenCheckouts();
  const since = Timestamp.fromMillis(Date.now() - OPEN_CHECKOUT_COUNT_WINDOW_MS);
  const open = (await tx.get(openCheckoutsOf(uid, courseId, since, cap))).size;
  if (open >= cap) {
    throw failedPrecondition(
      `At most ${cap} unfinished payments per course: complete or abandon one, or retry its requestId.`,
      { openCheckouts: open },
    );
  }
}

/** A retry of the same requestId: the same checkout (or, for an alias, the checkout it joined). */
async function reuseOwnCheckout(
  tx: Transaction,
  request: PaymentRequest,
  own: CheckoutDoc,
): Promise<ChosenCheckout> {
  const { uid, input } = request;
  if (
    own.uid !== uid ||
    own.courseId !== input.courseId ||
    kindOf(own) !== request.kind ||
    (input.amount !== undefined && input.amount !== own.amount)
  ) {
    throw invalidArgument("This requestId was already used for a different payment.");
  }
  if (own.aliasOf === undefined || own.aliasOf === null) return { id: request.checkoutId, checkout: own };
  const joined = (await tx.get(refs.checkout(own.aliasOf))).data();
  if (joined === undefined) throw new Error("aliased checkout vanished");
  return { id: own.aliasOf, checkout: joined };
}

/**
 * Two tabs paying the remaining balance (or, on a plan, the installment due): when the enrollment's open checkout is
 * for exactly the amount this request pays, this request joins it and is recorded as its alias, so "same requestId
 * ⇒ same payment" holds for it too. The alias's own status and payment fields are never maintained: readers follow
 * `aliasOf`. Undefined when there is nothing to join.
 */
async function joinOpenCheckout(
  tx: Transaction,
  request: PaymentRequest,
  enrollment: EnrollmentDoc,
): Promise<ChosenCheckout | undefined> {
  const { uid, input } = request;
  const openCheckout = enrollment.openCheckout;
  // An explicit amount equal to a balance amount is a balance payment too: it joins like an omitted one.
  const amount = input.amount ?? defaultAmountOf(enrollment);
  if (!isBalanceAmount(enrollment, amount) || openCheckout === null || openCheckout.amount !== amount)
    return undefined;
  const open = (await tx.get(refs.checkout(openCheckout.checkoutId))).data();
  // A tab paying in the app does not join a hosted page, nor the other way round: it replaces it.
  if (open === undefined || open.uid !== uid || !isOpenCheckoutStatus(open.status)) return undefined;
  if (kindOf(open) !== request.kind) return undefined;
  tx.create(refs.checkout(request.checkoutId), {
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
    aliasOf: openCheckout.checkoutId,
    kind: request.kind,
    createdAt: FieldValue.serverTimestamp(),
    updatedAt: FieldValue.serverTimestamp(),
  });
  return { id: openCheckout.checkoutId, checkout: open };
}

/**
 * What a payment with no amount pays: the whole remaining balance, or on an installment plan what is due now
 * (everything overdue, else the next open installment; domain/installments). A checkout for exactly this amount is
 * the enrollment's "default" one (`isRemainingBalance`, `openCheckout`) that a second tab joins.
 */
function defaultAmountOf(enrollment: EnrollmentDoc): number {
  const schedule = storedSchedule(enrollment.installments);
  const { deadlinesPassed = 0, amountPaid, amountDue, currency } = enrollment;
  if (schedule.length === 0) return amountDue;
  return planPaymentAmount(schedule, deadlinesPassed, amountPaid, amountDue, currency) ?? amountDue;
}

/**
 * A "balance" payment, of which an enrollment has at most one open checkout (`openCheckout`: a second tab joins it,
 * a newer one replaces it): the whole remaining balance, or what a payment with no amount pays (on a plan, the
 * installment due). Both on a plan: a tab paying the installment and one paying everything never both stay payable.
 */
function isBalanceAmount(enrollment: EnrollmentDoc, amount: number): boolean {
  return amount === enrollment.amountDue || amount === defaultAmountOf(enrollment);
}

/**
 * A new checkout in 'creating', for an amount the money rules allow; a remaining-balance one becomes the open one,
 * and names the open checkout it replaces (if any) so that one is canceled before this one's payment is created.
 */
function createCheckout(tx: Transaction, request: PaymentRequest, enrollment: EnrollmentDoc): ChosenCheckout {
  const { uid, input, checkoutId } = request;
  const defaultAmount = defaultAmountOf(enrollment);
  const decision = decidePaymentAmount(
    input.amount ?? defaultAmount,
    enrollment.amountDue,
    enrollment.currency,
  );
  if (!decision.ok) throw failedPrecondition(amountMessage(decision.reason, enrollment.currency));
  const checkout: CheckoutView = {
    uid,
    courseId: input.courseId,
    amount: decision.amount,
    currency: enrollment.currency,
    requestId: input.requestId,
    idempotencyKey: checkoutId,
    provider: request.provider.name,
    isRemainingBalance: isBalanceAmount(enrollment, decision.amount),
    providerPaymentId: null,
    clientSecret: null,
    status: "creating",
    kind: request.kind,
    ...(request.kind === "session" ? { providerSessionId: null, sessionUrl: null } : {}),
  };
  const replaced = enrollment.openCheckout?.checkoutId;
  if (checkout.isRemainingBalance && replaced !== undefined && replaced !== checkoutId)
    checkout.replaces = replaced;
  tx.create(refs.checkout(checkoutId), {
    ...checkout,
    aliasOf: null,
    createdAt: FieldValue.serverTimestamp(),
    updatedAt: FieldValue.serverTimestamp(),
  });
  if (checkout.isRemainingBalance) {
    updateIn(tx, refs.enrollment(uid, input.courseId), {
      openCheckout: { checkoutId, amount: decision.amount },
      updatedAt: FieldValue.serverTimestamp(),
    });
  }
  return { id: checkoutId, checkout };
}

/**
 * The provider call, outside any transaction and safe to repeat (idempotency key = the checkout's). A transient
 * error propagates (the client retries the same requestId); a permanent one fails the checkout.
 */
async function createProviderObject(
  request: PaymentRequest,
  checkoutId: string,
  checkout: CheckoutView,
): Promise<ProviderObject> {
  const params = {
    amount: checkout.amount,
    currency: checkout.currency,
    idempotencyKey: checkout.idempotencyKey,
    metadata: { uid: request.uid, courseId: checkout.courseId, checkoutId },
  };
  try {
    if (request.kind === "intent")
      return { kind: "intent", ...(await request.provider.createPayment(params)) };
    if (request.redirect === undefined) throw new Error("a hosted page without its redirects");
    const course = (await refs.course(checkout.courseId).get()).data();
    const session = await request.provider.createCheckoutSession({
      ...params,
      ...request.redirect,
      description: course?.title ?? checkout.courseId,
    });
    return { kind: "session", sessionId: session.sessionId, url: session.url };
  } catch (error) {
    if (!(error instanceof ProviderError) || error.transient) throw error;
    await failUncreatedCheckout(refs.checkout(checkoutId));
    logWarn("provider refused to create the payment", {
      uid: request.uid,
      courseId: checkout.courseId,
      checkoutId,
    });
    throw failedPrecondition("The payment provider refused this payment.");
  }
}

/** Transaction 2: 'creating' → 'pending' with the provider's object (never moves a final status back). */
async function recordProviderObject(
  tx: Transaction,
  checkoutRef: DocumentReference<CheckoutDoc>,
  created: ProviderObject,
): Promise<CheckoutStatus> {
  const current = (await tx.get(checkoutRef)).data();
  if (current === undefined) throw new Error("checkout vanished");
  const next = nextCheckoutStatus(current.status, "provider-created");
  const known = created.kind === "intent" ? current.providerPaymentId : (current.providerSessionId ?? null);
  if (known === null || next !== current.status) {
    const fields =
      created.kind === "intent"
        ? { providerPaymentId: created.paymentId, clientSecret: created.clientSecret }
        : { providerSessionId: created.sessionId, sessionUrl: created.url };
    updateIn(tx, checkoutRef, { status: next, ...fields, updatedAt: FieldValue.serverTimestamp() });
  }
  return next;
}

/**
 * Before a replacing balance checkout gets its payment: the checkout it replaces is canceled (at the provider when
 * it has a payment). If that one cannot be canceled any more (paid or being processed), this checkout is canceled
 * instead — its payment is never created — and the request answered failed-precondition: the earlier payment
 * settles the balance. A transient provider error propagates; the retry of the same requestId repeats this step.
 */
async function cancelReplacedCheckout(
  request: PaymentRequest,
  checkoutId: string,
  checkout: CheckoutView,
): Promise<void> {
  const replaced = checkout.replaces;
  if (replaced === undefined || replaced === null) return;
  if (await cancelCheckout(request.provider, replaced)) return;
  await cancelCheckout(request.provider, checkoutId);
  logInfo("replaced checkout already paid", { uid: request.uid, checkoutId, replaced });
  throw failedPrecondition(
    "An earlier payment for this course is already being processed; wait for it to complete.",
    { checkoutId: replaced },
  );
}

/**
 * Cancels a checkout nobody should pay: its provider payment first (if it has one), then the checkout itself
 * ('canceled', no longer the enrollment's openCheckout). True when the checkout is canceled (now or before), false
 * when it cannot be: it succeeded, or the provider says its payment was paid or is being processed. Safe to repeat
 * and to run concurrently (the provider's cancel is idempotent; the status moves only forward).
 */
async function cancelCheckout(provider: PaymentProvider, checkoutId: string, attempt = 0): Promise<boolean> {
  const ref = refs.checkout(checkoutId);
  const seen = (await ref.get()).data();
  if (seen === undefined) throw new Error("checkout vanished");
  if (isFinalCheckoutStatus(seen.status)) return seen.status === "canceled";
  const payable = payableOf(seen);
  if (payable !== null && !(await cancelProviderObject(provider, payable, cancelKeyOf(seen))).canceled)
    return false;
  const done = await runTransaction(async (tx) => {
    const current = (await tx.get(ref)).data();
    if (current === undefined) throw new Error("checkout vanished");
    // A payment (or hosted page) attached since it was read (its own request was creating it): cancel that first.
    if (
      current.providerPaymentId !== seen.providerPaymentId ||
      (current.providerSessionId ?? null) !== (seen.providerSessionId ?? null)
    )
      return undefined;
    const enrollmentRef = refs.enrollment(current.uid, current.courseId);
    const enrollment = (await tx.get(enrollmentRef)).data();
    const next = nextCheckoutStatus(current.status, "canceled");
    if (next !== current.status) {
      updateIn(tx, ref, { status: next, updatedAt: FieldValue.serverTimestamp() });
      if (enrollment?.openCheckout?.checkoutId === checkoutId) {
        updateIn(tx, enrollmentRef, { openCheckout: null, updatedAt: FieldValue.serverTimestamp() });
      }
    }
    return next === "canceled";
  });
  if (done !== undefined) return done;
  if (attempt >= 2) throw new Error("checkout kept changing while being canceled");
  return cancelCheckout(provider, checkoutId, attempt + 1);
}

/**
 * After a permanent provider error: a checkout the provider never created moves to 'failed' (not open, so no
 * second tab joins it) and stops being the enrollment's openCheckout. A checkout that did get its payment meanwhile
 * (a concurrent request) is left alone.
 */
async function failUncreatedCheckout(checkoutRef: DocumentReference<CheckoutDoc>): Promise<void> {
  await runTransaction(async (tx) => {
    const current = (await tx.get(checkoutRef)).data();
    if (
      current?.status !== "creating" ||
      current.providerPaymentId !== null ||
      current.providerSessionId != null
    )
      return;
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
