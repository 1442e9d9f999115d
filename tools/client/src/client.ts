/**
 * Typed callables over `httpsCallable`, each call wrapped in the RetryHandler. The request data of a call is
 * fixed before the first attempt and sent unchanged on every retry; for startPayment and refundPayment that
 * data includes a requestId generated once per call (unless the caller passes one), so a retry after a lost
 * reply finds the payment or refund the first attempt created instead of creating a second one.
 */
import { httpsCallable, type Functions, type HttpsCallableOptions } from "firebase/functions";
import type {
  ReconcilePaymentsRequest,
  ReconcilePaymentsResponse,
  GetOpsSummaryRequest,
  GetOpsSummaryResponse,
  CheckInstallmentDeadlinesRequest,
  CheckInstallmentDeadlinesResponse,
  CheckLedgerIntegrityRequest,
  CheckLedgerIntegrityResponse,
  DismissDeadLetterRequest,
  DismissDeadLetterResponse,
  GetDeadLetterRequest,
  GetDeadLetterResponse,
  ListDeadLettersRequest,
  ListDeadLettersResponse,
  ReplayDeadLetterRequest,
  ReplayDeadLetterResponse,
  CallableApi,
  CallableName,
  EnrollInCourseRequest,
  CompleteLessonRequest,
  CompleteLessonResponse,
  EnrollInCourseResponse,
  EnsureProfileRequest,
  EnsureProfileResponse,
  ListOverpaymentsRequest,
  ListOverpaymentsResponse,
  RecordManualPaymentRequest,
  RecordManualPaymentResponse,
  RefundPaymentRequest,
  RefundPaymentResponse,
  StartCheckoutSessionRequest,
  StartCheckoutSessionResponse,
  StartPaymentRequest,
  StartPaymentResponse,
  SubmitQuizAttemptRequest,
  SubmitQuizAttemptResponse,
  UpsertCourseRequest,
  UpsertCourseResponse,
  UpsertLessonRequest,
  UpsertLessonResponse,
  UpsertQuizRequest,
  UpsertQuizResponse,
} from "./generated/api.js";
import { newRequestId as randomRequestId } from "./requestId.js";
import { RetryHandler, type RetryOptions } from "./retry.js";

/** The part of firebase/functions' `httpsCallable` the client uses; replaceable in tests. */
export type HttpsCallableFactory = (
  functions: Functions,
  name: string,
  options?: HttpsCallableOptions,
) => (data: unknown) => Promise<{ readonly data: unknown }>;

export interface CoursePaymentsClientOptions {
  /** The retry policy of every call: options, or a RetryHandler to share. Default: `new RetryHandler()`. */
  retry?: RetryOptions | RetryHandler | undefined;
  /**
   * Per-attempt timeout in ms, passed to `httpsCallable` (Firebase's default is 70 s). An attempt never runs past
   * the retry deadline either. A timed-out attempt may still complete on the server: that is why the retry
   * reuses the requestId.
   */
  timeoutMs?: number | undefined;
  /** Generates request ids. Default: `crypto.randomUUID()`. */
  newRequestId?: (() => string) | undefined;
  /** Replaces `httpsCallable` from firebase/functions (tests). */
  httpsCallable?: HttpsCallableFactory | undefined;
}

export interface CallOptions {
  /** Aborting rejects the call at once (an attempt already sent may still complete on the server). */
  signal?: AbortSignal | undefined;
  /** Changes to the client's retry policy for this call only. */
  retry?: RetryOptions | undefined;
}

/** A request whose `requestId` the client fills in (once per call) when the caller does not. */
export type WithOptionalRequestId<T extends { requestId?: string | undefined }> = Omit<T, "requestId"> & {
  /** Pass your own to make a call resumable across page loads or double submits; see the README. */
  requestId?: string | undefined;
};
export type StartPaymentInput = WithOptionalRequestId<StartPaymentRequest>;
export type StartCheckoutSessionInput = WithOptionalRequestId<StartCheckoutSessionRequest>;
export type RefundPaymentInput = WithOptionalRequestId<RefundPaymentRequest>;
export type SubmitQuizAttemptInput = WithOptionalRequestId<SubmitQuizAttemptRequest>;

