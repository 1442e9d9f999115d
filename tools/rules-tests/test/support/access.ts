/** The access states content rules are tested over (lessons, quizzes): the owner's enrollment as the server leaves it. */
import type { RulesTestEnvironment } from "@firebase/rules-unit-testing";
import { deleteDoc, doc, setDoc } from "firebase/firestore";

import { firestoreOf } from "./env";
import { PATHS, seedData } from "./fixtures";

/** Every accessStatus the backend writes, and no enrollment at all (null), with whether it grants access. */
export const ACCESS_CASES = [
  ["active", true],
  ["locked", false],
  ["suspended", false],
  ["revoked", false],
  [null, false],
] as const;

/** Sets the owner's enrollment to `accessStatus` (or removes it), as the server would. */
export async function setOwnerAccess(
  testEnv: RulesTestEnvironment,
  accessStatus: string | null,
): Promise<void> {
  await testEnv.withSecurityRulesDisabled(async (context) => {
    const ref = doc(firestoreOf(context), PATHS.ownerEnrollment);
    if (accessStatus === null) await deleteDoc(ref);
    else await setDoc(ref, { ...seedData(PATHS.ownerEnrollment), accessStatus });
  });
}
