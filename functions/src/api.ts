/**
 * The callable API as app clients see it: each callable's name, request and response.
 *
 * This file has no imports on purpose: the client package (tools/client) copies it verbatim into its own
 * sources (`npm run gen -w tools/client`), so the client's published types never reference a file outside
 * that package. It cannot drift from the implementation: test/api.types.test.ts checks at compile time that
 * every request type equals its zod schema's input type, every response type equals what the deployed
 * function returns and every status union equals the domain's, and at run time that CALLABLE_NAMES lists
 * exactly the callables index.ts exports. Money is integer cents with a 3-letter lowercase `currency`.
 */

/** Status of one `startPayment` checkout (`succeeded` and `canceled` are final). */
export type CheckoutStatus = "creating" | "pending" | "succeeded" | "failed" | "canceled";
/** What the enrollment's ledger says was paid. */
export type PaymentStatus = "unpaid" | "partial" | "paid" | "refunded";
/** Whether the student may use the course. */
export type AccessStatus = "locked" | "active" | "suspended" | "revoked";

export interface EnrollInCourseRequest {
  courseId: string;
  /**
   * One of the course's installment plans (`courses/{courseId}.plans`). Its schedule is fixed at enrollment; a
   * second call with another planId is refused (`failed-precondition`). Omitted: no plan.
   */
  planId?: string | undefined;
}

/** An installment of an enrollment's plan; times are ISO 8601 strings. */
export interface InstallmentView {
  amount: number;
  dueAt: string;
  /** Due date + grace: unpaid past it, the installment suspends access. */
  deadline: string;
}

export interface EnrollmentPlanView {
  planId: string;
  installments: InstallmentView[];
  /** How many deadlines have passed (as of the scheduler's last run). */
  deadlinesPassed: number;
  /** The earliest installment not yet covered by amountPaid (what is left of it), or null when all are. */
  nextInstallment: (InstallmentView & { index: number }) | null;
}

/** The caller's enrollment; `created` is false when it already existed (the call is idempotent). */
export interface EnrollInCourseResponse {
  courseId: string;
  price: number;
  currency: string;
  amountPaid: number;
  amountDue: number;
  amountOverpaid: number;
  paymentStatus: PaymentStatus;
  accessStatus: AccessStatus;
  /** The installment plan, or null without one. */
  plan: EnrollmentPlanView | null;
  created: boolean;
}

export interface StartPaymentRequest {
  courseId: string;
  /** Cents to pay now (1…amountDue). Omitted: pay the remaining balance. */
  amount?: number | undefined;
  /**
   * Retry key, 8–128 chars of [A-Za-z0-9_-]: generated once per logical payment and sent unchanged on every
   * retry. The same requestId always yields the same checkout and the same provider payment.
   */
  requestId: string;
}

/** The provider payment to confirm on the client (`clientSecret`); money moves when the provider confirms. */
export interface StartPaymentResponse {
  checkoutId: string;
  paymentId: string;
  clientSecret: string;
  amount: number;
  currency: string;
  status: CheckoutStatus;
}

/** A payment on the provider's hosted checkout page (Stripe Checkout) instead of a payment form in the app. */
export interface StartCheckoutSessionRequest extends StartPaymentRequest {
  /**
   * Where the hosted page sends the student after paying, and after giving up: absolute `https` URLs (`http` only
   * for localhost), on an origin of CHECKOUT_REDIRECT_ORIGINS when that is configured.
   */
  successUrl: string;
  cancelUrl: string;
}

/** Send the student to `url`; money moves when the provider reports the payment (webhook). */
export interface StartCheckoutSessionResponse {
  checkoutId: string;
  sessionId: string;
  url: string;
  amount: number;
  currency: string;
  status: CheckoutStatus;
}

/** Admin only. Idempotent on `reference` (the ledger id is `manual_<reference>`). */
export interface RecordManualPaymentRequest {
  uid: string;
  courseId: string;
  amount: number;
  /** 1–64 chars of [A-Za-z0-9_-]. */
  reference: string;
}

export interface RecordManualPaymentResponse {
  paymentId: string;
  amount: number;
  /** True when this reference had already been recorded (nothing changed). */
  duplicate: boolean;
}

