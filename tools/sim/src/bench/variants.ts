/**
 * The three ways of applying a payment that the benchmark compares, each against the same local Firestore:
 *
 *  (a) the original app's read-modify-write: get the enrollment, compute, update (no transaction), retried by
 *      the client helper on transient errors;
 *  (b) the original fix: a batched `FieldValue.increment` of amountPaid/amountDue + `serverTimestamp`, with the
 *      client retry helper (backoff 100 → 200 → 400 ms with jitter, transient codes only);
 *  (c) this backend: Stripe-format `payment_intent.succeeded` events, signed, posted to the real built
 *      `paymentWebhook` handler; the stand-in provider re-sends any delivery not answered 2xx. Every enrollment
 *      write also runs the built `onEnrollmentWritten` trigger (delivered by the local Firestore, see triggers.ts),
 *      and a phase ends only when those deliveries are done.
 *
 * (a) and (b) exist only here. So that lost and double-applied payments can be counted exactly, each of them
 * writes one instrumentation field in the SAME update as the money: (a) the list of payment ids its computed
 * total includes (computed from the same read, so a lost update loses the id too), (b) a per-payment
 * `increment(1)` counter (applied exactly as often as the money increment). That makes the documents bigger
 * but changes no operation count. (c) is counted from its ledger.
 */
import { callAs, postWebhook, type Backend, type DocRef } from "./backend";
import { isTransient, withRetry, type RetryPolicy } from "./util";

export type VariantKey = "a" | "b" | "c";

export const VARIANT_LABELS: Record<VariantKey, string> = {
  a: "(a) read-modify-write",
  b: "(b) batched increment + client retry",
  c: "(c) this backend (signed webhook)",
};

export const CURRENCY = "usd";

export interface Enrollment {
  uid: string;
  courseId: string;
  price: number;
}

export interface Payment {
  /** Provider payment id (pi_…), also the instrumentation key of (a) and (b). */
  id: string;
  enrollment: Enrollment;
  amount: number;
  /** (c) through startPayment: the checkout the payment belongs to. */
  checkoutId?: string;
  chargeId?: string;
}

export interface OperationOutcome {
  ok: boolean;
  attempts: number;
  /** applied | duplicate | ok | http-500 | error-14 … */
  label: string;
  /** What each failed attempt got before the last one (a 5xx answer, a gRPC error code). */
  failedAttempts: string[];
}

/** One thing the client (a, b) or the provider (c) does: pay once, or deliver one copy of an event. */
export interface Operation {
  payment: number;
  run: () => Promise<OperationOutcome>;
}

export interface Applications {
  /** How many times each payment's amount is included in its enrollment's amountPaid. */
  perPayment: number[];
  /** Human-readable invariant violations (empty when every enrollment is self-consistent). */
  inconsistencies: string[];
}

export interface Variant {
  key: VariantKey;
  setup(enrollments: readonly Enrollment[], options: { viaStartPayment: boolean }): Promise<Payment[]>;
  /** Builds the operations (signing happens here, before the clock starts). */
  operations(payments: readonly Payment[], copies: number): Promise<Operation[]>;
  count(enrollments: readonly Enrollment[], payments: readonly Payment[]): Promise<Applications>;
}

export const CLIENT_RETRY: Omit<RetryPolicy, "retryOn"> = { maxAttempts: 4, baseDelayMs: 100 };
/** The provider stand-in re-sends on any non-2xx answer (Stripe does, over days; compressed here). */
export const PROVIDER_RETRY: Omit<RetryPolicy, "retryOn"> = { maxAttempts: 6, baseDelayMs: 100 };

const SETUP_CONCURRENCY = 20;

async function inBatches<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += SETUP_CONCURRENCY) {
    await Promise.all(items.slice(i, i + SETUP_CONCURRENCY).map(fn));
  }
}

