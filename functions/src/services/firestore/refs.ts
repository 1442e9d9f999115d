/** Typed references. Every read goes through a converter that checks the stored shape. */
import { FieldPath } from "firebase-admin/firestore";
import type {
  DocumentData,
  DocumentReference,
  FirestoreDataConverter,
  PartialWithFieldValue,
  Query,
  QueryDocumentSnapshot,
  Timestamp,
  Transaction,
  WriteBatch,
  WithFieldValue,
} from "firebase-admin/firestore";
import type { z } from "zod";
import { shortHash } from "../../domain/ids";
import { deriveStatus } from "../../domain/statusPolicy";
import { firestore } from "../../shared/admin";
import { CorruptDataError } from "../../shared/errors";
import {
  adminAuditDocSchema,
  checkoutDocSchema,
  courseDocSchema,
  courseStatsDocSchema,
  deadLetterDocSchema,
  enrollmentDocSchema,
  integrityCheckpointDocSchema,
  ledgerEntryDocSchema,
  rateLimitDocSchema,
  refundHoldDocSchema,
  parkedEventDocSchema,
  quizAttemptDocSchema,
  quizDocSchema,
  quizKeyDocSchema,
  quizResultDocSchema,
  refundRequestDocSchema,
  triggerEventDocSchema,
  webhookEventDocSchema,
  type AdminAuditDoc,
  type CheckoutDoc,
  type CourseDoc,
  type CourseStatsDoc,
  type DeadLetterDoc,
  type EnrollmentDoc,
  type IntegrityCheckpointDoc,
  type LedgerEntryDoc,
  type RateLimitDoc,
  type RefundHoldDoc,
  type ParkedEventDoc,
  type QuizAttemptDoc,
  type QuizDoc,
  type QuizKeyDoc,
  type QuizResultDoc,
  type RefundRequestDoc,
  type TriggerEventDoc,
  type WebhookEventDoc,
} from "./models";

/** "price: Invalid input: expected number, received string; title: …" — field paths and expectations only. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length === 0 ? "(document)" : issue.path.join(".")}: ${issue.message}`)
    .join("; ");
}

export function converter<T extends DocumentData>(
  schema: z.ZodType<T>,
  normalize: (doc: T) => T = (doc) => doc,
): FirestoreDataConverter<T> {
  return {
    toFirestore(model: PartialWithFieldValue<T>): DocumentData {
      return model;
    },
    fromFirestore(snapshot: QueryDocumentSnapshot): T {
      const parsed = schema.safeParse(snapshot.data());
      if (!parsed.success) throw new CorruptDataError(snapshot.ref.path, describeIssues(parsed.error.issues));
      return normalize(parsed.data);
    },
  };
}

/**
 * The server reads an enrollment's derived fields as the status policy derives them from its totals: the stored
 * ones may trail the totals for a moment after concurrent money movements (onEnrollmentWritten corrects them), and
 * server decisions (what is still due, what may be refunded) must never use a stale value.
 */
const withDerivedStatus = (doc: EnrollmentDoc): EnrollmentDoc => ({ ...doc, ...deriveStatus(doc) });

const converters = {
  course: converter<CourseDoc>(courseDocSchema),
  enrollment: converter<EnrollmentDoc>(enrollmentDocSchema, withDerivedStatus),
  ledgerEntry: converter<LedgerEntryDoc>(ledgerEntryDocSchema),
  quiz: converter<QuizDoc>(quizDocSchema),
  quizKey: converter<QuizKeyDoc>(quizKeyDocSchema),
  quizAttempt: converter<QuizAttemptDoc>(quizAttemptDocSchema),
  quizResult: converter<QuizResultDoc>(quizResultDocSchema),
  checkout: converter<CheckoutDoc>(checkoutDocSchema),
  webhookEvent: converter<WebhookEventDoc>(webhookEventDocSchema),
  deadLetter: converter<DeadLetterDoc>(deadLetterDocSchema),
  courseStats: converter<CourseStatsDoc>(courseStatsDocSchema),
  triggerEvent: converter<TriggerEventDoc>(triggerEventDocSchema),
  rateLimit: converter<RateLimitDoc>(rateLimitDocSchema),
  adminAudit: converter<AdminAuditDoc>(adminAuditDocSchema),
  refundHold: converter<RefundHoldDoc>(refundHoldDocSchema),
  parkedEvent: converter<ParkedEventDoc>(parkedEventDocSchema),
  refundRequest: converter<RefundRequestDoc>(refundRequestDocSchema),
  integrityCheckpoint: converter<IntegrityCheckpointDoc>(integrityCheckpointDocSchema),
};