/** Admin only. */
export interface RefundPaymentRequest {
  uid: string;
  courseId: string;
  /** Ledger id of the payment to refund (payment intent id or `manual_<reference>`). */
  paymentId: string;
  /** Omitted: refund everything still refundable of that payment. */
  amount?: number | undefined;
  /**
   * Retry key (as in startPayment): generated once per logical refund and reused on every retry, which then
   * returns the same refund at any age. Two deliberate refunds of the same amount of one payment need two
   * requestIds; one requestId names one refund of this student (reused for another payment or amount:
   * `invalid-argument`).
   */
  requestId: string;
}

export interface RefundPaymentResponse {
  refundId: string;
  /** Cents refunded (positive); for provider refunds, known once the provider answered. */
  amount: number;
  /** True when the money already moved (manual refunds); provider refunds move it when the webhook arrives. */
  applied: boolean;
  status: string;
}

/** Admin only. Creating a course needs title, price and currency; an update changes only the given fields. */
export interface UpsertCourseRequest {
  courseId: string;
  title?: string | undefined;
  price?: number | undefined;
  currency?: string | undefined;
  published?: boolean | undefined;
  /** Installment plans offered, by planId; replaces the previous set ({} offers none). */
  plans?: Record<string, InstallmentPlan> | undefined;
}

/** 2–12 installments, 1–365 days apart, 0–60 days of grace after each due date. */
export interface InstallmentPlan {
  installments: number;
  intervalDays: number;
  graceDays: number;
}

/**
 * Admin only. Runs the installment deadline check now (what the hourly schedule does): enrollments whose next
 * deadline has passed get their count of passed deadlines raised and their access derived again. Bounded;
 * `more` says a further run has work left.
 */
export interface CheckInstallmentDeadlinesRequest {
  /** At most this many enrollments (default 500). */
  limit?: number | undefined;
}

export interface CheckInstallmentDeadlinesResponse {
  /** Enrollments read whose next deadline had passed. */
  scanned: number;
  /** Enrollments whose count of passed deadlines was raised. */
  advanced: number;
  /** Of those, enrollments whose access became suspended. */
  suspended: number;
  /** Enrollments changed concurrently three times in a row, left for the next run. */
  conflicts: number;
  more: boolean;
}

export interface UpsertCourseResponse {
  courseId: string;
  created: boolean;
}

/** Admin only. Enrollments paid beyond their price, most overpaid first; page with `next`. */
export interface ListOverpaymentsRequest {
  /** 1–100, default 50. */
  limit?: number | undefined;
  /** The `next` of the previous page. */
  startAfter?: string | undefined;
}

export interface OverpaymentSummary {
  uid: string;
  courseId: string;
  amountOverpaid: number;
  amountPaid: number;
  price: number;
  currency: string;
}

export interface ListOverpaymentsResponse {
  overpayments: OverpaymentSummary[];
  /** Pass as `startAfter` for the next page; null on the last one. */
  next: string | null;
}

/** Admin only. Sets a lesson of an existing course (whole: omitted optional fields are cleared). */
export interface UpsertLessonRequest {
  courseId: string;
  lessonId: string;
  title: string;
  order: number;
  /** Readable by anyone (course published) when true; otherwise only with active access. Default false. */
  preview?: boolean | undefined;
  body?: string | undefined;
  mediaRef?: string | undefined;
}

export interface UpsertLessonResponse {
  courseId: string;
  lessonId: string;
  created: boolean;
}

/** Marks a lesson completed for the caller (idempotent: a lesson counts once, however often it is sent). */
export interface CompleteLessonRequest {
  courseId: string;
  lessonId: string;
}

export interface CompleteLessonResponse {
  courseId: string;
  lessonId: string;
  /** False when the lesson was already completed (nothing changed). */
  newlyCompleted: boolean;
}

