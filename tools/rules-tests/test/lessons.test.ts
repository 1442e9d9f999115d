/**
 * Issue 15: course content is readable exactly while the reader's enrollment grants access. For every access
 * state the backend writes (and for no enrollment at all), the owner's reads of a paid lesson, an unconstrained list
 * of the course's lessons and a preview, through the client SDK; writes are refused whatever the state.
 */
import { assertFails, assertSucceeds } from "@firebase/rules-unit-testing";
import { collection, deleteDoc, doc, getDoc, getDocs, query, setDoc, where } from "firebase/firestore";

import { ACCESS_CASES, setOwnerAccess } from "./support/access";
import { dbFor, firestoreOf } from "./support/env";
import { PATHS, PUBLISHED_COURSE, seedData, useSeededEnvironment } from "./support/fixtures";

// Fails the whole file, loudly, when no emulator is configured.
const holder = useSeededEnvironment();
const owner = () => dbFor(holder.get(), "owner");
const lessons = `courses/${PUBLISHED_COURSE}/lessons`;

describe.each(ACCESS_CASES)("the owner's enrollment accessStatus %s", (accessStatus, readable) => {
  beforeEach(() => setOwnerAccess(holder.get(), accessStatus));

  test(`paid lesson and the unconstrained lesson list: ${readable ? "readable" : "refused"}`, async () => {
    const get = getDoc(doc(owner(), PATHS.paidLesson));
    const list = getDocs(collection(owner(), lessons));
    if (readable) {
      expect((await assertSucceeds(get)).data()).toEqual(seedData(PATHS.paidLesson));
      expect((await assertSucceeds(list)).docs.map((d) => d.id).sort()).toEqual(["deep-dive", "intro"]);
    } else {
      await assertFails(get);
      await assertFails(list);
    }
  });

  test("the preview is readable, and a preview-constrained list returns only previews", async () => {
    await assertSucceeds(getDoc(doc(owner(), PATHS.previewLesson)));
    const previews = await assertSucceeds(
      getDocs(query(collection(owner(), lessons), where("preview", "==", true))),
    );
    expect(previews.docs.map((d) => d.id)).toEqual(["intro"]);
  });

  test("no lesson can be written from a client", async () => {
    await assertFails(setDoc(doc(owner(), PATHS.paidLesson), { preview: true }, { merge: true }));
    await assertFails(setDoc(doc(owner(), `${lessons}/mine`), { title: "Mine", order: 3, preview: true }));
    await assertFails(deleteDoc(doc(owner(), PATHS.previewLesson)));
  });
});

test("another student's active enrollment grants the owner nothing", async () => {
  await holder.get().withSecurityRulesDisabled(async (context) => {
    await setDoc(doc(firestoreOf(context), PATHS.otherEnrollment), {
      ...seedData(PATHS.otherEnrollment),
      accessStatus: "active",
    });
  });
  await assertFails(getDoc(doc(owner(), PATHS.paidLesson)));
  await assertSucceeds(getDoc(doc(dbFor(holder.get(), "otherUser"), PATHS.paidLesson)));
});