export interface CoursePaymentsClient {
  /** Marks a lesson completed for the signed-in user (counted once, however often it is sent). */
  completeLesson(request: CompleteLessonRequest, options?: CallOptions): Promise<CompleteLessonResponse>;
  /** Enrolls the signed-in user (idempotent; a free course is paid and active at once). */
  enrollInCourse(request: EnrollInCourseRequest, options?: CallOptions): Promise<EnrollInCourseResponse>;
  /** Creates the signed-in user's profile if needed (idempotent): call it once after sign-in. */
  ensureProfile(request?: EnsureProfileRequest, options?: CallOptions): Promise<EnsureProfileResponse>;
  /** Submits quiz answers, graded on the server; one requestId per attempt, reused on every retry. */
  submitQuizAttempt(
    request: SubmitQuizAttemptInput,
    options?: CallOptions,
  ): Promise<SubmitQuizAttemptResponse>;
  /** Starts (or resumes) a payment; one requestId per call, reused on every retry. */
  startPayment(request: StartPaymentInput, options?: CallOptions): Promise<StartPaymentResponse>;
  /** Starts (or resumes) a payment on the provider's hosted page: send the student to the answered `url`. */
  startCheckoutSession(
    request: StartCheckoutSessionInput,
    options?: CallOptions,
  ): Promise<StartCheckoutSessionResponse>;
  /** Admin: runs the installment deadline check now (what the hourly schedule does); bounded, rerun while `more`. */
  checkInstallmentDeadlines(
    request: CheckInstallmentDeadlinesRequest,
    options?: CallOptions,
  ): Promise<CheckInstallmentDeadlinesResponse>;
  /** Admin: the health summary (`ops/summary`); `refresh: true` rebuilds it first. */
  getOpsSummary(request: GetOpsSummaryRequest, options?: CallOptions): Promise<GetOpsSummaryResponse>;
  /** Admin: applies the provider's events the webhook missed in a time range (bounded; continue from `cursor`). */
  reconcilePayments(
    request: ReconcilePaymentsRequest,
    options?: CallOptions,
  ): Promise<ReconcilePaymentsResponse>;
  /** Admin: enrollments paid beyond their price, most overpaid first (page with `next`). */
  listOverpayments(
    request: ListOverpaymentsRequest,
    options?: CallOptions,
  ): Promise<ListOverpaymentsResponse>;
  /** Admin: records a payment made outside the provider (idempotent on `reference`). */
  recordManualPayment(
    request: RecordManualPaymentRequest,
    options?: CallOptions,
  ): Promise<RecordManualPaymentResponse>;
  /** Admin: refunds (part of) a payment; one requestId per call, reused on every retry. */
  refundPayment(request: RefundPaymentInput, options?: CallOptions): Promise<RefundPaymentResponse>;
  /** Admin: compares enrollments with their ledgers and the status policy; `repair: true` repairs the drift. */
  checkLedgerIntegrity(
    request: CheckLedgerIntegrityRequest,
    options?: CallOptions,
  ): Promise<CheckLedgerIntegrityResponse>;
  /** Admin: dead letters, newest first (page with `next`; filter by `reason`, `status`). */
  listDeadLetters(request: ListDeadLettersRequest, options?: CallOptions): Promise<ListDeadLettersResponse>;
  /** Admin: one dead letter and what replaying it would do now. */
  getDeadLetter(request: GetDeadLetterRequest, options?: CallOptions): Promise<GetDeadLetterResponse>;
  /** Admin: replays a dead letter's original event, once; one requestId per call, reused on every retry. */
  replayDeadLetter(
    request: ReplayDeadLetterRequest,
    options?: CallOptions,
  ): Promise<ReplayDeadLetterResponse>;
  /** Admin: closes an open dead letter with a reason, without replaying it. */
  dismissDeadLetter(
    request: DismissDeadLetterRequest,
    options?: CallOptions,
  ): Promise<DismissDeadLetterResponse>;
  /** Admin: creates or updates a course. */
  upsertCourse(request: UpsertCourseRequest, options?: CallOptions): Promise<UpsertCourseResponse>;
  /** Admin: sets a lesson of a course (students read it while their access is active, anyone if a preview). */
  upsertLesson(request: UpsertLessonRequest, options?: CallOptions): Promise<UpsertLessonResponse>;
  /** Admin: sets a quiz (or a video's questions) and its answer key, which no client can read. */
  upsertQuiz(request: UpsertQuizRequest, options?: CallOptions): Promise<UpsertQuizResponse>;
  /** Any callable by name, with retries; `request` is sent unchanged on every attempt. */
  call<N extends CallableName>(
    name: N,
    request: CallableApi[N]["request"],
    options?: CallOptions,
  ): Promise<CallableApi[N]["response"]>;
  /** A fresh request id, for callers that keep one across page loads or submits. */
  newRequestId(): string;
  /** The client's retry policy. */
  readonly retry: RetryHandler;
}

