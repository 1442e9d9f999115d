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
import { signEvent, type StripeEventJson } from "../../src/services/payments/localEvents";
import { LocalPaymentProvider, type LocalProviderOptions } from "../../src/services/payments/localProvider";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { TEST_WEBHOOK_SECRET } from "./localFirestore";

export const fft = functionsTest({ projectId: "demo-courses" });

export interface Caller {
  uid: string;
  admin?: boolean;
}

/** Calls a callable as `caller` (or unauthenticated when caller is null), via firebase-functions-test wrap. */
export async function call<R>(
  fn: CallableFunction<unknown, Promise<R>>,
  caller: Caller | null,
  data: unknown,
): Promise<R> {
  const wrapped = fft.wrap(fn);
  const request = {
    data,
    auth:
      caller === null
        ? undefined
        : { uid: caller.uid, token: { uid: caller.uid, admin: caller.admin === true } },
    rawRequest: {},
    acceptsStreaming: false,
  } as unknown as CallableRequest<unknown>;
  return wrapped(request);
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

export interface WebhookReply {
  status: number;
  body: unknown;
}

/** Invokes the deployed onRequest handler with a fake request carrying `rawBody`. */
export async function postWebhook(
  rawBody: string | Buffer | undefined,
  signature: string | undefined,
  method = "POST",
): Promise<WebhookReply> {
  const reply: WebhookReply = { status: 0, body: undefined };
  let headersSent = false;
  const res = {
    get headersSent() {
      return headersSent;
    },
    status(code: number) {
      reply.status = code;
      return res;
    },
    json(body: unknown) {
      reply.body = body;
      headersSent = true;
      return res;
    },
    send(body: unknown) {
      reply.body = body;
      headersSent = true;
      return res;
    },
    on() {
      return res;
    },
  };
  const buffer = typeof rawBody === "string" ? Buffer.from(rawBody) : rawBody;
  const req = {
    method,
    headers: signature === undefined ? {} : { "stripe-signature": signature },
    rawBody: buffer,
    body: parseJsonOrUndefined(buffer),
    get: () => undefined,
    header: () => undefined,
  };
  await (paymentWebhook as unknown as (q: unknown, s: unknown) => Promise<void>)(req, res);
  return reply;
}

function parseJsonOrUndefined(buffer: Buffer | undefined): unknown {
  try {
    return buffer === undefined ? undefined : (JSON.parse(buffer.toString("utf8")) as unknown);
  } catch {
    return undefined;
  }
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
