/** upsertLesson: admins set course content; who may read it is firestore.rules' job (tools/rules-tests/test/lessons). */
import { upsertLesson } from "../../src/functions/upsertLesson";
import { ADMIN, call, createCourse, expectHttpsError, readDoc, snapshotAll } from "../support/harness";
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
