/** Input schemas of every callable. `.strict` objects: unknown keys are an `invalid-argument`. */
import { z } from "zod";
import { PLAN_LIMITS } from "../domain/installments";
import {
  currencySchema,
  docIdSchema,
  positiveCentsSchema,
  priceCentsSchema,
  referenceSchema,
  requestIdSchema,
  titleSchema,
  uidSchema,
} from "./common";
import { QUIZ_ITEM_ID_PATTERN, QUIZ_KINDS, QUIZ_LIMITS, quizDefinitionProblems } from "../domain/quiz";

export const enrollInCourseInput = z.strictObject({
  courseId: docIdSchema,
  /** One of the course's installment plans; omitted: pay the price in any parts, access once paid in full. */
  planId: docIdSchema.optional(),
});
export type EnrollInCourseInput = z.infer<typeof enrollInCourseInput>;

export const startPaymentInput = z.strictObject({
  courseId: docIdSchema,
  /** Omitted: pay the remaining balance. */
  amount: positiveCentsSchema.optional(),
  requestId: requestIdSchema,
});
export type StartPaymentInput = z.infer<typeof startPaymentInput>;

/** An absolute URL the provider's hosted page may send the student to: https, or http on this machine. */
const redirectUrlSchema = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      const local = url.hostname === "localhost" || url.hostname === "127.0.0.1";
      return url.protocol === "https:" || (url.protocol === "http:" && local);
    } catch {
      return false;
    }
  }, "not an https URL");

export const startCheckoutSessionInput = startPaymentInput.extend({
  successUrl: redirectUrlSchema,
  cancelUrl: redirectUrlSchema,
});
export type StartCheckoutSessionInput = z.infer<typeof startCheckoutSessionInput>;

export const recordManualPaymentInput = z.strictObject({
  uid: uidSchema,
  courseId: docIdSchema,
  amount: positiveCentsSchema,
  reference: referenceSchema,
});
export type RecordManualPaymentInput = z.infer<typeof recordManualPaymentInput>;

export const refundPaymentInput = z.strictObject({
  uid: uidSchema,
  courseId: docIdSchema,
  /** Ledger id of the payment to refund (payment intent id or `manual_<reference>`). */
  paymentId: docIdSchema,
  /** Omitted: refund everything still refundable of that payment. */
  amount: positiveCentsSchema.optional(),
  /**
   * Retry key (required): generated once per logical refund and reused on every retry. Two deliberate refunds of
   * the same amount of one payment need two requestIds; without one they would collapse into a single refund. With
   * the student's uid it names one refund request (`refundRequests`): reused for another refund it is refused.
   */
  requestId: requestIdSchema,
});
export type RefundPaymentInput = z.infer<typeof refundPaymentInput>;

const bounded = (range: { min: number; max: number }) => z.int().min(range.min).max(range.max);

/** An installment plan a course offers (domain/installments). */
export const installmentPlanInput = z.strictObject({
  installments: bounded(PLAN_LIMITS.installments),
  intervalDays: bounded(PLAN_LIMITS.intervalDays),
  graceDays: bounded(PLAN_LIMITS.graceDays),
});

export const upsertCourseInput = z.strictObject({
  courseId: docIdSchema,
  title: titleSchema.optional(),
  price: priceCentsSchema.optional(),
  currency: currencySchema.optional(),
  published: z.boolean().optional(),
  /** The plans offered, by planId, replacing the previous ones ({} offers none). Enrollments keep their schedule. */
  plans: z
    .record(docIdSchema, installmentPlanInput)
    .refine((plans) => Object.keys(plans).length <= PLAN_LIMITS.plansPerCourse, {
      error: `at most ${PLAN_LIMITS.plansPerCourse} plans`,
    })
    .optional(),
});
export type UpsertCourseInput = z.infer<typeof upsertCourseInput>;

export const listOverpaymentsInput = z.strictObject({
  limit: z.int().min(1).max(100).optional(),
  /** An enrollment path, `users/{uid}/courses/{courseId}`, as the previous page's `next`. */
  startAfter: z
    .string()
    .max(400)
    .regex(/^users\/[^/]+\/courses\/[^/]+$/, "not an enrollment path")
    .optional(),
});
export type ListOverpaymentsInput = z.infer<typeof listOverpaymentsInput>;

/**
 * A lesson, set whole: what students read while their enrollment's access is active (firestore.rules), or anyone
 * when `preview`. `body` (text) or `mediaRef` (a storage path or URL of the video); both may be given.
 */
export const upsertLessonInput = z.strictObject({
  courseId: docIdSchema,
  lessonId: docIdSchema,
  title: titleSchema,
  order: z.int().min(0).max(100_000),
  preview: z.boolean().optional(),
  body: z.string().max(100_000).optional(),
  mediaRef: z.string().min(1).max(2048).optional(),
});
export type UpsertLessonInput = z.infer<typeof upsertLessonInput>;

export const completeLessonInput = z.strictObject({ courseId: docIdSchema, lessonId: docIdSchema });
export type CompleteLessonInput = z.infer<typeof completeLessonInput>;

export const checkInstallmentDeadlinesInput = z.strictObject({
  limit: z.int().min(1).max(2000).optional(),
});
export type CheckInstallmentDeadlinesInput = z.infer<typeof checkInstallmentDeadlinesInput>;
const quizItemId = z.string().regex(QUIZ_ITEM_ID_PATTERN, "must be 1-64 chars of A-Z a-z 0-9 _ -");
const quizText = (max: number) => z.string().trim().min(1).max(max);

