/**
 * src/api.ts (the dependency-free API description the client package copies) must describe exactly what the
 * backend accepts and returns. The type assertions fail `tsc` (npm run typecheck, and ts-jest when this file
 * runs) the moment a schema, a service result type, a status union or api.ts changes without the others.
 */
import type { CallableFunction } from "firebase-functions/v2/https";
import type { z } from "zod";
import type * as api from "../src/api";
import { CALLABLE_NAMES } from "../src/api";
import type { CheckoutStatus } from "../src/domain/checkoutStatus";
import type { AccessStatus, PaymentStatus } from "../src/domain/statusPolicy";
import type * as deployed from "../src/index";
import type * as schemas from "../src/schemas/callables";

/** True only when A and B are the same type (stricter than mutual assignability: no `any` slips through). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the standard exact-equality trick
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

/** What a `validatedOnCall` function resolves to. */
type ResultOf<F> = F extends CallableFunction<unknown, Promise<infer R>> ? R : never;

type Schemas = {
  checkInstallmentDeadlines: typeof schemas.checkInstallmentDeadlinesInput;
  checkLedgerIntegrity: typeof schemas.checkLedgerIntegrityInput;
  completeLesson: typeof schemas.completeLessonInput;
  dismissDeadLetter: typeof schemas.dismissDeadLetterInput;
  enrollInCourse: typeof schemas.enrollInCourseInput;
  getOpsSummary: typeof schemas.getOpsSummaryInput;
  ensureProfile: typeof schemas.ensureProfileInput;
  getDeadLetter: typeof schemas.getDeadLetterInput;
  listDeadLetters: typeof schemas.listDeadLettersInput;
  listOverpayments: typeof schemas.listOverpaymentsInput;
  reconcilePayments: typeof schemas.reconcilePaymentsInput;
  recordManualPayment: typeof schemas.recordManualPaymentInput;
  refundPayment: typeof schemas.refundPaymentInput;
  replayDeadLetter: typeof schemas.replayDeadLetterInput;
  startCheckoutSession: typeof schemas.startCheckoutSessionInput;
  startPayment: typeof schemas.startPaymentInput;
  submitQuizAttempt: typeof schemas.submitQuizAttemptInput;
  upsertCourse: typeof schemas.upsertCourseInput;
  upsertLesson: typeof schemas.upsertLessonInput;
  upsertQuiz: typeof schemas.upsertQuizInput;
};

/** The callables whose check is not `true`; `NoneFailing` then names them in the compiler error. */
type Failing<Checks extends Record<api.CallableName, boolean>> = {
  [N in api.CallableName]: Checks[N] extends true ? never : N;
}[api.CallableName];
type NoneFailing<T extends never> = T;

/** Requests: what a client may send is the schema's input type (and, with no transforms, its output type). */
type RequestsMatch = NoneFailing<
  Failing<{
    [N in api.CallableName]: Equal<api.CallableApi[N]["request"], z.input<Schemas[N]>> extends true
      ? Equal<api.CallableApi[N]["request"], z.infer<Schemas[N]>>
      : false;
  }>
>;

/** Responses: exactly what the exported function resolves to (the service's own result type). */
type ResponsesMatch = NoneFailing<
  Failing<{
    [N in api.CallableName]: Equal<api.CallableApi[N]["response"], ResultOf<(typeof deployed)[N]>>;
  }>
>;

type StatusesMatch = [
  Assert<Equal<api.CheckoutStatus, CheckoutStatus>>,
  Assert<Equal<api.PaymentStatus, PaymentStatus>>,
  Assert<Equal<api.AccessStatus, AccessStatus>>,
];

/** CALLABLE_NAMES lists every key of CallableApi (the `satisfies` in api.ts checks the other direction). */
type NamesComplete = Assert<Equal<(typeof CALLABLE_NAMES)[number], api.CallableName>>;

/** The exported functions whose type is a callable (the webhook is `onRequest`, the trigger a CloudFunction). */
type DeployedCallableName = {
  [K in keyof typeof deployed]: (typeof deployed)[K] extends CallableFunction<unknown, Promise<unknown>>
    ? K
    : never;
}[keyof typeof deployed];
type NamesDeployed = Assert<Equal<DeployedCallableName, api.CallableName>>;

// Referenced so that noUnusedLocals keeps the assertions compiled.
export type ApiTypeChecks = [RequestsMatch, ResponsesMatch, StatusesMatch, NamesComplete, NamesDeployed];

describe("src/api.ts", () => {
  it("CALLABLE_NAMES are exactly the callables src/index.ts exports, in alphabetical order", async () => {
    const index = (await import("../src/index")) as unknown as Record<
      string,
      { __endpoint?: { callableTrigger?: unknown } }
    >;
    const callables = Object.keys(index)
      .filter((name) => index[name]?.__endpoint?.callableTrigger !== undefined)
      .sort();
    expect(callables).toEqual([...CALLABLE_NAMES]);
    expect([...CALLABLE_NAMES].sort()).toEqual([...CALLABLE_NAMES]);
  });
});
