/**
 * upsertLesson: admins set course content; who may read it is firestore.rules' job (tools/rules-tests/test/lessons).
 * completeLesson: the learner's progress, counted once per lesson.
 */
import { completeLesson } from "../../src/functions/completeLesson";
import { upsertLesson } from "../../src/functions/upsertLesson";
import { firestore } from "../../src/shared/admin";
import {
  ADMIN,
  call,
  createCourse,
  enroll,
  expectHttpsError,
  readDoc,
  snapshotAll,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";

useLocalFirestore();

beforeEach(async () => {
  await createCourse("c1", 4900);
});

const lesson = { courseId: "c1", lessonId: "l1", title: "Getting started", order: 1 };

describe("upsertLesson", () => {
  it("creates a lesson (not a preview unless said), then replaces it whole, keeping its creation time", async () => {
    expect(await call(upsertLesson, ADMIN, { ...lesson, body: "Hello", preview: true })).toEqual({
      courseId: "c1",
      lessonId: "l1",
      created: true,
    });
    const first = await readDoc("courses/c1/lessons/l1");
    expect(first).toMatchObject({
      title: "Getting started",
      order: 1,
      preview: true,
      body: "Hello",
      mediaRef: null,
    });
    expect(await call(upsertLesson, ADMIN, { ...lesson, mediaRef: "videos/c1/l1.mp4" })).toMatchObject({
      created: false,
    });
    const second = await readDoc("courses/c1/lessons/l1");
    expect(second).toMatchObject({ preview: false, body: null, mediaRef: "videos/c1/l1.mp4" });
    expect(second?.createdAt).toEqual(first?.createdAt);
  });

  it("refuses students, unknown courses and bad input, changing nothing", async () => {
    const before = await snapshotAll();
    await expectHttpsError(call(upsertLesson, { uid: "student-1" }, lesson), "permission-denied");
    await expectHttpsError(call(upsertLesson, ADMIN, { ...lesson, courseId: "nope" }), "not-found");
    await expectHttpsError(call(upsertLesson, ADMIN, { ...lesson, order: -1 }), "invalid-argument");
    await expectHttpsError(call(upsertLesson, ADMIN, { ...lesson, lessonId: "a/b" }), "invalid-argument");
    await expectHttpsError(call(upsertLesson, ADMIN, { ...lesson, answerKey: "b" }), "invalid-argument");
    expect(await snapshotAll()).toEqual(before);
  });
});

describe("completeLesson", () => {
  const UID = "student-l";
  const ENROLLMENT = `users/${UID}/courses/c1`;
  const student = { uid: UID };

  beforeEach(async () => {
    await call(upsertLesson, ADMIN, { ...lesson, lessonId: "intro", preview: true });
    await call(upsertLesson, ADMIN, { ...lesson, lessonId: "paid-1", order: 2 });
    await enroll(UID, "c1");
  });

  const complete = (lessonId: string) => call(completeLesson, student, { courseId: "c1", lessonId });

  it("a preview counts at once; a paid lesson needs active access (permission-denied before, changing nothing)", async () => {
    expect(await complete("intro")).toEqual({ courseId: "c1", lessonId: "intro", newlyCompleted: true });
    const before = await snapshotAll();
    await expectHttpsError(complete("paid-1"), "permission-denied");
    expect(await snapshotAll()).toEqual(before);
    // Paid in full (as a payment would leave it): the server judges access from the totals, not the stored field.
    await firestore().doc(ENROLLMENT).update({ amountPaid: 4900, ledgerCount: 1, accessStatus: "active" });
    expect((await complete("paid-1")).newlyCompleted).toBe(true);
    expect(await readDoc(ENROLLMENT)).toMatchObject({ lessonsCompleted: 2 });
    expect(await readDoc(`${ENROLLMENT}/progress/paid-1`)).toMatchObject({ lessonId: "paid-1" });
  });

  it("counts a lesson once, however often and however concurrently it is sent", async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => complete("intro")));
    expect(answers.filter((a) => a.newlyCompleted)).toHaveLength(1);
    expect((await complete("intro")).newlyCompleted).toBe(false);
    expect(await readDoc(ENROLLMENT)).toMatchObject({ lessonsCompleted: 1 });
  });

  it("refuses a missing lesson, a course the student is not enrolled in, and no sign-in", async () => {
    await expectHttpsError(complete("nope"), "not-found");
    await createCourse("c2", 100);
    await expectHttpsError(
      call(completeLesson, student, { courseId: "c2", lessonId: "intro" }),
      "failed-precondition",
    );
    await expectHttpsError(
      call(completeLesson, null, { courseId: "c1", lessonId: "intro" }),
      "unauthenticated",
    );
  });
});