/** (c)'s enrollment: the backend's `users/{uid}/courses/{courseId}`, where onEnrollmentWritten fires. */
function enrollmentRef(backend: Backend, e: Enrollment): DocRef {
  return backend.firestore().doc(`users/${e.uid}/courses/${e.courseId}`);
}

/**
 * (a)'s and (b)'s enrollment: the same document shape under another root, so that this backend's trigger (which the
 * original app did not have) does not fire on their writes and cost them time.
 */
function originalAppEnrollmentRef(backend: Backend, e: Enrollment): DocRef {
  return backend.firestore().doc(`originalApp/${e.uid}/courses/${e.courseId}`);
}

function errorLabel(error: unknown): string {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "number" || typeof code === "string" ? `error-${String(code)}` : "error";
}

function paymentsFor(
  enrollments: readonly Enrollment[],
  perEnrollment: (e: Enrollment) => number,
  amount: number,
) {
  const payments: Payment[] = [];
  for (const e of enrollments) {
    for (let i = 0; i < perEnrollment(e); i++) {
      payments.push({ id: `pi_bench_${String(payments.length).padStart(5, "0")}`, enrollment: e, amount });
    }
  }
  return payments;
}

/** Helpers shared by (a) and (b): plain enrollment documents in the original app's shape. */
function originalAppVariant(
  key: "a" | "b",
  backend: Backend,
  random: () => number,
  amount: number,
  applyOnce: (ref: DocRef, payment: Payment) => Promise<void>,
  readApplications: (
    ref: DocRef,
    payments: readonly Payment[],
  ) => Promise<{ counts: number[]; amountPaid: number; amountDue: number }>,
  initialFields: Record<string, unknown>,
): Variant {
  return {
    key,
    async setup(enrollments) {
      const { FieldValue } = backend;
      await inBatches(enrollments, (e) =>
        originalAppEnrollmentRef(backend, e).set({
          uid: e.uid,
          courseId: e.courseId,
          price: e.price,
          currency: CURRENCY,
          amountPaid: 0,
          amountDue: e.price,
          ...initialFields,
          createdAt: FieldValue.serverTimestamp(),
          updatedAt: FieldValue.serverTimestamp(),
        }),
      );
      return paymentsFor(enrollments, (e) => Math.round(e.price / amount), amount);
    },
    operations(payments, copies) {
      const ops: Operation[] = [];
      payments.forEach((p, index) => {
        for (let c = 0; c < copies; c++) {
          ops.push({
            payment: index,
            run: async () => {
              const ref = originalAppEnrollmentRef(backend, p.enrollment);
              const outcome = await withRetry({ ...CLIENT_RETRY, retryOn: isTransient }, random, () =>
                applyOnce(ref, p),
              );
              return {
                ok: outcome.ok,
                attempts: outcome.attempts,
                label: outcome.ok ? "ok" : errorLabel(outcome.error),
                failedAttempts: outcome.errors.map(errorLabel),
              };
            },
          });
        }
      });
      return Promise.resolve(ops);
    },
    async count(enrollments, payments) {
      const perPayment = payments.map(() => 0);
      const inconsistencies: string[] = [];
      for (const e of enrollments) {
        const mine = payments.map((p, i) => ({ p, i })).filter(({ p }) => p.enrollment === e);
        const read = await readApplications(
          originalAppEnrollmentRef(backend, e),
          mine.map(({ p }) => p),
        );
        let applied = 0;
        mine.forEach(({ i }, j) => {
          const n = read.counts[j] ?? 0;
          perPayment[i] = n;
          applied += n;
        });
        if (read.amountPaid !== applied * amount)
          inconsistencies.push(
            `${e.uid}: amountPaid ${read.amountPaid} ≠ ${applied} applications × ${amount}`,
          );
        if (read.amountDue !== e.price - read.amountPaid)
          inconsistencies.push(`${e.uid}: amountDue ${read.amountDue} ≠ price − amountPaid`);
      }
      return { perPayment, inconsistencies };
    },
  };
}