/** Firebase treats a timeout of 0 as "use the default"; an attempt always gets at least 1 ms. */
function attemptTimeout(timeoutMs: number | undefined, remainingMs: number): number | undefined {
  const limit = Math.min(timeoutMs ?? Number.POSITIVE_INFINITY, remainingMs);
  return Number.isFinite(limit) ? Math.max(1, Math.ceil(limit)) : undefined;
}

/**
 * The request without its undefined-valued keys. httpsCallable encodes `undefined` as `null`, and the callables'
 * schemas accept an omitted optional field but refuse `null`: `startPayment({ courseId, amount: undefined })`
 * (allowed by the types) would otherwise fail with invalid-argument instead of paying the balance.
 */
function withoutUndefined<T extends object>(request: T): T {
  return Object.fromEntries(Object.entries(request).filter(([, value]) => value !== undefined)) as T;
}

export function createCoursePaymentsClient(
  functions: Functions,
  options: CoursePaymentsClientOptions = {},
): CoursePaymentsClient {
  const retry = options.retry instanceof RetryHandler ? options.retry : new RetryHandler(options.retry);
  const callableFactory: HttpsCallableFactory = options.httpsCallable ?? httpsCallable;
  const newRequestId = options.newRequestId ?? randomRequestId;
  const { timeoutMs } = options;

  async function call<N extends CallableName>(
    name: N,
    request: CallableApi[N]["request"],
    callOptions: CallOptions = {},
  ): Promise<CallableApi[N]["response"]> {
    const handler = retry.with({ ...callOptions.retry, signal: callOptions.signal });
    return handler.run(async ({ remainingMs }) => {
      const timeout = attemptTimeout(timeoutMs, remainingMs);
      const callable = callableFactory(functions, name, timeout === undefined ? undefined : { timeout });
      // The backend's result type for this callable (functions/test/api.types.test.ts keeps them equal).
      return (await callable(withoutUndefined(request))).data as CallableApi[N]["response"];
    });
  }

  /** Fixes the requestId before the first attempt: every retry of this call sends the same one. */
  function withRequestId<T extends { requestId?: string | undefined }>(
    request: T,
  ): Omit<T, "requestId"> & { requestId: string } {
    return { ...request, requestId: request.requestId ?? newRequestId() };
  }

  return {
    checkInstallmentDeadlines: (request, callOptions) =>
      call("checkInstallmentDeadlines", { ...request }, callOptions),
    checkLedgerIntegrity: (request, callOptions) => call("checkLedgerIntegrity", { ...request }, callOptions),
    completeLesson: (request, callOptions) => call("completeLesson", { ...request }, callOptions),
    dismissDeadLetter: (request, callOptions) => call("dismissDeadLetter", { ...request }, callOptions),
    enrollInCourse: (request, callOptions) => call("enrollInCourse", { ...request }, callOptions),
    ensureProfile: (request = {}, callOptions) => call("ensureProfile", { ...request }, callOptions),
    getOpsSummary: (request, callOptions) => call("getOpsSummary", { ...request }, callOptions),
    getDeadLetter: (request, callOptions) => call("getDeadLetter", { ...request }, callOptions),
    listDeadLetters: (request, callOptions) => call("listDeadLetters", { ...request }, callOptions),
    listOverpayments: (request, callOptions) => call("listOverpayments", { ...request }, callOptions),
    startPayment: (request, callOptions) => call("startPayment", withRequestId(request), callOptions),
    startCheckoutSession: (request, callOptions) =>
      call("startCheckoutSession", withRequestId(request), callOptions),
    reconcilePayments: (request, callOptions) => call("reconcilePayments", { ...request }, callOptions),
    recordManualPayment: (request, callOptions) => call("recordManualPayment", { ...request }, callOptions),
    refundPayment: (request, callOptions) => call("refundPayment", withRequestId(request), callOptions),
    replayDeadLetter: (request, callOptions) => call("replayDeadLetter", withRequestId(request), callOptions),
    upsertCourse: (request, callOptions) => call("upsertCourse", { ...request }, callOptions),
    upsertLesson: (request, callOptions) => call("upsertLesson", { ...request }, callOptions),
    submitQuizAttempt: (request, callOptions) =>
      call("submitQuizAttempt", withRequestId(request), callOptions),
    upsertQuiz: (request, callOptions) => call("upsertQuiz", { ...request }, callOptions),
    call,
    newRequestId,
    retry,
  };
}
