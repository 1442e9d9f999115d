/** Calling the real handlers: callables through firebase-functions-test `wrap`, the webhook with a fake req/res. */
import functionsTest from "firebase-functions-test";
import type { CallableFunction, CallableRequest } from "firebase-functions/v2/https";
import { enrollInCourse } from "../../src/functions/enrollInCourse";
import { paymentWebhook } from "../../src/functions/paymentWebhook";
import { recordManualPayment } from "../../src/functions/recordManualPayment";
import { refundPayment } from "../../src/functions/refundPayment";
import { startPayment } from "../../src/functions/startPayment";
import { upsertCourse } from "../../src/functions/upsertCourse";
import { firestore } from "../../src/shared/admin";
import {
  signEvent,
  type LocalPaymentView,
  type StripeEventJson,
} from "../../src/services/payments/local/localEvents";
import {
  LocalPaymentProvider,
  heldPaymentRecord,
  type LocalProviderOptions,
} from "../../src/services/payments/local/localProvider";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import type { PaymentProvider } from "../../src/services/payments/provider";
import {
  callableRequest,
  invokeRequestHandler,
  type Caller,
  type HandlerReply,
  type RequestHandlerLike,
} from "../../src/testing/kit";
import { TEST_WEBHOOK_SECRET } from "./localFirestore";

export type { Caller };

export const fft = functionsTest({ projectId: "demo-courses" });

/** Calls a callable as `caller` (or unauthenticated when caller is null), via firebase-functions-test wrap. */
export async function call<R>(
  fn: CallableFunction<unknown, Promise<R>>,
  caller: Caller | null,
  data: unknown,
): Promise<R> {
  return fft.wrap(fn)(callableRequest(caller, data) as unknown as CallableRequest<unknown>);
}

/** Expects a callable to fail with an HttpsError code; returns the error. */
export async function expectHttpsError(
  promise: Promise<unknown>,
  code: string,
): Promise<{ code: string; message: string; details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: unknown; message: string; details?: unknown; httpErrorCode?: unknown };
    expect(e.code).toBe(code);
    return e as { code: string; message: string; details?: unknown };
  }
  throw new Error(`expected HttpsError ${code}, but the call succeeded`);
}

export type WebhookReply = HandlerReply;

/** Invokes the deployed onRequest handler with a fake request carrying `rawBody` (see src/testing/kit). */
export async function postWebhook(
  rawBody: string | Buffer | undefined,
  signature: string | undefined,
  method = "POST",
): Promise<WebhookReply> {
  return invokeRequestHandler(paymentWebhook as unknown as RequestHandlerLike, {
    method,
    headers: signature === undefined ? {} : { "stripe-signature": signature },
    ...(rawBody === undefined ? {} : { rawBody }),
  });
}

/** Signs (current time unless given) and posts an event. */
export async function deliverEvent(event: StripeEventJson, timestampSeconds?: number): Promise<WebhookReply> {
  const signed = await signEvent(event, TEST_WEBHOOK_SECRET, timestampSeconds);
  return postWebhook(signed.rawBody, signed.signature);
}

/** A local provider whose events go straight into the webhook handler. */
export function installLocalProvider(
  options: Pick<LocalProviderOptions, "refundStatus"> = {},
): LocalPaymentProvider {
  const provider = new LocalPaymentProvider({
    ...options,
    webhookSecret: () => TEST_WEBHOOK_SECRET,
    deliver: async (rawBody, signature) => (await postWebhook(rawBody, signature)).status,
  });
  setPaymentProviderForTesting(provider);
  return provider;
}

/**
 * The local provider's record of a payment the tests deliver events about without creating it through the
 * provider (a payment made outside startPayment): the provider knows every payment its events are about, and the
 * webhook asks it whose payment an early refund or dispute concerns.
 */
export async function providerHolds(view: LocalPaymentView): Promise<void> {
  await firestore().doc(`localProvider/${view.id}`).set(heldPaymentRecord(view));
}

/** `base` with some of its calls replaced (the rest delegate to it). */
export function providerWith(base: PaymentProvider, overrides: Partial<PaymentProvider>): PaymentProvider {
  return {
    name: base.name,
    createPayment: (p) => base.createPayment(p),
    createRefund: (p) => base.createRefund(p),
    findRefund: (p) => base.findRefund(p),
    cancelPayment: (p) => base.cancelPayment(p),
    findPayment: (id) => base.findPayment(id),
    retrieveEvent: (id) => base.retrieveEvent(id),
    listEvents: (p) => base.listEvents(p),
    createCheckoutSession: (p) => base.createCheckoutSession(p),
    expireCheckoutSession: (p) => base.expireCheckoutSession(p),
    ...overrides,
  };
}

export const ADMIN: Caller = { uid: "admin-1", admin: true };

export async function createCourse(
  courseId: string,
  price: number,
  options: { published?: boolean; currency?: string } = {},
): Promise<void> {
  await call(upsertCourse, ADMIN, {
    courseId,
    title: `Course ${courseId}`,
    price,
    currency: options.currency ?? "usd",
    published: options.published ?? true,
  });
}

export async function enroll(uid: string, courseId: string): Promise<void> {
  await call(enrollInCourse, { uid }, { courseId });
}

export async function readDoc(path: string): Promise<Record<string, unknown> | undefined> {
  return (await firestore().doc(path).get()).data();
}

export async function countDocs(collectionPath: string): Promise<number> {
  return (await firestore().collection(collectionPath).get()).size;
}

export async function ledgerSum(uid: string, courseId: string): Promise<{ sum: number; ids: string[] }> {
  const snap = await firestore().collection(`users/${uid}/courses/${courseId}/ledger`).get();
  return {
    sum: snap.docs.reduce((s, d) => s + (d.get("amount") as number), 0),
    ids: snap.docs.map((d) => d.id).sort(),
  };
}

/** Everything in the database, for "wrote nothing" assertions. */
export async function snapshotAll(): Promise<string[]> {
  const out: string[] = [];
  async function walk(refs: FirebaseFirestore.CollectionReference[]): Promise<void> {
    for (const col of refs) {
      const docs = await col.listDocuments();
      for (const doc of docs) {
        const snap = await doc.get();
        if (snap.exists) out.push(`${doc.path}=${JSON.stringify(snap.data())}`);
        await walk(await doc.listCollections());
      }
    }
  }
  await walk(await firestore().listCollections());
  return out.sort();
}

export { enrollInCourse, paymentWebhook, recordManualPayment, refundPayment, startPayment, upsertCourse };
