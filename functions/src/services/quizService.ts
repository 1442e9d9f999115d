/**
 * Quizzes and per-video questions, graded on the server against keys no client can read (firestore.rules).
 *
 * `upsertQuiz` writes the quiz (what students read) and its key (`quizKeys`, server only) in one transaction, both
 * with the same `revision`, so a grader never pairs a quiz with another revision's key.
 *
 * `submitQuizAttempt` records each attempt exactly once per (uid, requestId) and keeps the per-quiz summary exact.
 * The attempt is a keyed document (id = hash of uid and requestId, domain/ids) created in the same commit that
 * updates `quizResults/{quizId}`; a retry, a concurrent copy or a Commit re-sent after a lost reply fails on that
 * create as a whole and then answers with the attempt it repeats. `attemptCount` alone could be a blind
 * `increment`, as completeLesson's count is, but `bestScore` is a maximum, and Firestore's increments cannot take
 * one. So the commit is guarded instead: the summary is updated with a `lastUpdateTime` precondition (created with
 * `create` when there is none yet), from the summary this request read. A concurrent attempt that committed in
 * between fails the precondition (or the create), and this request reads again and recomputes from the newer
 * summary. This is optimistic concurrency with no lock held across round trips, and every round one contender
 * wins, so n concurrent attempts need at most n rounds; the bound below only turns pathological contention into
 * `unavailable` (retrying the same requestId is safe). A transaction would be exact too, but it holds read locks
 * between its read and its commit, and contending transactions abort and back off; here only the loser re-reads.
 */
import { FieldValue, type DocumentSnapshot } from "firebase-admin/firestore";
import type { SubmitQuizAttemptResponse, UpsertQuizResponse } from "../api";
import { quizAttemptIdFor } from "../domain/ids";
import {
  answersProblem,
  canonicalAnswers,
  gradeAnswers,
  mayAttempt,
  nextQuizResult,
  sameAnswers,
  splitDefinition,
  type AnswersProblem,
  type CanonicalAnswers,
} from "../domain/quiz";
import type { SubmitQuizAttemptInput, UpsertQuizInput } from "../schemas/callables";
import { firestore } from "../shared/admin";
import {
  AppError,
  CorruptDataError,
  failedPrecondition,
  invalidArgument,
  isCommitConflict,
  notFound,
  permissionDenied,
} from "../shared/errors";
import type { EnrollmentDoc, QuizAttemptDoc, QuizDoc, QuizKeyDoc, QuizResultDoc } from "./firestore/models";
import { refs } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";

/** Sets a quiz and its key, whole, in one commit. The course (and the lesson, when named) must exist. */
export async function upsertQuiz(input: UpsertQuizInput): Promise<UpsertQuizResponse> {
  const { courseId, quizId } = input;
  const quizRef = refs.quiz(courseId, quizId);
  const keyRef = refs.quizKey(courseId, quizId);
  const lessonRef =
    input.lessonId === undefined ? null : refs.course(courseId).collection("lessons").doc(input.lessonId);
  const { questions, key, maxScore } = splitDefinition(input.questions);
  return runTransaction(async (tx) => {
    const [course, existing, lesson] = await Promise.all([
      tx.get(refs.course(courseId)),
      tx.get(quizRef),
      lessonRef === null ? null : tx.get(lessonRef),
    ]);
    if (!course.exists) throw notFound("No such course.");
    if (lesson?.exists === false) throw notFound("No such lesson.");
    const previous = existing.data();
    const revision = (previous?.revision ?? 0) + 1;
    tx.set(quizRef, {
      title: input.title,
      kind: input.kind,
      lessonId: input.lessonId ?? null,
      questions,
      maxScore,
      maxAttempts: input.maxAttempts ?? null,
      revision,
      createdAt: previous?.createdAt ?? FieldValue.serverTimestamp(),
      updatedAt: FieldValue.serverTimestamp(),
    });
    tx.set(keyRef, { quizId, revision, key, updatedAt: FieldValue.serverTimestamp() });
    return { courseId, quizId, created: previous === undefined, revision, maxScore };
  });
}

/** Rounds of read-and-commit before a submission gives up as `unavailable` (see the module comment). */
const MAX_SUBMIT_ROUNDS = 25;

const ANSWER_MESSAGES: Record<AnswersProblem["kind"], string> = {
  "unknown-question": "An answer names a question this quiz does not have.",
  "unknown-choice": "An answer names a choice its question does not have.",
  "duplicate-choice": "An answer names the same choice twice.",
  "several-choices-for-single": "A single-choice question takes exactly one choice.",
};

function storedAnswers(answers: CanonicalAnswers): QuizAttemptDoc["answers"] {
  return answers.map(([questionId, choiceIds]) => ({ questionId, choiceIds }));
}