/** Admin only. Sets a quiz and its answer key, whole, in one commit (the key is never readable by clients). */
export interface UpsertQuizRequest {
  courseId: string;
  quizId: string;
  title: string;
  /** `quiz`, or `video`: per-video questions of lesson `lessonId`, each optionally asked at `atSeconds`. */
  kind: "quiz" | "video";
  lessonId?: string | undefined;
  /**
   * At most this many attempts per student (1–100; a retry of one requestId is one attempt). Omitted: no cap — but
   * with per-question feedback, unlimited attempts let a student find a single-choice key by trial.
   */
  maxAttempts?: number | undefined;
  /** 1–50 questions of 2–10 choices; `correct` lists the right choice id(s): exactly one unless `multiple`. */
  questions: {
    id: string;
    prompt: string;
    choices: { id: string; text: string }[];
    correct: string[];
    multiple?: boolean | undefined;
    /** 1–100, default 1. */
    points?: number | undefined;
    atSeconds?: number | undefined;
  }[];
}

export interface UpsertQuizResponse {
  courseId: string;
  quizId: string;
  created: boolean;
  /** Increases with every save; each attempt records the revision it was graded against. */
  revision: number;
  maxScore: number;
}

/** Submits the caller's answers; graded once per requestId against the server-side key. */
export interface SubmitQuizAttemptRequest {
  courseId: string;
  quizId: string;
  /** Question id → chosen choice id (or ids, for a `multiple` question); unanswered questions left out. */
  answers: Record<string, string | string[]>;
  /** Retry key, 8–128 chars of [A-Za-z0-9_-]: one per attempt, reused on every retry of it. */
  requestId: string;
}

export interface SubmitQuizAttemptResponse {
  courseId: string;
  quizId: string;
  attemptId: string;
  score: number;
  maxScore: number;
  /** Per question, in the quiz's order: whether it was answered correctly (the correct choices are not revealed). */
  results: { questionId: string; correct: boolean }[];
  /** Attempts of this quiz counted when this one was recorded, this one included. */
  attemptCount: number;
  /** The best score of those attempts. */
  bestScore: number;
  /** True when this requestId had already been graded: the stored grade, nothing counted again. */
  duplicate: boolean;
}

/** Creates the caller's `users/{uid}` profile if needed (idempotent; call it after sign-in). Takes no fields. */
export type EnsureProfileRequest = Record<string, never>;

export interface EnsureProfileResponse {
  uid: string;
  /** The email of the caller's ID token, as stored on the first call (null for accounts without one). */
  email: string | null;
  /** True when this call wrote the server fields (the first call, or a profile the client had created alone). */
  created: boolean;
}

/** What became of a dead letter: `open` until an admin replays it successfully or dismisses it. */
export type DeadLetterStatus = "open" | "replayed" | "dismissed";

/** Admin only. Dead letters, newest first; `reason` and `status` filter (times are ISO 8601 strings). */
export interface ListDeadLettersRequest {
  /** 1–100, default 50. */
  limit?: number | undefined;
  /** The previous page's `next` (a dead letter id). */
  startAfter?: string | undefined;
  reason?: string | undefined;
  status?: DeadLetterStatus | undefined;
}

export interface DeadLetterView {
  /** The dead letter's id: the provider event's id. */
  id: string;
  eventType: string;
  reason: string;
  providerObjectId: string | null;
  status: DeadLetterStatus;
  createdAt: string;
  /** Who replayed or dismissed it, when, with what outcome (`applied`, `duplicate`, `noop`, `ignored`) or note. */
  resolution: {
    by: string;
    at: string;
    outcome: string | null;
    note: string | null;
    requestId: string | null;
  } | null;
  /** The last replay that did not resolve it, and why (the reason it failed again). */
  lastReplay: { by: string; at: string; reason: string } | null;
}

export interface ListDeadLettersResponse {
  deadLetters: DeadLetterView[];
  /** Pass as `startAfter` for the next page; null on the last one. */
  next: string | null;
}

export interface GetDeadLetterRequest {
  id: string;
}

