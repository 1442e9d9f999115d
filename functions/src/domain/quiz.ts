/**
 * Quizzes and per-video questions (PVQ), graded on the server. Pure: plain values in, plain values out.
 *
 * A quiz (what students read) is a list of questions, each with its choices and its points; the answer key (which
 * choices are correct) is stored apart, where no client can read it. A question is single-choice (exactly one
 * correct choice; the student answers one) or `multiple` (one or more correct choices; the student answers a set,
 * graded all-or-nothing: the set must equal the key's). An unanswered question scores 0.
 */

export const QUIZ_KINDS = ["quiz", "video"] as const;
/** `quiz`: a question set of a course (or lesson); `video`: per-video questions, each optionally at `atSeconds`. */
export type QuizKind = (typeof QUIZ_KINDS)[number];

/** Bounds of one quiz: small enough that a quiz, its key and an attempt each stay far below 1 MiB. */
export const QUIZ_LIMITS = {
  maxAttempts: 100,
  questions: 50,
  choices: 10,
  points: 100,
  promptChars: 2000,
  choiceChars: 500,
  /** Where a per-video question pops up, in seconds from the start of the video (12 hours). */
  atSeconds: 43_200,
} as const;

/** Question and choice ids: short keys chosen by the admin. */
export const QUIZ_ITEM_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export interface QuizChoice {
  id: string;
  text: string;
}

/** A question as students see it (no key). */
export interface QuizQuestion {
  id: string;
  prompt: string;
  choices: QuizChoice[];
  points: number;
  multiple: boolean;
  /** Per-video questions: when it is asked; null otherwise. */
  atSeconds: number | null;
}

/** The key of one question: its correct choice ids, sorted. */
export interface QuestionKey {
  questionId: string;
  correct: string[];
}

/** A question as the admin defines it: the question and its correct choices together. */
export interface QuestionDefinition extends Omit<QuizQuestion, "multiple" | "atSeconds" | "points"> {
  correct: string[];
  multiple?: boolean | undefined;
  points?: number | undefined;
  atSeconds?: number | undefined;
}

/** Where a definition is wrong: the path of the offending field, as zod reports paths. */
export interface DefinitionProblem {
  path: (string | number)[];
  message: string;
}

function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  return values.filter((v) => (seen.has(v) ? true : (seen.add(v), false)));
}

/**
 * What is wrong with a quiz definition beyond its field shapes: duplicate question or choice ids, a correct choice
 * that is not one of the question's choices, a single-choice question without exactly one correct choice, a
 * per-question time on a quiz that is not a video's. Empty when it can be saved.
 */
export function quizDefinitionProblems(
  kind: QuizKind,
  questions: readonly QuestionDefinition[],
): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  for (const id of duplicates(questions.map((q) => q.id))) {
    problems.push({ path: ["questions"], message: `duplicate question id ${id}` });
  }
  questions.forEach((q, i) => {
    const choiceIds = q.choices.map((c) => c.id);
    if (duplicates(choiceIds).length > 0) {
      problems.push({ path: ["questions", i, "choices"], message: "duplicate choice id" });
    }
    if (duplicates(q.correct).length > 0) {
      problems.push({ path: ["questions", i, "correct"], message: "duplicate correct choice" });
    }
    if (q.correct.some((c) => !choiceIds.includes(c))) {
      problems.push({
        path: ["questions", i, "correct"],
        message: "a correct choice is not one of the choices",
      });
    }
    if (q.multiple !== true && q.correct.length !== 1) {
      problems.push({
        path: ["questions", i, "correct"],
        message: "a single-choice question has exactly one correct choice",
      });
    }
    if (q.atSeconds !== undefined && kind !== "video") {
      problems.push({ path: ["questions", i, "atSeconds"], message: "only per-video questions have a time" });
    }
  });
  return problems;
}

/** Splits a valid definition into what students see and the key. */
export function splitDefinition(questions: readonly QuestionDefinition[]): {
  questions: QuizQuestion[];
  key: QuestionKey[];
  maxScore: number;
} {
  const visible = questions.map((q): QuizQuestion => ({
    id: q.id,
    prompt: q.prompt,
    choices: q.choices.map((c) => ({ id: c.id, text: c.text })),
    points: q.points ?? 1,
    multiple: q.multiple ?? false,
    atSeconds: q.atSeconds ?? null,
  }));
  return {
    questions: visible,
    key: questions.map((q) => ({ questionId: q.id, correct: [...q.correct].sort() })),
    maxScore: maxScoreOf(visible),
  };
}