/** The response for an attempt already recorded under this requestId (refused if it was for other answers). */
function replay(
  attempt: QuizAttemptDoc,
  input: SubmitQuizAttemptInput,
  attemptId: string,
  answers: CanonicalAnswers,
): SubmitQuizAttemptResponse {
  const recorded: CanonicalAnswers = attempt.answers.map((a) => [a.questionId, a.choiceIds]);
  if (attempt.quizId !== input.quizId || !sameAnswers(recorded, answers)) {
    throw invalidArgument("This requestId was already used for a different attempt; use a new requestId.");
  }
  return response(input, attemptId, attempt, true);
}

function response(
  input: SubmitQuizAttemptInput,
  attemptId: string,
  attempt: Pick<QuizAttemptDoc, "score" | "maxScore" | "results" | "attemptCount" | "bestScore">,
  duplicate: boolean,
): SubmitQuizAttemptResponse {
  return {
    courseId: input.courseId,
    quizId: input.quizId,
    attemptId,
    score: attempt.score,
    maxScore: attempt.maxScore,
    results: attempt.results.map((r) => ({ questionId: r.questionId, correct: r.correct })),
    attemptCount: attempt.attemptCount,
    bestScore: attempt.bestScore,
    duplicate,
  };
}

/** Grades the caller's answers against the key and records the attempt once per requestId (module comment). */
export async function submitQuizAttempt(
  uid: string,
  input: SubmitQuizAttemptInput,
): Promise<SubmitQuizAttemptResponse> {
  const { courseId, quizId } = input;
  const attemptId = quizAttemptIdFor(uid, input.requestId);
  const answers = canonicalAnswers(input.answers);
  const enrollmentRef = refs.enrollment(uid, courseId);
  const attemptRef = refs.quizAttempt(uid, courseId, attemptId);
  const resultRef = refs.quizResult(uid, courseId, quizId);
  const quizRef = refs.quiz(courseId, quizId);
  const keyRef = refs.quizKey(courseId, quizId);
  for (let round = 0; round < MAX_SUBMIT_ROUNDS; round++) {
    const snaps = await firestore().getAll(attemptRef, enrollmentRef, quizRef, keyRef, resultRef);
    const recorded = snaps[0]?.data() as QuizAttemptDoc | undefined;
    if (recorded !== undefined) return replay(recorded, input, attemptId, answers);
    // The same judgement as completeLesson: access as the status policy derives it from the totals (refs converter).
    const enrollment = snaps[1]?.data() as EnrollmentDoc | undefined;
    if (enrollment === undefined) throw failedPrecondition("Enroll in the course first.");
    if (enrollment.accessStatus !== "active")
      throw permissionDenied("Your access to this course is not active.");
    const quiz = snaps[2]?.data() as QuizDoc | undefined;
    if (quiz === undefined) throw notFound("No such quiz.");
    const key = snaps[3]?.data() as QuizKeyDoc | undefined;
    if (key === undefined || key.revision !== quiz.revision) {
      // upsertQuiz writes both in one commit, and getAll reads both at one time: a bug or a manual edit.
      throw new CorruptDataError(
        keyRef.path,
        "the answer key is missing or of another revision than its quiz",
      );
    }
    const problem = answersProblem(quiz.questions, answers);
    if (problem !== null) {
      throw invalidArgument(ANSWER_MESSAGES[problem.kind], { questionId: problem.questionId });
    }
    const resultSnap = snaps[4] as DocumentSnapshot<QuizResultDoc> | undefined;
    const previous = resultSnap?.data();
    // Judged on the result this round's commit is conditioned on: concurrent attempts cannot pass the cap together.
    if (!mayAttempt(previous?.attemptCount ?? 0, quiz.maxAttempts)) {
      throw failedPrecondition("No attempts of this quiz left.", { maxAttempts: quiz.maxAttempts ?? null });
    }
    const grade = gradeAnswers(quiz.questions, key.key, answers);
    const summary = nextQuizResult(previous ?? null, grade.score);
    const attempt: Omit<QuizAttemptDoc, "submittedAt"> = {
      quizId,
      requestId: input.requestId,
      answers: storedAnswers(answers),
      ...grade,
      ...summary,
      quizRevision: quiz.revision,
    };
    const batch = firestore().batch();
    batch.create(attemptRef, { ...attempt, submittedAt: FieldValue.serverTimestamp() });
    const result = {
      quizId,
      bestScore: summary.bestScore,
      lastScore: grade.score,
      maxScore: grade.maxScore,
      lastAttemptId: attemptId,
      updatedAt: FieldValue.serverTimestamp(),
    };
    if (previous === undefined || resultSnap === undefined)
      batch.create(resultRef, { ...result, attemptCount: 1 });
    else
      batch.update(
        resultRef,
        { ...result, attemptCount: FieldValue.increment(1) },
        { lastUpdateTime: resultSnap.updateTime },
      );
    try {
      await batch.commit();
      return response(input, attemptId, attempt, false);
    } catch (error) {
      // Another attempt (or this one, re-sent after a lost reply) committed first: read again.
      if (!isCommitConflict(error)) throw error;
    }
  }
  throw new AppError("unavailable", "Too many attempts of this quiz at once; retry the same requestId.");
}