/** What a replay would do now, from the event as the provider holds it. */
export interface DeadLetterReplayPreview {
  /** False when the provider no longer has the event (Stripe keeps events 30 days): it cannot be replayed. */
  retrievable: boolean;
  /** `applyEntries`, `paymentEnded`, `dispute`, `noop` or `deadLetter`; null when not retrievable. */
  command: string | null;
  /** Why it would be dead-lettered again or is a no-op (a `deadLetter` command's reason), or why not retrievable. */
  note: string | null;
  /** The enrollment the event names in its metadata, and whether it exists now (null: found via its payment). */
  uid: string | null;
  courseId: string | null;
  enrollmentExists: boolean | null;
  /** The payment it is about; refunds and disputes find their enrollment by its ledger entry. */
  providerPaymentId: string | null;
  paymentKnown: boolean | null;
  /** The ledger entries it would create (those not in the ledger yet). */
  entries: { id: string; type: string; amount: number; currency: string }[];
}

export interface GetDeadLetterResponse {
  deadLetter: DeadLetterView;
  /** Only for an open dead letter, else null. */
  replay: DeadLetterReplayPreview | null;
}

/** Admin only. Re-runs the dead letter's original event (fetched from the provider) through the webhook's path. */
export interface ReplayDeadLetterRequest {
  id: string;
  /** Retry key (8–128 chars of [A-Za-z0-9_-]): a retry of a replay that resolved it gets the same answer. */
  requestId?: string | undefined;
}

export interface ReplayDeadLetterResponse {
  id: string;
  /** `replayed` when it applied (or found nothing left to do); `open` when the event still fails. */
  status: DeadLetterStatus;
  /** `applied`, `duplicate`, `noop`, `ignored`; or `dead-lettered` / `parked` when it still fails. */
  outcome: string;
  /** Why it still fails (a dead-letter reason, `unknown-payment`), else null. */
  reason: string | null;
}

/** Admin only. Closes a dead letter without replaying it (e.g. credited by hand with recordManualPayment). */
export interface DismissDeadLetterRequest {
  id: string;
  /** Why (1–500 chars), kept in the audit record. */
  reason: string;
}

export interface DismissDeadLetterResponse {
  id: string;
  status: DeadLetterStatus;
}

/** Admin only. Compares enrollments with their ledgers and the status policy (see README, ledger integrity). */
export interface CheckLedgerIntegrityRequest {
  /** Enrollments to examine, 1–1000, default 200. */
  limit?: number | undefined;
  /** Write the repairs (default false: report only). */
  repair?: boolean | undefined;
  /** The previous answer's `next` (an enrollment path); omitted: from the first enrollment. */
  startAfter?: string | undefined;
}

export interface LedgerDriftView {
  uid: string;
  courseId: string;
  /** Each drifted field: stored value and the ledger's or policy's value, as JSON. */
  fields: { field: string; stored: string; expected: string }[];
  /** `repaired`, `reported` (repair off), `conflict` (kept changing; left for the next run), `unreadable`. */
  action: "repaired" | "reported" | "conflict" | "unreadable";
}

export interface CheckLedgerIntegrityResponse {
  scanned: number;
  drifted: number;
  repaired: number;
  conflicts: number;
  /** At most 100, in scan order. */
  drifts: LedgerDriftView[];
  /** Pass as `startAfter` to go on; null when the scan reached the last enrollment. */
  next: string | null;
}

/** Every callable: name → request and response. */
/** Admin only. The health summary (`ops/summary`); `refresh: true` rebuilds it first (else it is at most 15 min old). */
export interface GetOpsSummaryRequest {
  refresh?: boolean | undefined;
}

/** Counts of one UTC day. */
export interface OpsDayCounts {
  /** Provider events processed, by outcome (duplicates are not counted: they write nothing). */
  events: { applied: number; noop: number; "dead-lettered": number; ignored: number };
  parked: number;
  deadLetters: number;
}

export interface OpsSummary {
  /** When it was computed (ISO 8601). */
  asOf: string;
  /** Today and yesterday (UTC), by `YYYY-MM-DD`. */
  days: Record<string, OpsDayCounts>;
  /** Waiting now: parked events, open dead letters (not replayed or dismissed), open disputes, overdue installments. */
  now: { parkedEvents: number; deadLetters: number; openDisputes: number; overdueInstallments: number };
  /** The last report of each scheduled job that keeps one, with when it ran. */
  jobs: Record<string, { at: string | null; report: Record<string, unknown> }>;
}

