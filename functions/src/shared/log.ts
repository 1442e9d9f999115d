/**
 * Logging through `firebase-functions/logger`, ids only. Callers pass a flat object of ids and small enums;
 * never a whole payload, token or secret.
 */
import * as logger from "firebase-functions/logger";

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export function logInfo(message: string, fields: LogFields): void {
  logger.info(message, fields);
}

export function logWarn(message: string, fields: LogFields): void {
  logger.warn(message, fields);
}

/** Logs an unexpected error by class name and message (server-side only) plus ids. */
export function logError(message: string, fields: LogFields, error: unknown): void {
  const err = error instanceof Error ? error : undefined;
  logger.error(message, {
    ...fields,
    errorName: err?.name ?? typeof error,
    errorMessage: err?.message.slice(0, 500),
    errorCode: errorCodeOf(error),
    stack: err?.stack?.split("\n").slice(0, 8).join("\n"),
  });
}

function errorCodeOf(error: unknown): string | number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" || typeof code === "number" ? code : undefined;
}
