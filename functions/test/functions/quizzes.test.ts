/**
 * Quizzes and per-video questions: upsertQuiz writes a quiz and its server-only key in one commit;
 * submitQuizAttempt grades on the server and records each attempt once per requestId, keeping attemptCount and
 * bestScore exact under concurrent, duplicated and retried submissions. Who may read what is firestore.rules' job
 * (tools/rules-tests/test/quizzes.test.ts).
 */
import { submitQuizAttempt } from "../../src/functions/submitQuizAttempt";
import { upsertLesson } from "../../src/functions/upsertLesson";
import { upsertQuiz } from "../../src/functions/upsertQuiz";
import { firestore } from "../../src/shared/admin";
import {
  ADMIN,
  call,
  countDocs,
  createCourse,
  enroll,
  expectHttpsError,
  readDoc,
  snapshotAll,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";

const lf = useLocalFirestore();

const UID = "student-q";
const student = { uid: UID };
const ENROLLMENT = `users/${UID}/courses/c1`;
const RESULT = `${ENROLLMENT}/quizResults/quiz-1`;

const choices = (...ids: string[]) => ids.map((id) => ({ id, text: `Choice ${id}` }));
/** Four questions worth 1, 2, 3 and 4 points: any subset of correct answers is a distinct score (0…10). */
const QUIZ = {
  courseId: "c1",
  quizId: "quiz-1",
  title: "Check your understanding",
  kind: "quiz",
  questions: [
    { id: "q1", prompt: "One", choices: choices("a", "b"), correct: ["a"], points: 1 },
    { id: "q2", prompt: "Two", choices: choices("a", "b"), correct: ["b"], points: 2 },
    {
      id: "q3",
      prompt: "Three",
      choices: choices("a", "b", "c"),
      correct: ["a", "c"],
      multiple: true,
      points: 3,
    },
    { id: "q4", prompt: "Four", choices: choices("a", "b"), correct: ["a"], points: 4 },
  ],
};
const RIGHT: Record<string, string | string[]> = { q1: "a", q2: "b", q3: ["c", "a"], q4: "a" };
const WRONG: Record<string, string | string[]> = { q1: "b", q2: "a", q3: ["b"], q4: "b" };
const POINTS: Record<string, number> = { q1: 1, q2: 2, q3: 3, q4: 4 };

/** Answers whose score is `score` (0…10): the questions in its binary digits answered right, the rest wrong. */
function answersScoring(score: number): Record<string, string | string[]> {
  const answers: Record<string, string | string[]> = {};
  let left = score;
  for (const id of ["q4", "q3", "q2", "q1"]) {
    const points = POINTS[id] as number;
    const right = left >= points;
    if (right) left -= points;
    answers[id] = (right ? RIGHT[id] : WRONG[id]) as string | string[];
  }
  if (left !== 0) throw new Error(`no answers score ${score}`);
  return answers;
}

const submit = (requestId: string, answers: Record<string, string | string[]>, quizId = "quiz-1") =>
  call(submitQuizAttempt, student, { courseId: "c1", quizId, answers, requestId });

async function grantAccess(): Promise<void> {
  // Paid in full, as a payment would leave it: the server judges access from the totals.
  await firestore().doc(ENROLLMENT).update({ amountPaid: 4900, ledgerCount: 1, accessStatus: "active" });
}

beforeEach(async () => {
  await createCourse("c1", 4900);
});

describe("upsertQuiz", () => {
  it("stores what students see without the key, and the key apart; a save replaces both and bumps the revision", async () => {
    expect(await call(upsertQuiz, ADMIN, QUIZ)).toEqual({
      courseId: "c1",
      quizId: "quiz-1",
      created: true,
      revision: 1,
      maxScore: 10,
    });
    const quiz = await readDoc("courses/c1/quizzes/quiz-1");
    expect(JSON.stringify(quiz)).not.toMatch(/correct/);
    expect(quiz).toMatchObject({
      title: QUIZ.title,
      kind: "quiz",
      lessonId: null,
      maxScore: 10,
      revision: 1,
    });
    expect((quiz?.questions as unknown[])[2]).toEqual({
      id: "q3",
      prompt: "Three",
      choices: choices("a", "b", "c"),
      points: 3,
      multiple: true,
      atSeconds: null,
    });
    expect(await readDoc("courses/c1/quizKeys/quiz-1")).toMatchObject({
      quizId: "quiz-1",
      revision: 1,
      key: [
        { questionId: "q1", correct: ["a"] },
        { questionId: "q2", correct: ["b"] },
        { questionId: "q3", correct: ["a", "c"] },
        { questionId: "q4", correct: ["a"] },
      ],
    });
    const again = await call(upsertQuiz, ADMIN, { ...QUIZ, questions: QUIZ.questions.slice(0, 1) });
    expect(again).toMatchObject({ created: false, revision: 2, maxScore: 1 });
    expect(await readDoc("courses/c1/quizKeys/quiz-1")).toMatchObject({
      revision: 2,
      key: [{ questionId: "q1" }],
    });
    expect((await readDoc("courses/c1/quizzes/quiz-1"))?.createdAt).toEqual(quiz?.createdAt);
  });

  it("per-video questions name an existing lesson and may carry a time", async () => {
    await call(upsertLesson, ADMIN, { courseId: "c1", lessonId: "video-1", title: "Video", order: 1 });
    const video = {
      ...QUIZ,
      quizId: "pvq-1",
      kind: "video",
      lessonId: "video-1",
      questions: [{ ...QUIZ.questions[0], atSeconds: 95 }],
    };
    expect(await call(upsertQuiz, ADMIN, video)).toMatchObject({ created: true });
    expect(await readDoc("courses/c1/quizzes/pvq-1")).toMatchObject({
      kind: "video",
      lessonId: "video-1",
      questions: [{ id: "q1", atSeconds: 95 }],
    });
  });

  it("refuses students, unknown courses or lessons, and definitions whose key does not fit, changing nothing", async () => {
    const before = await snapshotAll();
    const q1 = QUIZ.questions[0];
    await expectHttpsError(call(upsertQuiz, student, QUIZ), "permission-denied");
    await expectHttpsError(call(upsertQuiz, ADMIN, { ...QUIZ, courseId: "nope" }), "not-found");
    await expectHttpsError(call(upsertQuiz, ADMIN, { ...QUIZ, lessonId: "nope" }), "not-found");
    for (const questions of [
      [{ ...q1, correct: ["zz"] }],
      [{ ...q1, correct: ["a", "b"] }],
      [q1, q1],
      [{ ...q1, choices: choices("a") }],
      [{ ...q1, atSeconds: 10 }],
      [],
    ]) {
      await expectHttpsError(call(upsertQuiz, ADMIN, { ...QUIZ, questions }), "invalid-argument");
    }
    await expectHttpsError(call(upsertQuiz, ADMIN, { ...QUIZ, kind: "video" }), "invalid-argument");
    expect(await snapshotAll()).toEqual(before);
  });
});

describe("submitQuizAttempt", () => {
  beforeEach(async () => {
    await call(upsertQuiz, ADMIN, QUIZ);
    await enroll(UID, "c1");
  });

  it("grades on the server, answers correctness per question without the key, and records attempt and result", async () => {
    await grantAccess();
    const answer = await submit("attempt-0001", { q1: "a", q3: ["a", "c"], q4: "b" });
    expect(answer).toEqual({
      courseId: "c1",
      quizId: "quiz-1",
      attemptId: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown,
      score: 4,
      maxScore: 10,
      results: [
        { questionId: "q1", correct: true },
        { questionId: "q2", correct: false },
        { questionId: "q3", correct: true },
        { questionId: "q4", correct: false },
      ],
      attemptCount: 1,
      bestScore: 4,
      duplicate: false,
    });
    expect(await readDoc(`${ENROLLMENT}/quizAttempts/${answer.attemptId}`)).toMatchObject({
      quizId: "quiz-1",
      requestId: "attempt-0001",
      score: 4,
      quizRevision: 1,
      answers: [
        { questionId: "q1", choiceIds: ["a"] },
        { questionId: "q3", choiceIds: ["a", "c"] },
        { questionId: "q4", choiceIds: ["b"] },
      ],
    });
    expect(await readDoc(RESULT)).toMatchObject({
      attemptCount: 1,
      bestScore: 4,
      lastScore: 4,
      maxScore: 10,
    });
    const second = await submit("attempt-0002", WRONG);
    expect(second).toMatchObject({ score: 0, attemptCount: 2, bestScore: 4 });
    expect(await readDoc(RESULT)).toMatchObject({ attemptCount: 2, bestScore: 4, lastScore: 0 });
  });

  it("8 concurrent attempts with different scores: every one counted once, bestScore the maximum", async () => {
    await grantAccess();
    const scores = [3, 7, 1, 10, 0, 9, 4, 6];
    const answers = await Promise.all(scores.map((s, i) => submit(`concurrent-${i}`, answersScoring(s))));
    expect(answers.map((a) => a.score)).toEqual(scores);
    expect(answers.every((a) => !a.duplicate)).toBe(true);
    // Each attempt saw the summary right after its own commit: the counts 1…8, each once.
    expect(answers.map((a) => a.attemptCount).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const last = answers.find((a) => a.attemptCount === 8);
    expect(last?.bestScore).toBe(10);
    expect(await readDoc(RESULT)).toMatchObject({ attemptCount: 8, bestScore: 10 });
    expect(await countDocs(`${ENROLLMENT}/quizAttempts`)).toBe(8);
  });

  it("one requestId sent 8 times at once, then again: graded and counted once, every answer the same grade", async () => {
    await grantAccess();
    await submit("earlier-0001", answersScoring(5));
    const copies = await Promise.all(
      Array.from({ length: 8 }, () => submit("dup-000001", answersScoring(7))),
    );
    expect(copies.filter((c) => !c.duplicate)).toHaveLength(1);
    for (const copy of copies) {
      expect({ ...copy, duplicate: false }).toEqual({ ...copies[0], duplicate: false });
    }
    expect(copies[0]).toMatchObject({ score: 7, attemptCount: 2, bestScore: 7 });
    const retry = await submit("dup-000001", answersScoring(7));
    expect(retry).toEqual({ ...copies[0], duplicate: true });
    expect(await readDoc(RESULT)).toMatchObject({ attemptCount: 2, bestScore: 7 });
    expect(await countDocs(`${ENROLLMENT}/quizAttempts`)).toBe(2);
  });

  it("a quiz with maxAttempts: 6 different attempts at once count exactly 3; the rest are refused; retries still answer", async () => {
    await call(upsertQuiz, ADMIN, { ...QUIZ, maxAttempts: 3 });
    await grantAccess();
    const settled = await Promise.allSettled(
      [1, 2, 3, 4, 5, 6].map((s) => submit(`capped-00${s}`, answersScoring(s))),
    );
    const graded = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    expect(graded).toHaveLength(3);
    for (const refused of settled.filter((r) => r.status === "rejected"))
      expect(refused.reason).toMatchObject({ code: "failed-precondition" });
    expect(await readDoc(RESULT)).toMatchObject({
      attemptCount: 3,
      bestScore: Math.max(...graded.map((g) => g.score)),
    });
    expect(await countDocs(`${ENROLLMENT}/quizAttempts`)).toBe(3);
    // A retry of a counted attempt is answered from its record, cap or not.
    const first = graded[0];
    const again = await submit(`capped-00${first?.score ?? 0}`, answersScoring(first?.score ?? 0));
    expect(again).toEqual({ ...first, duplicate: true });
    await expectHttpsError(submit("capped-0099", answersScoring(9)), "failed-precondition");
  });

  it("distinct requestIds each sent 3 times, concurrently: exact count and best score", async () => {
    await grantAccess();
    const scores = [2, 8, 5, 1];
    const sends = scores.flatMap((s, i) =>
      [0, 1, 2].map(() => ({ id: `mixed-00${i}`, answers: answersScoring(s) })),
    );
    const answers = await Promise.all(sends.map((s) => submit(s.id, s.answers)));
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(4);
    expect(await readDoc(RESULT)).toMatchObject({ attemptCount: 4, bestScore: 8 });
    expect(await countDocs(`${ENROLLMENT}/quizAttempts`)).toBe(4);
  });

  it("a commit whose reply is lost is counted once, and the retry gets the stored grade", async () => {
    await grantAccess();
    lf.server().faults.inject({ method: "Commit", kind: "reply-lost", times: 1 });
    const first = await submit("lost-00001", answersScoring(6)).catch((error: unknown) => error);
    expect(lf.server().stats().faultsInjected).toBe(1);
    const retry = await submit("lost-00001", answersScoring(6));
    expect(retry).toMatchObject({ score: 6, attemptCount: 1, bestScore: 6 });
    if (!(first instanceof Error)) expect(first).toMatchObject({ score: 6, attemptCount: 1 });
    expect(await readDoc(RESULT)).toMatchObject({ attemptCount: 1, bestScore: 6 });
    expect(await countDocs(`${ENROLLMENT}/quizAttempts`)).toBe(1);
  });

  it("a requestId reused for other answers or another quiz is refused, changing nothing", async () => {
    await grantAccess();
    await call(upsertQuiz, ADMIN, { ...QUIZ, quizId: "quiz-2" });
    await submit("reused-0001", RIGHT);
    const before = await snapshotAll();
    await expectHttpsError(submit("reused-0001", WRONG), "invalid-argument");
    await expectHttpsError(submit("reused-0001", RIGHT, "quiz-2"), "invalid-argument");
    expect(await snapshotAll()).toEqual(before);
    // The same answers in another order are the same attempt.
    expect(await submit("reused-0001", { q4: "a", q3: ["a", "c"], q2: ["b"], q1: "a" })).toMatchObject({
      duplicate: true,
      score: 10,
    });
  });

  it("refuses without active access, without enrollment, for unknown quizzes, questions or choices, changing nothing", async () => {
    const before = await snapshotAll();
    await expectHttpsError(submit("locked-0001", RIGHT), "permission-denied");
    await grantAccess();
    const granted = await snapshotAll();
    await expectHttpsError(submit("unknown-001", RIGHT, "nope"), "not-found");
    await expectHttpsError(submit("unknown-002", { ...RIGHT, q9: "a" }), "invalid-argument");
    await expectHttpsError(submit("unknown-003", { q1: "zz" }), "invalid-argument");
    await expectHttpsError(submit("unknown-004", { q1: ["a", "b"] }), "invalid-argument");
    await expectHttpsError(submit("unknown-005", { q3: ["a", "a"] }), "invalid-argument");
    await expectHttpsError(submit("short", RIGHT), "invalid-argument");
    await expectHttpsError(
      call(submitQuizAttempt, student, {
        courseId: "c1",
        quizId: "quiz-1",
        answers: RIGHT,
        requestId: "x-000001",
        key: 1,
      }),
      "invalid-argument",
    );
    await expectHttpsError(
      call(
        submitQuizAttempt,
        { uid: "stranger" },
        { courseId: "c1", quizId: "quiz-1", answers: RIGHT, requestId: "s-000001" },
      ),
      "failed-precondition",
    );
    await expectHttpsError(
      call(submitQuizAttempt, null, {
        courseId: "c1",
        quizId: "quiz-1",
        answers: RIGHT,
        requestId: "n-000001",
      }),
      "unauthenticated",
    );
    expect(await snapshotAll()).toEqual(granted);
    expect(before).not.toEqual(granted);
  });
});