/** (a) get → compute → update, as the original web app did (plus the applied-ids instrumentation). */
export function readModifyWrite(backend: Backend, random: () => number, amount: number): Variant {
  const { FieldValue } = backend;
  return originalAppVariant(
    "a",
    backend,
    random,
    amount,
    async (ref, payment) => {
      const snap = await ref.get();
      const paid = snap.get("amountPaid") as number;
      const price = snap.get("price") as number;
      const ids = snap.get("appliedPayments") as string[];
      await ref.update({
        amountPaid: paid + payment.amount,
        amountDue: price - (paid + payment.amount),
        appliedPayments: [...ids, payment.id],
        updatedAt: FieldValue.serverTimestamp(),
      });
    },
    async (ref, payments) => {
      const snap = await ref.get();
      const ids = snap.get("appliedPayments") as string[];
      return {
        counts: payments.map((p) => ids.filter((id) => id === p.id).length),
        amountPaid: snap.get("amountPaid") as number,
        amountDue: snap.get("amountDue") as number,
      };
    },
    { appliedPayments: [] },
  );
}

/** (b) one WriteBatch: increments + serverTimestamp (plus the per-payment counter instrumentation). */
export function batchedIncrement(backend: Backend, random: () => number, amount: number): Variant {
  const { FieldValue } = backend;
  return originalAppVariant(
    "b",
    backend,
    random,
    amount,
    async (ref, payment) => {
      const batch = backend.firestore().batch();
      batch.update(ref, {
        amountPaid: FieldValue.increment(payment.amount),
        amountDue: FieldValue.increment(-payment.amount),
        updatedAt: FieldValue.serverTimestamp(),
        [`appliedCount.${payment.id}`]: FieldValue.increment(1),
      });
      await batch.commit();
    },
    async (ref, payments) => {
      const snap = await ref.get();
      return {
        counts: payments.map((p) => {
          const n = snap.get(`appliedCount.${p.id}`);
          return typeof n === "number" ? n : 0;
        }),
        amountPaid: snap.get("amountPaid") as number,
        amountDue: snap.get("amountDue") as number,
      };
    },
    { appliedCount: {} },
  );
}

const ADMIN_UID = "bench-admin";

