/**
 * The learner's `users/{uid}` profile, created by the server: `uid`, `email` (from the caller's verified ID token;
 * null for accounts without one) and `createdAt`, each written only when absent, so a display name or photo the
 * user wrote (firestore.rules lets the owner write `displayName` and `photoURL`, and create the document with only
 * those) is never touched, and a profile the client created first simply gains the server fields.
 *
 * Called by the `ensureProfile` callable (clients call it once after sign-in) and by `enrollInCourse`. Why not an
 * Auth trigger: Cloud Functions v2 has no "user created" event, only the blocking `beforeUserCreated`, which needs
 * Identity Platform and puts this write on the sign-up path; the v1 `auth.user().onCreate` would be this codebase's
 * only first-generation function, and it runs after sign-in returns, so a client still could not count on the
 * document. An idempotent callable the client awaits, plus the enrollment path, needs neither.
 */
import { FieldValue } from "firebase-admin/firestore";
import type { EnsureProfileResponse } from "../api";
import { firestore } from "../shared/admin";
import { COLLECTIONS } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";

/** The server's fields of a profile (the rules keep clients from writing any of them). */
const SERVER_FIELDS = ["uid", "email", "createdAt"] as const;

/** Creates the profile, or adds the server fields it lacks; idempotent and safe to run concurrently. */
export async function ensureProfile(uid: string, email: string | null): Promise<EnsureProfileResponse> {
  const ref = firestore().collection(COLLECTIONS.users).doc(uid);
  return runTransaction(async (tx) => {
    const existing = (await tx.get(ref)).data() ?? null;
    const values = { uid, email, createdAt: FieldValue.serverTimestamp() };
    const missing = Object.fromEntries(
      SERVER_FIELDS.filter((field) => existing === null || !(field in existing)).map((f) => [f, values[f]]),
    );
    if (existing === null) tx.create(ref, missing);
    else if (Object.keys(missing).length > 0) tx.update(ref, missing);
    const storedEmail: unknown = existing !== null && "email" in existing ? existing.email : email;
    return {
      uid,
      email: typeof storedEmail === "string" ? storedEmail : null,
      created: Object.keys(missing).length > 0,
    };
  });
}
