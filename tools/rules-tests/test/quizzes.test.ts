/**
 * Issue 15: quizzes are readable exactly while the reader's enrollment grants access (no previews), and answer keys
 * are readable by no client role in any state: signed out, another user, the owner with every access state
 * (active included) and an admin — by get, list and collection-group query. Attempts and results are the owner's
 * and admins' to read, and nobody's to write from a client.
 */
import { assertFails, assertSucceeds } from "@firebase/rules-unit-testing";
import {
  collection,
  collectionGroup,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  setDoc,
  type Firestore,
} from "firebase/firestore";

import { ACCESS_CASES, setOwnerAccess } from "./support/access";
import { dbFor, firestoreOf, ROLES } from "./support/env";
import { PATHS, PUBLISHED_COURSE, seedData, useSeededEnvironment } from "./support/fixtures";

// Fails the whole file, loudly, when no emulator is configured.
const holder = useSeededEnvironment();
const owner = () => dbFor(holder.get(), "owner");
const quizzes = `courses/${PUBLISHED_COURSE}/quizzes`;
const quizKeys = `courses/${PUBLISHED_COURSE}/quizKeys`;

async function expectKeyUnreadable(db: Firestore): Promise<void> {
  await assertFails(getDoc(doc(db, PATHS.quizKey)));
  await assertFails(getDocs(collection(db, quizKeys)));
  await assertFails(getDocs(collectionGroup(db, "quizKeys")));
}

describe.each(ACCESS_CASES)("the owner's enrollment accessStatus %s", (accessStatus, readable) => {
  beforeEach(() => setOwnerAccess(holder.get(), accessStatus));

  test(`the quiz and the course's quiz list: ${readable ? "readable" : "refused"}`, async () => {
    const get = getDoc(doc(owner(), PATHS.quiz));
    const list = getDocs(collection(owner(), quizzes));
    if (readable) {
      expect((await assertSucceeds(get)).data()).toEqual(seedData(PATHS.quiz));
      expect((await assertSucceeds(list)).docs.map((d) => d.id)).toEqual(["quiz-1"]);
    } else {
      await assertFails(get);
      await assertFails(list);
    }
  });

  test("the answer key is unreadable to every role", async () => {
    for (const role of ROLES) await expectKeyUnreadable(dbFor(holder.get(), role));
  });

  test("no quiz, key, attempt or result can be written from a client", async () => {
    const db = owner();
    await assertFails(setDoc(doc(db, PATHS.quiz), { maxScore: 0 }, { merge: true }));
    await assertFails(setDoc(doc(db, PATHS.quizKey), { key: [] }));
    await assertFails(setDoc(doc(db, PATHS.ownerQuizResult), { bestScore: 1 }, { merge: true }));
    await assertFails(setDoc(doc(db, `${PATHS.ownerQuizAttempt}-forged`), { quizId: "quiz-1", score: 1 }));
    await assertFails(deleteDoc(doc(db, PATHS.ownerQuizAttempt)));
  });
});

test("admins read quizzes but not keys; another student's active enrollment grants the owner nothing", async () => {
  await assertSucceeds(getDoc(doc(dbFor(holder.get(), "admin"), PATHS.quiz)));
  await holder.get().withSecurityRulesDisabled(async (context) => {
    await setDoc(doc(firestoreOf(context), PATHS.otherEnrollment), {
      ...seedData(PATHS.otherEnrollment),
      accessStatus: "active",
    });
  });
  await assertFails(getDoc(doc(owner(), PATHS.quiz)));
  const other = dbFor(holder.get(), "otherUser");
  await assertSucceeds(getDoc(doc(other, PATHS.quiz)));
  await expectKeyUnreadable(other);
  // The owner's attempts and results stay the owner's.
  await assertFails(getDoc(doc(other, PATHS.ownerQuizAttempt)));
  await assertFails(getDoc(doc(other, PATHS.ownerQuizResult)));
});