/** (c) the real backend: courses and enrollments through its callables, payments through its webhook. */
export function thisBackend(backend: Backend, random: () => number, amount: number): Variant {
  return {
    key: "c",
    async setup(enrollments, { viaStartPayment }) {
      const courses = new Map(enrollments.map((e) => [e.courseId, e.price]));
      for (const [courseId, price] of courses) {
        await callAs(
          backend.upsertCourse,
          ADMIN_UID,
          { courseId, title: `Benchmark ${courseId}`, price, currency: CURRENCY, published: true },
          true,
        );
      }
      await inBatches(enrollments, (e) => callAs(backend.enrollInCourse, e.uid, { courseId: e.courseId }));
      const payments = paymentsFor(enrollments, (e) => Math.round(e.price / amount), amount);
      if (!viaStartPayment) return payments;
      // startPayment (local provider) creates the checkout and the provider payment; the success event then
      // carries the checkout id, so the webhook also moves the checkout to `succeeded`.
      const started: Payment[] = [...payments];
      await inBatches(
        payments.map((p, index) => ({ p, index })),
        async ({ p, index }) => {
          const r = (await callAs(backend.startPayment, p.enrollment.uid, {
            courseId: p.enrollment.courseId,
            amount: p.amount,
            requestId: `bench-${p.id}`,
          })) as { paymentId: string; checkoutId: string };
          const local = await backend.firestore().doc(`localProvider/${r.paymentId}`).get();
          started[index] = {
            ...p,
            id: r.paymentId,
            checkoutId: r.checkoutId,
            chargeId: local.get("chargeId") as string,
          };
        },
      );
      return started;
    },
    async operations(payments, copies) {
      const signed = await Promise.all(
        payments.map((p) =>
          backend.signEvent(
            backend.paymentSucceededEvent({
              id: p.id,
              chargeId: p.chargeId ?? `ch_${p.id}`,
              amount: p.amount,
              currency: CURRENCY,
              metadata: {
                uid: p.enrollment.uid,
                courseId: p.enrollment.courseId,
                ...(p.checkoutId === undefined ? {} : { checkoutId: p.checkoutId }),
              },
              refunds: [],
            }),
            process.env.STRIPE_WEBHOOK_SECRET ?? "",
          ),
        ),
      );
      const ops: Operation[] = [];
      signed.forEach((delivery, index) => {
        for (let c = 0; c < copies; c++) {
          ops.push({
            payment: index,
            run: async () => {
              let last = "";
              const outcome = await withRetry(
                { ...PROVIDER_RETRY, retryOn: () => true },
                random,
                async () => {
                  const reply = await deliver(backend, delivery.rawBody, delivery.signature);
                  last = reply.status === 200 ? (reply.outcome ?? "ok") : `http-${reply.status}`;
                  if (reply.status < 200 || reply.status >= 300) throw new Error(last);
                },
              );
              return {
                ok: outcome.ok,
                attempts: outcome.attempts,
                label: last,
                failedAttempts: outcome.errors.map((e) => (e instanceof Error ? e.message : "error")),
              };
            },
          });
        }
      });
      return ops;
    },
    async count(enrollments, payments) {
      const perPayment = payments.map(() => 0);
      const inconsistencies: string[] = [];
      for (const e of enrollments) {
        const ref = enrollmentRef(backend, e);
        const [snap, ledger] = await Promise.all([ref.get(), ref.collection("ledger").get()]);
        const ledgerIds = new Set(ledger.docs.map((d) => d.id));
        const ledgerSum = ledger.docs.reduce((s, d) => s + (d.get("amount") as number), 0);
        let applied = 0;
        payments.forEach((p, i) => {
          if (p.enrollment !== e) return;
          perPayment[i] = ledgerIds.has(p.id) ? 1 : 0;
          applied += perPayment[i];
        });
        const amountPaid = snap.get("amountPaid") as number;
        // A second application of a payment would show as money the ledger does not explain.
        const extra = Math.round((amountPaid - ledgerSum) / amount);
        if (extra > 0) {
          const first = payments.findIndex((p) => p.enrollment === e);
          perPayment[first] = (perPayment[first] ?? 0) + extra;
        }
        if (amountPaid !== ledgerSum)
          inconsistencies.push(`${e.uid}: amountPaid ${amountPaid} ≠ ledger sum ${ledgerSum}`);
        if (ledger.docs.length !== applied)
          inconsistencies.push(`${e.uid}: ${ledger.docs.length} ledger entries for ${applied} payments`);
        // The derived fields, once the triggers have run, follow the totals by the status policy (no refunds here).
        const due = snap.get("amountDue") as number;
        const over = snap.get("amountOverpaid") as number;
        const status = snap.get("paymentStatus") as string;
        const expectedStatus = amountPaid >= e.price ? "paid" : amountPaid > 0 ? "partial" : "unpaid";
        if (due !== Math.max(e.price - amountPaid, 0) || over !== Math.max(amountPaid - e.price, 0))
          inconsistencies.push(`${e.uid}: amountDue/amountOverpaid do not follow price − amountPaid`);
        if (status !== expectedStatus)
          inconsistencies.push(`${e.uid}: paymentStatus ${status}, expected ${expectedStatus}`);
      }
      return { perPayment, inconsistencies };
    },
  };
}

async function deliver(
  backend: Backend,
  rawBody: string,
  signature: string,
): Promise<{ status: number; outcome: string | undefined }> {
  const reply = await postWebhook(backend.paymentWebhook, rawBody, signature);
  const body = reply.body as { outcome?: unknown } | undefined;
  return { status: reply.status, outcome: typeof body?.outcome === "string" ? body.outcome : undefined };
}