/** Collection names: the public contract (firestore.rules is written against them). */
export const COLLECTIONS = {
  courses: "courses",
  courseStats: "courseStats",
  users: "users",
  /** Enrollments are `users/{uid}/courses/{courseId}`: the subcollection under a user is named `courses`. */
  userCourses: "courses",
  ledger: "ledger",
  /** Quizzes under a course (`courses/{courseId}/quizzes`), their answer keys (`quizKeys`, server only), and a
   * student's graded attempts and per-quiz results under the enrollment (`quizAttempts`, `quizResults`). */
  quizzes: "quizzes",
  quizKeys: "quizKeys",
  quizAttempts: "quizAttempts",
  quizResults: "quizResults",
  checkouts: "checkouts",
  webhookEvents: "webhookEvents",
  deadLetters: "deadLetters",
  triggerEvents: "triggerEvents",
  /** Per-user rate-limit windows (server only). */
  rateLimits: "rateLimits",
  /** Who recorded each manual ledger entry (server only). */
  adminAudit: "adminAudit",
  /** Provider refunds asked for but not yet in the ledger, per payment (server only). */
  refundHolds: "refundHolds",
  /** Events about one of our payments that arrived before it, waiting for it (server only). */
  parkedEvents: "parkedEvents",
  /** Provider refund requests by (student uid, requestId), recorded before the provider is asked (server only). */
  refundRequests: "refundRequests",
  /** Operations bookkeeping: the ledger integrity check's checkpoint (server only). */
  ops: "ops",
} as const;

