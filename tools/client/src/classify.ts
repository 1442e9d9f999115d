/**
 * Which failures are worth retrying. A table from canonical error code to "retry?", applied to Firebase
 * errors (`FunctionsError.code` is "functions/<code>"; other Firebase SDKs use "<service>/<code>"; bare codes
 * are accepted too) and to network failures, which get the pseudo-code "network".
 */

/** The canonical (gRPC / Firebase) error codes, plus "network" for a request that never got an answer. */
export type RetryCode =
  | "ok"
  | "cancelled"
  | "unknown"
  | "invalid-argument"
  | "deadline-exceeded"
  | "not-found"
  | "already-exists"
  | "permission-denied"
  | "resource-exhausted"
  | "failed-precondition"
  | "aborted"
  | "out-of-range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data-loss"
  | "unauthenticated"
  | "network";

export type RetryTable = Readonly<Record<RetryCode, boolean>>;

/**
 * The default classification. Transient: the server or the network may answer differently next time.
 * Permanent: the same request will fail the same way (bad input, no permission, a business rule), or the
 * caller cancelled. `unknown` and `data-loss` are not retried either: there is no reason to expect better.
 */
export const DEFAULT_RETRY_TABLE: RetryTable = Object.freeze({
  unavailable: true,
  "deadline-exceeded": true,
  "resource-exhausted": true,
  aborted: true,
  internal: true,
  network: true,
  "invalid-argument": false,
  "permission-denied": false,
  unauthenticated: false,
  "not-found": false,
  "already-exists": false,
  "failed-precondition": false,
  "out-of-range": false,
  unimplemented: false,
  cancelled: false,
  unknown: false,
  "data-loss": false,
  ok: false,
});

const RETRY_CODES: ReadonlySet<string> = new Set(Object.keys(DEFAULT_RETRY_TABLE));

/** Node / undici error codes of a connection that failed or dropped. */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETDOWN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/** What `fetch` throws when no response arrived: Chrome, Firefox, Safari, React Native and Node/undici. */
const NETWORK_MESSAGE =
  /^(failed to fetch|networkerror when attempting to fetch resource\.?|load failed|network request failed|fetch failed)$/i;

function fieldOf(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * True for a request that never got an answer: `fetch`'s TypeError, a Node socket error (also as the `cause`
 * of undici's "fetch failed"), or a Firebase "<service>/network-request-failed". Note that `httpsCallable`
 * itself reports a failed fetch as "functions/internal", which the default table retries as well.
 */
export function isNetworkError(error: unknown, depth = 0): boolean {
  if (depth > 3 || typeof error !== "object" || error === null) return false;
  const code = fieldOf(error, "code");
  if (typeof code === "string") {
    if (NETWORK_ERROR_CODES.has(code)) return true;
    if (code === "network-request-failed" || code.endsWith("/network-request-failed")) return true;
  }
  const message = fieldOf(error, "message");
  if (error instanceof TypeError && typeof message === "string" && NETWORK_MESSAGE.test(message)) return true;
  return isNetworkError(fieldOf(error, "cause"), depth + 1);
}

/**
 * The canonical code of an error: "network" for network failures, the code of a Firebase error without its
 * "<service>/" prefix ("functions/unavailable" → "unavailable"), a bare code as is; undefined otherwise.
 * Codes outside {@link RetryCode} are returned unchanged (and are not retried by the table).
 */
export function errorCodeOf(error: unknown): string | undefined {
  if (isNetworkError(error)) return "network";
  const code = fieldOf(error, "code");
  if (typeof code !== "string" || code === "") return undefined;
  const slash = code.indexOf("/");
  return slash === -1 ? code : code.slice(slash + 1);
}

/**
 * The server's own hint of when to try again, in ms: `details.retryAfterSeconds` of an HttpsError (the backend
 * sends it with `resource-exhausted` when a rate limit is hit). Undefined when there is none.
 */
export function retryAfterMsOf(error: unknown): number | undefined {
  const seconds = fieldOf(fieldOf(error, "details"), "retryAfterSeconds");
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** The table's decision for an error (errors without a known code are never retried). */
export function isRetryable(error: unknown, table: RetryTable = DEFAULT_RETRY_TABLE): boolean {
  const code = errorCodeOf(error);
  return code !== undefined && RETRY_CODES.has(code) && table[code as RetryCode];
}

/** The default table with some entries changed, e.g. `{ internal: false }`. */
export function retryTable(overrides: Partial<Record<RetryCode, boolean>> = {}): RetryTable {
  const table: Record<RetryCode, boolean> = { ...DEFAULT_RETRY_TABLE };
  for (const [code, retry] of Object.entries(overrides)) {
    if (!RETRY_CODES.has(code)) throw new RangeError(`unknown retry code: ${code}`);
    if (typeof retry === "boolean") table[code as RetryCode] = retry;
  }
  return Object.freeze(table);
}