export function maxScoreOf(questions: readonly Pick<QuizQuestion, "points">[]): number {
  return questions.reduce((sum, q) => sum + q.points, 0);
}

/** Answers as a student sends them: question id → a choice id, or a set of choice ids. */
export type SubmittedAnswers = Readonly<Record<string, string | readonly string[]>>;
/** Answers in one canonical form (question ids sorted, each a sorted list of choice ids): comparable as JSON. */
export type CanonicalAnswers = [questionId: string, choiceIds: string[]][];

/** The canonical form of a submission, so a retry can be compared with the attempt it repeats. */
export function canonicalAnswers(answers: SubmittedAnswers): CanonicalAnswers {
  return Object.entries(answers)
    .map(([questionId, value]): [string, string[]] => [
      questionId,
      typeof value === "string" ? [value] : [...value].sort(),
    ])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function sameAnswers(a: CanonicalAnswers, b: CanonicalAnswers): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Why a submission cannot be graded against this quiz (the caller's mistake: `invalid-argument`). */
export type AnswersProblem =
  | { kind: "unknown-question"; questionId: string }
  | { kind: "unknown-choice"; questionId: string }
  | { kind: "duplicate-choice"; questionId: string }
  | { kind: "several-choices-for-single"; questionId: string };

/** The first problem of a submission against the quiz's questions, or null when it can be graded. */
export function answersProblem(
  questions: readonly QuizQuestion[],
  answers: CanonicalAnswers,
): AnswersProblem | null {
  const byId = new Map(questions.map((q) => [q.id, q]));
  for (const [questionId, choiceIds] of answers) {
    const question = byId.get(questionId);
    if (question === undefined) return { kind: "unknown-question", questionId };
    if (new Set(choiceIds).size !== choiceIds.length) return { kind: "duplicate-choice", questionId };
    if (choiceIds.some((c) => !question.choices.some((choice) => choice.id === c))) {
      return { kind: "unknown-choice", questionId };
    }
    if (!question.multiple && choiceIds.length !== 1)
      return { kind: "several-choices-for-single", questionId };
  }
  return null;
}

export interface QuestionResult {
  questionId: string;
  correct: boolean;
}

export interface Grade {
  score: number;
  maxScore: number;
  /** One per question of the quiz, in its order: correctness only, never the key. */
  results: QuestionResult[];
}

/**
 * Grades answers that `answersProblem` accepted. A question is correct when the chosen set equals the key's set;
 * it then earns its points. A question missing from the key (never saved that way) counts as incorrect.
 */
export function gradeAnswers(
  questions: readonly QuizQuestion[],
  key: readonly QuestionKey[],
  answers: CanonicalAnswers,
): Grade {
  const correctById = new Map(key.map((k) => [k.questionId, [...k.correct].sort()]));
  const answerById = new Map(answers);
  let score = 0;
  const results = questions.map((q): QuestionResult => {
    const expected = correctById.get(q.id);
    const given = answerById.get(q.id);
    const correct =
      expected !== undefined &&
      given !== undefined &&
      given.length === expected.length &&
      given.every((c, i) => c === expected[i]);
    if (correct) score += q.points;
    return { questionId: q.id, correct };
  });
  return { score, maxScore: maxScoreOf(questions), results };
}

/**
 * Whether one more attempt is allowed: always without a cap; with `maxAttempts`, while fewer are counted. A cap is
 * what keeps per-question feedback (correct or not) from revealing a single-choice key by trial.
 */
export function mayAttempt(attemptCount: number, maxAttempts: number | null | undefined): boolean {
  return maxAttempts === null || maxAttempts === undefined || attemptCount < maxAttempts;
}

/** The per-quiz summary after one more attempt: counts add up, the best score is the maximum. */
export function nextQuizResult(
  previous: { attemptCount: number; bestScore: number } | null,
  score: number,
): { attemptCount: number; bestScore: number } {
  if (previous === null) return { attemptCount: 1, bestScore: score };
  return { attemptCount: previous.attemptCount + 1, bestScore: Math.max(previous.bestScore, score) };
}