export const refs = {
  course: (courseId: string): DocumentReference<CourseDoc> =>
    firestore().collection(COLLECTIONS.courses).doc(courseId).withConverter(converters.course),
  courseStats: (courseId: string): DocumentReference<CourseStatsDoc> =>
    firestore().collection(COLLECTIONS.courseStats).doc(courseId).withConverter(converters.courseStats),
  enrollment: (uid: string, courseId: string): DocumentReference<EnrollmentDoc> =>
    firestore()
      .collection(COLLECTIONS.users)
      .doc(uid)
      .collection(COLLECTIONS.userCourses)
      .doc(courseId)
      .withConverter(converters.enrollment),
  ledgerEntry: (uid: string, courseId: string, entryId: string): DocumentReference<LedgerEntryDoc> =>
    firestore()
      .collection(COLLECTIONS.users)
      .doc(uid)
      .collection(COLLECTIONS.userCourses)
      .doc(courseId)
      .collection(COLLECTIONS.ledger)
      .doc(entryId)
      .withConverter(converters.ledgerEntry),
  quiz: (courseId: string, quizId: string): DocumentReference<QuizDoc> =>
    refs.course(courseId).collection(COLLECTIONS.quizzes).doc(quizId).withConverter(converters.quiz),
  quizKey: (courseId: string, quizId: string): DocumentReference<QuizKeyDoc> =>
    refs.course(courseId).collection(COLLECTIONS.quizKeys).doc(quizId).withConverter(converters.quizKey),
  quizAttempt: (uid: string, courseId: string, attemptId: string): DocumentReference<QuizAttemptDoc> =>
    refs
      .enrollment(uid, courseId)
      .collection(COLLECTIONS.quizAttempts)
      .doc(attemptId)
      .withConverter(converters.quizAttempt),
  quizResult: (uid: string, courseId: string, quizId: string): DocumentReference<QuizResultDoc> =>
    refs
      .enrollment(uid, courseId)
      .collection(COLLECTIONS.quizResults)
      .doc(quizId)
      .withConverter(converters.quizResult),
  checkout: (checkoutId: string): DocumentReference<CheckoutDoc> =>
    firestore().collection(COLLECTIONS.checkouts).doc(checkoutId).withConverter(converters.checkout),
  webhookEvent: (eventId: string): DocumentReference<WebhookEventDoc> =>
    firestore().collection(COLLECTIONS.webhookEvents).doc(eventId).withConverter(converters.webhookEvent),
  deadLetter: (id: string): DocumentReference<DeadLetterDoc> =>
    firestore().collection(COLLECTIONS.deadLetters).doc(id).withConverter(converters.deadLetter),
  triggerEvent: (eventId: string): DocumentReference<TriggerEventDoc> =>
    firestore().collection(COLLECTIONS.triggerEvents).doc(eventId).withConverter(converters.triggerEvent),
  /**
   * `adminAudit/{hash}`: who recorded the manual ledger entry `entryId` of enrollment (uid, courseId). The id is a
   * hash of the three, since a uid may contain any separator.
   */
  adminAudit: (uid: string, courseId: string, entryId: string): DocumentReference<AdminAuditDoc> =>
    firestore()
      .collection(COLLECTIONS.adminAudit)
      .doc(`audit_${shortHash(JSON.stringify([uid, courseId, entryId]), 40)}`)
      .withConverter(converters.adminAudit),
  /** `adminAudit/deadletter_{hash}`: who resolved dead letter `deadLetterId` (one per dead letter). */
  deadLetterAudit: (deadLetterId: string): DocumentReference<AdminAuditDoc> =>
    firestore()
      .collection(COLLECTIONS.adminAudit)
      .doc(`deadletter_${shortHash(deadLetterId, 40)}`)
      .withConverter(converters.adminAudit),
  /** `adminAudit/{prefix}_{hash}`: an audit record keyed by `parts` (a failed replay, a ledger repair). */
  auditOf: (prefix: "replayattempt" | "repair", parts: readonly string[]): DocumentReference<AdminAuditDoc> =>
    firestore()
      .collection(COLLECTIONS.adminAudit)
      .doc(`${prefix}_${shortHash(JSON.stringify(parts), 40)}`)
      .withConverter(converters.adminAudit),
  /** `ops/ledgerIntegrity`: the scheduled integrity check's checkpoint. */
  integrityCheckpoint: (): DocumentReference<IntegrityCheckpointDoc> =>
    firestore()
      .collection(COLLECTIONS.ops)
      .doc("ledgerIntegrity")
      .withConverter(converters.integrityCheckpoint),
  /** `parkedEvents/{eventId}`: an event waiting for its payment. */
  parkedEvent: (eventId: string): DocumentReference<ParkedEventDoc> =>
    firestore().collection(COLLECTIONS.parkedEvents).doc(eventId).withConverter(converters.parkedEvent),
  /** `refundHolds/{paymentId}`: the in-flight provider refunds of one payment. */
  refundHold: (paymentId: string): DocumentReference<RefundHoldDoc> =>
    firestore().collection(COLLECTIONS.refundHolds).doc(paymentId).withConverter(converters.refundHold),
  /** `refundRequests/{id}`, id = `refundRequestIdFor(uid, requestId)`: one provider refund request. */
  refundRequest: (id: string): DocumentReference<RefundRequestDoc> =>
    firestore().collection(COLLECTIONS.refundRequests).doc(id).withConverter(converters.refundRequest),
  /** `rateLimits/{action}_{uid}`: the current window of one user's rate-limited action. */
  rateLimit: (action: string, uid: string): DocumentReference<RateLimitDoc> =>
    firestore()
      .collection(COLLECTIONS.rateLimits)
      .doc(`${action}_${uid}`)
      .withConverter(converters.rateLimit),
};

/**
 * Up to `limit` checkouts of one enrollment that may still be paid (`creating`, `pending`), made since `since`,
 * aliases of joined requests excluded (they carry `aliasOf`; checkouts of their own carry `aliasOf: null`). Needs
 * the composite index on checkouts (uid, courseId, aliasOf, status, createdAt) in firestore.indexes.json.
 */
export function openCheckoutsOf(uid: string, courseId: string, since: Timestamp, limit: number) {
  return firestore()
    .collection(COLLECTIONS.checkouts)
    .where("uid", "==", uid)
    .where("courseId", "==", courseId)
    .where("aliasOf", "==", null)
    .where("status", "in", ["creating", "pending"])
    .where("createdAt", ">=", since)
    .limit(limit)
    .withConverter(converters.checkout);
}

/** More entries than one payment can have in practice (Stripe allows a few refunds and one dispute per charge). */
const MAX_ENTRIES_PER_PAYMENT = 100;

/**
 * Ledger entries of provider payment `providerPaymentId` in any enrollment (the payment, its refunds and dispute
 * adjustments carry it): how a refund or dispute finds its enrollment, by the payment's own entry. A
 * collection-group query: its single-field index is declared in firestore.indexes.json (`fieldOverrides`).
 */

