/**
 * The one wrapper every callable goes through:
 *   (App Check, enforced by firebase-functions before this code runs; see config.appCheckEnforced) → auth check → (admin check) → hostile-key check → zod parse → handler → error mapping.
 * ZodError → `invalid-argument` listing the offending field paths (no values, no internals);
 * AppError → its own code and message; transient infrastructure errors → `unavailable` (the call is
 * idempotent, so retrying is safe); anything else → logged with ids and answered `internal` with a generic
 * message. The schema and handler are loaded lazily (`load`), so a cold start pays neither for zod nor for
 * firebase-admin or Stripe; only the instance that serves a function loads what that function needs.
 */
import type { SecretParam } from "firebase-functions/params";
import { HttpsError, onCall, type CallableFunction, type CallableRequest } from "firebase-functions/v2/https";
import type { z } from "zod";
import { isUid } from "../domain/ids";
import { hasForbiddenKeys } from "./inputGuards";
import { isAdminToken } from "./auth";
import { REGION, appCheckEnforced } from "./config";
import { AppError, CorruptDataError, isTransientError, isUnknownCommitOutcome } from "./errors";
import { logError, logWarn } from "./log";

export interface CallContext {
  uid: string;
  isAdmin: boolean;
  /** The `email` claim of the caller's verified ID token; null when the account has none. */
  email: string | null;
}

export interface LoadedCallable<S extends z.ZodType, R> {
  schema: S;
  handler: (input: z.output<S>, ctx: CallContext) => Promise<R>;
}

export interface CallableSpec<S extends z.ZodType, R> {
  /** Export name, for logs. */
  name: string;
  adminOnly?: boolean;
  secrets?: SecretParam[];
  /** Loads the input schema and the handler (dynamic imports; Node caches them after the first call). */
  load: () => Promise<LoadedCallable<S, R>>;
}

/** The parse step alone, exported for tests and reuse. */
export function parseInput<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  if (hasForbiddenKeys(data)) {
    throw new HttpsError("invalid-argument", "Invalid input: forbidden or too deeply nested keys.");
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const fields = [
      ...new Set(parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)")),
    ].slice(0, 20);
    throw new HttpsError("invalid-argument", `Invalid input: ${fields.join(", ")}`, { fields });
  }
  return parsed.data;
}

/** Maps any thrown value to the HttpsError a client may see. */
export function toHttpsError(error: unknown, logFields: Record<string, string | undefined>): HttpsError {
  if (error instanceof HttpsError) return error;
  if (error instanceof AppError) return new HttpsError(error.code, error.message, error.details);
  if (error instanceof CorruptDataError) {
    logError(
      "stored document cannot be used",
      { ...logFields, path: error.path, reason: error.reason },
      error,
    );
    return new HttpsError(
      "failed-precondition",
      "Stored data this request needs is not in a usable shape; an admin has to correct it.",
    );
  }
  if (isTransientError(error) || isUnknownCommitOutcome(error)) {
    logWarn("transient failure", {
      ...logFields,
      errorName: error instanceof Error ? error.name : "unknown",
    });
    return new HttpsError("unavailable", "Temporarily unavailable; retry the same request.");
  }
  logError("callable failed", logFields, error);
  return new HttpsError("internal", "Internal error.");
}

export async function runCallable<S extends z.ZodType, R>(
  spec: CallableSpec<S, R>,
  request: CallableRequest<unknown>,
): Promise<R> {
  const auth = request.auth;
  if (auth === undefined) throw new HttpsError("unauthenticated", "Sign in first.");
  if (!isUid(auth.uid)) throw new HttpsError("permission-denied", "This account cannot use this function.");
  const isAdmin = isAdminToken(auth);
  if (spec.adminOnly === true && !isAdmin) throw new HttpsError("permission-denied", "Admins only.");
  let loaded: LoadedCallable<S, R>;
  try {
    loaded = await spec.load();
  } catch (error) {
    throw toHttpsError(error, { fn: spec.name, uid: auth.uid });
  }
  const input = parseInput(loaded.schema, request.data);
  try {
    // Only an address the auth provider verified: with email/password sign-up anyone can claim any address.
    const email =
      typeof auth.token.email === "string" && auth.token.email_verified === true ? auth.token.email : null;
    return await loaded.handler(input, { uid: auth.uid, isAdmin, email });
  } catch (error) {
    throw toHttpsError(error, { fn: spec.name, uid: auth.uid });
  }
}

export function validatedOnCall<S extends z.ZodType, R>(
  spec: CallableSpec<S, R>,
): CallableFunction<unknown, Promise<R>> {
  return onCall(
    { region: REGION, secrets: spec.secrets ?? [], enforceAppCheck: appCheckEnforced() },
    (request) => runCallable(spec, request),
  );
}