export interface GetOpsSummaryResponse {
  /** Null before the first refresh (ask with `refresh: true`). */
  summary: OpsSummary | null;
}

/**
 * Admin only. Runs provider reconciliation now for a range of event creation times: the provider's events of the
 * handled types in [from, to) go through the webhook's exactly-once path (services/reconciliationService). Bounded:
 * continue with `startingAfter` = the answer's `cursor` while it is not null.
 */
export interface ReconcilePaymentsRequest {
  /** ISO 8601; at most 31 days before `to`. */
  from: string;
  to: string;
  /** At most this many events (1–2000, default 500). */
  limit?: number | undefined;
  startingAfter?: string | undefined;
}

export interface ReconcilePaymentsResponse {
  from: string;
  to: string;
  /** Events the provider listed in the range (this run's share). */
  listed: number;
  /** What became of them: `duplicate` = the webhook had processed it (nothing written); the rest were missing. */
  outcomes: {
    applied: number;
    duplicate: number;
    parked: number;
    ignored: number;
    noop: number;
    "dead-lettered": number;
    unreadable: number;
    /** Transient failures (Firestore, the provider): run the range again; nothing applies twice. */
    failed: number;
  };
  /** Where the next run continues, or null when the range is done. */
  cursor: string | null;
}

export interface CallableApi {
  checkInstallmentDeadlines: {
    request: CheckInstallmentDeadlinesRequest;
    response: CheckInstallmentDeadlinesResponse;
  };
  checkLedgerIntegrity: { request: CheckLedgerIntegrityRequest; response: CheckLedgerIntegrityResponse };
  completeLesson: { request: CompleteLessonRequest; response: CompleteLessonResponse };
  dismissDeadLetter: { request: DismissDeadLetterRequest; response: DismissDeadLetterResponse };
  enrollInCourse: { request: EnrollInCourseRequest; response: EnrollInCourseResponse };
  ensureProfile: { request: EnsureProfileRequest; response: EnsureProfileResponse };
  getDeadLetter: { request: GetDeadLetterRequest; response: GetDeadLetterResponse };
  getOpsSummary: { request: GetOpsSummaryRequest; response: GetOpsSummaryResponse };
  listDeadLetters: { request: ListDeadLettersRequest; response: ListDeadLettersResponse };
  listOverpayments: { request: ListOverpaymentsRequest; response: ListOverpaymentsResponse };
  reconcilePayments: { request: ReconcilePaymentsRequest; response: ReconcilePaymentsResponse };
  recordManualPayment: { request: RecordManualPaymentRequest; response: RecordManualPaymentResponse };
  refundPayment: { request: RefundPaymentRequest; response: RefundPaymentResponse };
  replayDeadLetter: { request: ReplayDeadLetterRequest; response: ReplayDeadLetterResponse };
  startCheckoutSession: { request: StartCheckoutSessionRequest; response: StartCheckoutSessionResponse };
  startPayment: { request: StartPaymentRequest; response: StartPaymentResponse };
  submitQuizAttempt: { request: SubmitQuizAttemptRequest; response: SubmitQuizAttemptResponse };
  upsertCourse: { request: UpsertCourseRequest; response: UpsertCourseResponse };
  upsertLesson: { request: UpsertLessonRequest; response: UpsertLessonResponse };
  upsertQuiz: { request: UpsertQuizRequest; response: UpsertQuizResponse };
}

export type CallableName = keyof CallableApi;

/** The callables' names, alphabetical (the deployed export names). */
export const CALLABLE_NAMES = [
  "checkInstallmentDeadlines",
  "checkLedgerIntegrity",
  "completeLesson",
  "dismissDeadLetter",
  "enrollInCourse",
  "ensureProfile",
  "getDeadLetter",
  "getOpsSummary",
  "listDeadLetters",
  "listOverpayments",
  "reconcilePayments",
  "recordManualPayment",
  "refundPayment",
  "replayDeadLetter",
  "startCheckoutSession",
  "startPayment",
  "submitQuizAttempt",
  "upsertCourse",
  "upsertLesson",
  "upsertQuiz",
] as const satisfies readonly CallableName[];
