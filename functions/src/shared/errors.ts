/**
 * Error classes shared by every layer. No Firebase imports here: the domain and the services throw these,
 * and `validatedOnCall` / the webhook handler map them to `HttpsError` codes / HTTP statuses.
 */

/** The subset of callable error codes the backend uses on purpose. */
export type AppErrorCode =
  | "invalid-argument"
  | "not-found"
  | "already-exists"
  | "failed-precondition"
  | "permission-denied"
  | "unauthenticated"
  | "resource-exhausted"
  | "unavailable";

/** A known, expected failure whose message is safe to show to the caller. */
export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: AppErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.details = details;
  }
}

export const notFound = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError("not-found", message, details);
export const failedPrecondition = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError("failed-precondition", message, details);
export const invalidArgument = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError("invalid-argument", message, details);
export const resourceExhausted = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError("resource-exhausted", message, details);
export const alreadyExists = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError("already-exists", message, details);
export const permissionDenied = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError("permission-denied", message, details);

/** A failure of the payment provider. `transient` ones may be retried with the same idempotency key. */
export class ProviderError extends Error {
  readonly transient: boolean;

  constructor(message: string, transient: boolean) {
    super(message);
    this.name = "ProviderError";
    this.transient = transient;
  }
}

/**
 * A stored document the backend cannot use (it does not match its schema): a bug or a manual edit, never the
 * caller's fault. Callables answer `failed-precondition` and log `path` and `reason`; `reason` names the
 * offending fields and what was expected, never their values.
 */
export class CorruptDataError extends Error {
  readonly path: string;
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(`Stored document ${path} cannot be used: ${reason}`);
    this.name = "CorruptDataError";
    this.path = path;
    this.reason = reason;
  }
}

/** The gRPC status codes the backend tells apart in Firestore errors (a write's outcome decides the next step). */
export const GRPC = { NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9, ABORTED: 10 } as const;

/** The `code` of a Firestore (gRPC) error, if it has one. */
export function grpcCode(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * A commit that lost to another write: a create that found its document (a concurrent copy, or this very commit
 * re-sent by the SDK after its reply was lost), an updateTime precondition that no longer holds, a vanished
 * document. Reading again shows what the other write did.
 */
export function isCommitConflict(error: unknown): boolean {
  const code = grpcCode(error);
  return code === GRPC.ALREADY_EXISTS || code === GRPC.FAILED_PRECONDITION || code === GRPC.NOT_FOUND;
}

/** gRPC status codes after which a retry may succeed (Firestore / network trouble). */
const TRANSIENT_GRPC_CODES = new Set([1, 2, 4, 8, 10, 13, 14]); // CANCELLED UNKNOWN DEADLINE_EXCEEDED RESOURCE_EXHAUSTED ABORTED INTERNAL UNAVAILABLE

/** True when an error is a transient infrastructure failure (the provider or Firestore may succeed on retry). */
export function isTransientError(error: unknown): boolean {
  if (error instanceof ProviderError) return error.transient;
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "number") return TRANSIENT_GRPC_CODES.has(code);
  if (typeof code === "string") {
    return [
      "unavailable",
      "deadline-exceeded",
      "aborted",
      "resource-exhausted",
      "internal",
      "ECONNREFUSED",
      "ECONNRESET",
      "ETIMEDOUT",
    ].includes(code);
  }
  return false;
}

/**
 * INVALID_ARGUMENT about the transaction after a Commit whose reply was lost and was re-sent: the
 * transaction may or may not have committed. Every transaction here re-reads what it writes, so a
 * rerun (by us, the provider or the client, with the same ids) is safe.
 */
export function isUnknownCommitOutcome(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 3 && typeof message === "string" && /transaction/i.test(message);
}