/**
 * A quiz (or a video's questions), set whole with its answer key: `correct` names the right choice(s) of each
 * question and is stored apart from what students read (domain/quiz). Checked beyond shapes by
 * `quizDefinitionProblems` (ids unique, correct choices among the choices, one for a single-choice question).
 */
export const upsertQuizInput = z
  .strictObject({
    courseId: docIdSchema,
    quizId: docIdSchema,
    title: titleSchema,
    kind: z.enum(QUIZ_KINDS),
    /** The lesson (video) it belongs to; required for `video`. */
    lessonId: docIdSchema.optional(),
    /** At most this many attempts per student (counted attempts; retries of one requestId are one). Omitted: no cap. */
    maxAttempts: z.int().min(1).max(QUIZ_LIMITS.maxAttempts).optional(),
    questions: z
      .array(
        z.strictObject({
          id: quizItemId,
          prompt: quizText(QUIZ_LIMITS.promptChars),
          choices: z
            .array(z.strictObject({ id: quizItemId, text: quizText(QUIZ_LIMITS.choiceChars) }))
            .min(2)
            .max(QUIZ_LIMITS.choices),
          correct: z.array(quizItemId).min(1).max(QUIZ_LIMITS.choices),
          multiple: z.boolean().optional(),
          points: z.int().min(1).max(QUIZ_LIMITS.points).optional(),
          atSeconds: z.int().min(0).max(QUIZ_LIMITS.atSeconds).optional(),
        }),
      )
      .min(1)
      .max(QUIZ_LIMITS.questions),
  })
  .superRefine((quiz, ctx) => {
    if (quiz.kind === "video" && quiz.lessonId === undefined) {
      ctx.addIssue({ code: "custom", path: ["lessonId"], message: "per-video questions name their lesson" });
    }
    for (const problem of quizDefinitionProblems(quiz.kind, quiz.questions)) {
      ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    }
  });
export type UpsertQuizInput = z.infer<typeof upsertQuizInput>;

export const submitQuizAttemptInput = z.strictObject({
  courseId: docIdSchema,
  quizId: docIdSchema,
  /** Question id → the chosen choice id, or the chosen ids of a `multiple` question. Unanswered: left out. */
  answers: z
    .record(quizItemId, z.union([quizItemId, z.array(quizItemId).min(1).max(QUIZ_LIMITS.choices)]))
    .refine((a) => Object.keys(a).length <= QUIZ_LIMITS.questions, "too many answers"),
  /** Retry key, as in startPayment: the same requestId is the same attempt, graded once. */
  requestId: requestIdSchema,
});
export type SubmitQuizAttemptInput = z.infer<typeof submitQuizAttemptInput>;

/** Creates the caller's `users/{uid}` profile (server fields only if absent); takes no input. */
export const ensureProfileInput = z.strictObject({});
export type EnsureProfileInput = z.infer<typeof ensureProfileInput>;

export const getOpsSummaryInput = z.strictObject({ refresh: z.boolean().optional() });
export type GetOpsSummaryInput = z.infer<typeof getOpsSummaryInput>;

/** A dead letter's id: the provider event id it is keyed by. */
const deadLetterIdSchema = docIdSchema;

export const listDeadLettersInput = z.strictObject({
  limit: z.int().min(1).max(100).optional(),
  startAfter: deadLetterIdSchema.optional(),
  reason: z.string().min(1).max(64).optional(),
  status: z.enum(["open", "replayed", "dismissed"]).optional(),
});
export type ListDeadLettersInput = z.infer<typeof listDeadLettersInput>;

export const getDeadLetterInput = z.strictObject({ id: deadLetterIdSchema });
export type GetDeadLetterInput = z.infer<typeof getDeadLetterInput>;

export const replayDeadLetterInput = z.strictObject({
  id: deadLetterIdSchema,
  requestId: requestIdSchema.optional(),
});
export type ReplayDeadLetterInput = z.infer<typeof replayDeadLetterInput>;

export const dismissDeadLetterInput = z.strictObject({
  id: deadLetterIdSchema,
  reason: z.string().trim().min(1).max(500),
});
export type DismissDeadLetterInput = z.infer<typeof dismissDeadLetterInput>;

export const checkLedgerIntegrityInput = z.strictObject({
  limit: z.int().min(1).max(1000).optional(),
  repair: z.boolean().optional(),
  /** An enrollment path, `users/{uid}/courses/{courseId}`, as the previous answer's `next`. */
  startAfter: z
    .string()
    .max(400)
    .regex(/^users\/[^/]+\/courses\/[^/]+$/, "not an enrollment path")
    .optional(),
});
export type CheckLedgerIntegrityInput = z.infer<typeof checkLedgerIntegrityInput>;

const RECONCILE_MAX_RANGE_MS = 31 * 24 * 3600 * 1000;

export const reconcilePaymentsInput = z
  .strictObject({
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
    limit: z.int().min(1).max(2000).optional(),
    startingAfter: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,255}$/, "not an event id")
      .optional(),
  })
  .refine((r) => Date.parse(r.from) < Date.parse(r.to), { error: "from must be before to", path: ["from"] })
  .refine((r) => Date.parse(r.to) - Date.parse(r.from) <= RECONCILE_MAX_RANGE_MS, {
    error: "at most 31 days at a time",
    path: ["to"],
  });
export type ReconcilePaymentsInput = z.infer<typeof reconcilePaymentsInput>;