export function ledgerEntriesByProviderPaymentId(providerPaymentId: string) {
  return firestore()
    .collectionGroup(COLLECTIONS.ledger)
    .where("providerPaymentId", "==", providerPaymentId)
    .limit(MAX_ENTRIES_PER_PAYMENT);
}

/** `tx.update` (or a batch's) with the field names checked against the document type. */
export function updateIn<T extends DocumentData>(
  tx: Transaction | WriteBatch,
  ref: DocumentReference<T>,
  data: Partial<WithFieldValue<T>>,
): void {
  if ("getAll" in tx) tx.update(ref, data as DocumentData);
  else tx.update(ref, data as DocumentData);
}

/** The events parked for payments of enrollment `uid`/`courseId` (at most `limit`; equalities only: no composite index). */
export function parkedEventsForEnrollment(uid: string, courseId: string, limit: number) {
  return firestore()
    .collection(COLLECTIONS.parkedEvents)
    .where("owner.uid", "==", uid)
    .where("owner.courseId", "==", courseId)
    .limit(limit)
    .withConverter(converters.parkedEvent);
}

/** The events that have waited longest (at most `limit`), for the sweep. */
export function oldestParkedEvents(limit: number) {
  return firestore()
    .collection(COLLECTIONS.parkedEvents)
    .orderBy("parkedAt")
    .limit(limit)
    .withConverter(converters.parkedEvent);
}

/** This backend's checkout whose provider payment is `providerPaymentId`, if any. */
export function checkoutsByProviderPaymentId(providerPaymentId: string) {
  return firestore()
    .collection(COLLECTIONS.checkouts)
    .where("providerPaymentId", "==", providerPaymentId)
    .limit(1)
    .withConverter(converters.checkout);
}

/**
 * Enrollments whose payments exceed their price, most overpaid first (at most `limit`). Needs the collection-group
 * field override on `courses.amountOverpaid` in firestore.indexes.json (the group `courses` also holds the course
 * catalogue, whose documents have no `amountOverpaid` and so never match).
 */
export function overpaidEnrollments(limit: number) {
  return firestore()
    .collectionGroup(COLLECTIONS.userCourses)
    .where("amountOverpaid", ">", 0)
    .orderBy("amountOverpaid", "desc")
    .limit(limit)
    .withConverter(converters.enrollment);
}

/** Enrollments on a plan whose next installment deadline is at or before `now`, oldest deadline first. */
export function enrollmentsPastDeadline(now: Timestamp, limit: number) {
  return firestore()
    .collectionGroup(COLLECTIONS.userCourses)
    .where("nextDeadline", "<=", now)
    .orderBy("nextDeadline", "asc")
    .limit(limit)
    .withConverter(converters.enrollment);
}

/**
 * Dead letters, newest first (at most `limit`), optionally of one `reason` and/or `status`. Needs the composite
 * indexes on deadLetters (reason, createdAt desc), (status, createdAt desc), (reason, status, createdAt desc).
 */
export function deadLettersNewestFirst(limit: number, filter: { reason?: string; status?: string }) {
  let q: Query<DeadLetterDoc> = firestore()
    .collection(COLLECTIONS.deadLetters)
    .withConverter(converters.deadLetter);
  if (filter.reason !== undefined) q = q.where("reason", "==", filter.reason);
  if (filter.status !== undefined) q = q.where("status", "==", filter.status);
  return q.orderBy("createdAt", "desc").limit(limit);
}

/**
 * Every `courses` document under any parent in document-path order (at most `limit`), raw (no converter: the
 * integrity check reads stored fields as they are). The group also holds the top-level course catalogue, whose
 * documents the caller skips (see isEnrollmentPath).
 */
export function userCoursesGroupPage(limit: number, startAfterPath: string | null) {
  const query = firestore()
    .collectionGroup(COLLECTIONS.userCourses)
    .orderBy(FieldPath.documentId())
    .limit(limit);
  return startAfterPath === null ? query : query.startAfter(startAfterPath);
}

/** True for `users/{uid}/courses/{courseId}` (an enrollment), false for a catalogue course `courses/{id}`. */
export function isEnrollmentPath(path: string): boolean {
  const parts = path.split("/");
  return parts.length === 4 && parts[0] === COLLECTIONS.users && parts[2] === COLLECTIONS.userCourses;
}
