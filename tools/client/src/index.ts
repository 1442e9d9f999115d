export {
  createCoursePaymentsClient,
  type CallOptions,
  type CoursePaymentsClient,
  type CoursePaymentsClientOptions,
  type HttpsCallableFactory,
  type RefundPaymentInput,
  type StartCheckoutSessionInput,
  type StartPaymentInput,
  type SubmitQuizAttemptInput,
  type WithOptionalRequestId,
} from "./client.js";
export {
  DEFAULT_RETRY_POLICY,
  RetryHandler,
  defaultSleep,
  type AttemptContext,
  type RetryDecisionInfo,
  type RetryEvent,
  type RetryOptions,
} from "./retry.js";
export {
  DEFAULT_RETRY_TABLE,
  errorCodeOf,
  isNetworkError,
  isRetryable,
  retryAfterMsOf,
  retryTable,
  type RetryCode,
  type RetryTable,
} from "./classify.js";
export { newRequestId } from "./requestId.js";
export * from "./generated/api.js";
