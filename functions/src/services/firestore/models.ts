/**
 * Stored document shapes (the public data contract) with zod schemas used by the converters to check every
 * read: a document that does not match is reported as corrupt instead of feeding NaN into money math.
 */
import { Timestamp } from "firebase-admin/firestore";
import { z } from "zod";
import { CHECKOUT_STATUSES } from "../../domain/checkoutStatus";
import { LEDGER_ENTRY_TYPES, LEDGER_SOURCES } from "../../domain/ledger";
import { QUIZ_KINDS } from "../../domain/quiz";
import { REFUND_REQUEST_STATUSES } from "../../domain/refundRequests";
import { ACCESS_STATUSES, PAYMENT_STATUSES } from "../../domain/statusPolicy";

export const timestamp = z.custom<Timestamp>((v) => v instanceof Timestamp, "not a Timestamp");
export const cents = z.int();

/**
 * A course. The catalogue fields are all an admin has to write (in the console or a script); the timestamps
 * are set by `upsertCourse` and optional on read.
 */
export const installmentPlanSchema = z.object({
  installments: z.int().positive(),
  intervalDays: z.int().positive(),
  graceDays: z.int().nonnegative(),
});

export const courseDocSchema = z.object({
  title: z.string(),
  price: cents.nonnegative(),
  currency: z.string(),
  published: z.boolean(),
  /** Installment plans offered, by planId (see domain/installments). */
  plans: z.record(z.string(), installmentPlanSchema).optional(),
  createdAt: timestamp.optional(),
  updatedAt: timestamp.optional(),
});
export type CourseDoc = z.infer<typeof courseDocSchema>;

export const disputeRecordSchema = z.object({
  status: z.enum(["open", "closed"]),
  outcome: z.enum(["won", "lost", "other"]).nullable(),
  amount: cents,
  providerPaymentId: z.string(),
  /** Absent on records written before the dispute lifecycle was complete (see domain/disputes). */
  stage: z.string().nullable().optional(),
  lostSeen: z.boolean().optional(),
  fundsWithdrawn: z.boolean().optional(),
  fundsReinstated: z.boolean().optional(),
});

export const openCheckoutSchema = z.object({ checkoutId: z.string(), amount: cents });

