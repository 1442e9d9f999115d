/** Caller identity helpers shared by the callables. */
import type { CallableRequest } from "firebase-functions/v2/https";

export type CallerAuth = NonNullable<CallableRequest["auth"]>;

/** Admins carry the custom claim `admin: true` (exactly `true`, not a truthy string). */
export function isAdminToken(auth: CallerAuth | undefined): boolean {
  if (auth === undefined) return false;
  const claims: Record<string, unknown> = auth.token;
  return claims.admin === true;
}