export const enrollmentDocSchema = z.object({
  uid: z.string(),
  courseId: z.string(),
  price: cents.nonnegative(),
  currency: z.string(),
  amountPaid: cents,
  amountDue: cents,
  amountOverpaid: cents,
  paymentStatus: z.enum(PAYMENT_STATUSES),
  accessStatus: z.enum(ACCESS_STATUSES),
  ledgerCount: z.int().nonnegative(),
  refundCount: z.int().nonnegative(),
  /** Refunded cents per payment id: bounds later refunds of each payment. */
  refundedByPayment: z.record(z.string(), cents),
  openDisputes: z.int().nonnegative(),
  /** Dispute state per dispute id (monotonic; see domain/disputes). */
  disputes: z.record(z.string(), disputeRecordSchema),
  /** The checkout paying the remaining balance, reused by a second tab while it is still open. */
  openCheckout: openCheckoutSchema.nullable(),
  /**
   * An installment plan's schedule, fixed at enrollment (domain/installments): absent or null without a plan.
   * `deadlinesPassed` counts the installments whose deadline (due date + grace) has passed, raised by the
   * scheduler; `nextDeadline` is the first deadline not yet counted (null once all are), which it queries.
   */
  planId: z.string().nullable().optional(),
  installments: z
    .array(z.object({ amount: cents.positive(), dueAt: timestamp, deadline: timestamp }))
    .nullable()
    .optional(),
  deadlinesPassed: z.int().nonnegative().optional(),
  nextDeadline: timestamp.nullable().optional(),
  /** Lessons the student completed (completeLesson: one `progress/{lessonId}` each, counted once). */
  lessonsCompleted: z.int().nonnegative().optional(),
  /**
   * Refund and dispute events parked for this enrollment's payments (services/webhookCommandService.ts): raised in
   * the park's commit, lowered when one is handled. While above 0, a write that adds ledger entries makes
   * onEnrollmentWritten replay them (domain/parking `parkedToReplay`). Absent = 0.
   */
  parkedEvents: z.int().optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type EnrollmentDoc = z.infer<typeof enrollmentDocSchema>;

export const ledgerEntryDocSchema = z.object({
  amount: cents,
  currency: z.string(),
  type: z.enum(LEDGER_ENTRY_TYPES),
  source: z.enum(LEDGER_SOURCES),
  providerPaymentId: z.string(),
  providerRefundId: z.string().nullable(),
  eventId: z.string().nullable(),
  createdAt: timestamp,
});
export type LedgerEntryDoc = z.infer<typeof ledgerEntryDocSchema>;

export const checkoutDocSchema = z.object({
  uid: z.string(),
  courseId: z.string(),
  amount: cents.positive(),
  currency: z.string(),
  requestId: z.string(),
  idempotencyKey: z.string(),
  provider: z.enum(["stripe", "local"]),
  isRemainingBalance: z.boolean(),
  providerPaymentId: z.string().nullable(),
  clientSecret: z.string().nullable(),
  status: z.enum(CHECKOUT_STATUSES),
  /**
   * Set on a request that joined another request's open checkout (two tabs paying the remaining balance): the
   * id of that checkout. Such an alias records only the requestId → checkout mapping; its status and payment
   * fields are not maintained (read the checkout it names).
   */
  aliasOf: z.string().nullable().optional(),
  /**
   * On a remaining-balance checkout: the enrollment's earlier open checkout it replaced (the balance changed since
   * that one was made). startPayment cancels that one at the provider before creating this one's payment.
   */
  replaces: z.string().nullable().optional(),
  /**
   * `session`: paid on the provider's hosted page (startCheckoutSession) — `providerSessionId` and `sessionUrl` name
   * it, and `providerPaymentId` is learnt when its payment is applied. Absent: `intent` (startPayment).
   */
  kind: z.enum(["intent", "session"]).optional(),
  providerSessionId: z.string().nullable().optional(),
  sessionUrl: z.string().nullable().optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type CheckoutDoc = z.infer<typeof checkoutDocSchema>;

export const webhookEventDocSchema = z.object({
  type: z.string(),
  outcome: z.enum(["applied", "duplicate", "dead-lettered", "noop", "ignored"]),
  processedAt: timestamp,
  expireAt: timestamp,
});
export type WebhookEventDoc = z.infer<typeof webhookEventDocSchema>;

export const DEAD_LETTER_STATUSES = ["open", "replayed", "dismissed"] as const;

export const deadLetterDocSchema = z.object({
  eventId: z.string(),
  type: z.string(),
  reason: z.string(),
  providerObjectId: z.string().nullable(),
  /** Absent on dead letters written before they could be replayed: open. */
  status: z.enum(DEAD_LETTER_STATUSES).optional(),
  /** How it was resolved (services/deadLetterService); the adminAudit record keyed by its id says the same. */
  resolution: z
    .object({
      by: z.string(),
      at: timestamp,
      /** A replay's outcome (`applied`, `duplicate`, `noop`, `ignored`), or null for a dismissal. */
      outcome: z.string().nullable(),
      /** A dismissal's reason, or null. */
      note: z.string().nullable(),
      requestId: z.string().nullable(),
    })
    .optional(),
  /** The last replay that did not resolve it (the event still fails), and why. */
  lastReplay: z.object({ by: z.string(), at: timestamp, reason: z.string() }).optional(),
  createdAt: timestamp,
});
export type DeadLetterDoc = z.infer<typeof deadLetterDocSchema>;

export const courseStatsDocSchema = z.object({
  enrolledCount: z.int(),
  paidCount: z.int(),
  revenue: cents,
  updatedAt: timestamp,
});
export type CourseStatsDoc = z.infer<typeof courseStatsDocSchema>;

export const triggerEventDocSchema = z.object({ createdAt: timestamp, expireAt: timestamp });
export type TriggerEventDoc = z.infer<typeof triggerEventDocSchema>;

/** A fixed rate-limit window (domain/rateLimit): start in ms since the epoch, actions taken in it. */
export const rateLimitDocSchema = z.object({
  windowStartMs: z.int().nonnegative(),
  count: z.int().nonnegative(),
  /** TTL: the document is useless once its window has passed. */
  expireAt: timestamp,
});
export type RateLimitDoc = z.infer<typeof rateLimitDocSchema>;

/**
 * `refundHolds/{paymentId}` (server only): the provider refunds of one payment asked for but not yet in the ledger
 * (see domain/refundHolds), keyed by a hash of the refund request's idempotency key.
 */
export const refundHoldDocSchema = z.object({
  uid: z.string(),
  courseId: z.string(),
  holds: z.record(
    z.string(),
    z.object({ amount: cents.positive(), refundId: z.string().nullable(), heldAtMs: z.int().nonnegative() }),
  ),
  /**
   * Legacy: the provider's answers to refund requests made before `refundRequests` existed (same key), read so a
   * retry of such a request is still answered from it, carried over, never written anew.
   */
  answered: z
    .record(z.string(), z.object({ refundId: z.string(), amount: cents.positive(), status: z.string() }))
    .optional(),
  updatedAt: timestamp,
});
export type RefundHoldDoc = z.infer<typeof refundHoldDocSchema>;

/**
 * An event about one of this backend's payments that arrived before the payment did (a refund or dispute that
 * overtook it): kept until the payment's ledger entry exists, then applied through the same exactly-once path and
 * deleted (server only). `command` is the event's domain command (domain/webhookMapping), stored as mapped.
 */
export const parkedEventDocSchema = z.object({
  eventId: z.string(),
  eventType: z.string(),
  providerObjectId: z.string().nullable(),
  providerPaymentId: z.string(),
  /**
   * Whose payment it is, and how that was learnt. onEnrollmentWritten finds the events parked for an enrollment by
   * it; the event itself still finds its enrollment through the ledger when replayed.
   */
  owner: z.object({ uid: z.string(), courseId: z.string(), via: z.enum(["checkout", "provider"]) }),
  source: z.enum(LEDGER_SOURCES),
  command: z.looseObject({ kind: z.enum(["applyEntries", "paymentEnded", "dispute"]) }),
  parkedAt: timestamp,
  /** After this, a payment still unknown is given up on: the event is dead-lettered `unknown-payment`. */
  deadline: timestamp,
  /**
   * Whether the park raised its owner's enrollment `parkedEvents` (false when that enrollment did not exist; absent on
   * events parked before the count existed): handling the event lowers it again only then.
   */
  counted: z.boolean().optional(),
});
export type ParkedEventDoc = z.infer<typeof parkedEventDocSchema>;

/**
 * `refundRequests/{id}` (server only), id = hash of (student uid, requestId): one provider refund request, recorded
 * pending before the provider is asked and answered once it answers (domain/refundRequests), so a retry of the same
 * requestId gets the same refund at any age.
 */
export const refundRequestDocSchema = z.object({
  uid: z.string(),
  courseId: z.string(),
  paymentId: z.string(),
  requestId: z.string(),
  /** Cents asked for; null = everything still refundable. */
  requestedAmount: cents.positive().nullable(),
  /** Cents held while pending; the provider's refund amount once answered. */
  amount: cents.positive(),
  /** The provider idempotency key of the refund (domain/ids `refundIdempotencyKey`). */
  idempotencyKey: z.string(),
  status: z.enum(REFUND_REQUEST_STATUSES),
  /** The provider's refund once answered. */
  refundId: z.string().nullable(),
  /** The provider's status of that refund (`succeeded`, `pending`, `failed`, …) when it answered. */
  providerStatus: z.string().nullable(),
  /** Why a `refused` request was refused: the message every retry is answered with. */
  refusal: z.string().nullable(),
  /** The admin who first sent the request. */
  requestedBy: z.string(),
  /** When it was recorded, by the function's clock (the clock holds use): the age a retry is judged by. */
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type RefundRequestDoc = z.infer<typeof refundRequestDocSchema>;

/** Who recorded a manual ledger entry (server only; students read their ledger, never an admin's uid). */
export const manualEntryAuditSchema = z.object({
  action: z.enum(["manual-payment", "manual-refund"]),
  adminUid: z.string(),
  uid: z.string(),
  courseId: z.string(),
  ledgerEntryId: z.string(),
  amount: cents,
  currency: z.string(),
  createdAt: timestamp,
});

/**
 * Who resolved a dead letter, and how: `adminAudit/{deadLetterAuditId}` is created once, in the commit that
 * resolves it (a replay that applied the event, or a dismissal), and is the replay's exactly-once key; a replay
 * that still failed is recorded under its own attempt id (`dead-letter-replay-failed`).
 */
export const deadLetterAuditSchema = z.object({
  action: z.enum(["dead-letter-replay", "dead-letter-dismiss", "dead-letter-replay-failed"]),
  adminUid: z.string(),
  deadLetterId: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  /** The replay's outcome, or why it still failed; null for a dismissal. */
  outcome: z.string().nullable(),
  /** A dismissal's reason, else null. */
  note: z.string().nullable(),
  requestId: z.string().nullable(),
  createdAt: timestamp,
});

/** The server's repair of an enrollment's stored totals or derived fields to what its ledger says. */
export const ledgerRepairAuditSchema = z.object({
  action: z.literal("ledger-repair"),
  /** The admin who ran the check, or `scheduler`. */
  adminUid: z.string(),
  uid: z.string(),
  courseId: z.string(),
  /** Each repaired field: what was stored and what was written (JSON). */
  changes: z.record(z.string(), z.object({ stored: z.string(), repaired: z.string() })),
  createdAt: timestamp,
});

export const adminAuditDocSchema = z.union([
  manualEntryAuditSchema,
  deadLetterAuditSchema,
  ledgerRepairAuditSchema,
]);
export type AdminAuditDoc = z.infer<typeof adminAuditDocSchema>;

/** `courses/{courseId}/quizzes/{quizId}`: what students read (no answers). */
export const quizDocSchema = z.object({
  title: z.string(),
  kind: z.enum(QUIZ_KINDS),
  lessonId: z.string().nullable(),
  questions: z.array(
    z.object({
      id: z.string(),
      prompt: z.string(),
      choices: z.array(z.object({ id: z.string(), text: z.string() })),
      points: z.int().positive(),
      multiple: z.boolean(),
      atSeconds: z.int().nonnegative().nullable(),
    }),
  ),
  maxScore: z.int().nonnegative(),
  /** Attempts allowed per student; null or absent: no cap. */
  maxAttempts: z.int().positive().nullable().optional(),
  /** Increased by every upsertQuiz; the key carries the same revision (written in the same commit). */
  revision: z.int().positive(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type QuizDoc = z.infer<typeof quizDocSchema>;

/** `courses/{courseId}/quizKeys/{quizId}`: the answer key, server only (no client role can read it). */
export const quizKeyDocSchema = z.object({
  quizId: z.string(),
  revision: z.int().positive(),
  key: z.array(z.object({ questionId: z.string(), correct: z.array(z.string()) })),
  updatedAt: timestamp,
});
export type QuizKeyDoc = z.infer<typeof quizKeyDocSchema>;

/** `users/{uid}/courses/{courseId}/quizAttempts/{attemptId}`: one graded submission, keyed by its requestId. */
export const quizAttemptDocSchema = z.object({
  quizId: z.string(),
  requestId: z.string(),
  /** Canonical answers (domain/quiz `canonicalAnswers`), as question id → sorted choice ids. */
  answers: z.array(z.object({ questionId: z.string(), choiceIds: z.array(z.string()) })),
  score: z.int().nonnegative(),
  maxScore: z.int().nonnegative(),
  results: z.array(z.object({ questionId: z.string(), correct: z.boolean() })),
  /** The quiz's result summary right after this attempt (this attempt included). */
  attemptCount: z.int().positive(),
  bestScore: z.int().nonnegative(),
  quizRevision: z.int().positive(),
  submittedAt: timestamp,
});
export type QuizAttemptDoc = z.infer<typeof quizAttemptDocSchema>;

/** `users/{uid}/courses/{courseId}/quizResults/{quizId}`: attempts counted and the best score. */
export const quizResultDocSchema = z.object({
  quizId: z.string(),
  attemptCount: z.int().positive(),
  bestScore: z.int().nonnegative(),
  lastScore: z.int().nonnegative(),
  maxScore: z.int().nonnegative(),
  lastAttemptId: z.string(),
  updatedAt: timestamp,
});
export type QuizResultDoc = z.infer<typeof quizResultDocSchema>;
/**
 * `ops/ledgerIntegrity` (server only): where the scheduled integrity check stopped (the last enrollment path it
 * examined; null: start over), and what its last run found.
 */
export const integrityCheckpointDocSchema = z.object({
  cursor: z.string().nullable(),
  lastRun: z.object({ scanned: z.int(), drifted: z.int(), repaired: z.int(), conflicts: z.int() }),
  updatedAt: timestamp,
});
export type IntegrityCheckpointDoc = z.infer<typeof integrityCheckpointDocSchema>;
