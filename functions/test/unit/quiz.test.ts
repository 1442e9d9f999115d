import {
  answersProblem,
  canonicalAnswers,
  gradeAnswers,
  nextQuizResult,
  quizDefinitionProblems,
  sameAnswers,
  splitDefinition,
  type QuestionDefinition,
  mayAttempt,
} from "../../src/domain/quiz";

const choices = (...ids: string[]) => ids.map((id) => ({ id, text: `choice ${id}` }));

const DEFINITION: QuestionDefinition[] = [
  { id: "q1", prompt: "One?", choices: choices("a", "b", "c"), correct: ["b"] },
  {
    id: "q2",
    prompt: "All that apply",
    choices: choices("x", "y", "z"),
    correct: ["z", "x"],
    multiple: true,
    points: 3,
  },
  { id: "q3", prompt: "Two points", choices: choices("t", "f"), correct: ["t"], points: 2 },
];
const { questions, key, maxScore } = splitDefinition(DEFINITION);

describe("quiz definitions", () => {
  it("split into what students see (no key) and the key (sorted), with defaults", () => {
    expect(maxScore).toBe(6);
    expect(JSON.stringify(questions)).not.toContain("correct");
    expect(questions[0]).toEqual({
      id: "q1",
      prompt: "One?",
      choices: choices("a", "b", "c"),
      points: 1,
      multiple: false,
      atSeconds: null,
    });
    expect(key).toEqual([
      { questionId: "q1", correct: ["b"] },
      { questionId: "q2", correct: ["x", "z"] },
      { questionId: "q3", correct: ["t"] },
    ]);
  });

  it("a valid definition has no problems; each mistake is reported at its path", () => {
    expect(quizDefinitionProblems("quiz", DEFINITION)).toEqual([]);
    const q = DEFINITION[0] as QuestionDefinition;
    const cases: [QuestionDefinition[], (string | number)[]][] = [
      [[q, { ...q }], ["questions"]],
      [[{ ...q, choices: choices("a", "a") }], ["questions", 0, "choices"]],
      [[{ ...q, correct: ["nope"] }], ["questions", 0, "correct"]],
      [[{ ...q, correct: ["a", "b"] }], ["questions", 0, "correct"]],
      [[{ ...q, multiple: true, correct: ["a", "a"] }], ["questions", 0, "correct"]],
      [[{ ...q, atSeconds: 30 }], ["questions", 0, "atSeconds"]],
    ];
    for (const [definition, path] of cases) {
      expect(quizDefinitionProblems("quiz", definition).map((p) => p.path)).toContainEqual(path);
    }
    expect(quizDefinitionProblems("video", [{ ...q, atSeconds: 30 }])).toEqual([]);
  });
});

describe("grading", () => {
  const grade = (answers: Record<string, string | string[]>) =>
    gradeAnswers(questions, key, canonicalAnswers(answers));

  it("all correct scores the maximum; a multiple-choice set counts only when it equals the key's", () => {
    expect(grade({ q1: "b", q2: ["z", "x"], q3: "t" })).toEqual({
      score: 6,
      maxScore: 6,
      results: [
        { questionId: "q1", correct: true },
        { questionId: "q2", correct: true },
        { questionId: "q3", correct: true },
      ],
    });
    expect(grade({ q2: ["x"] }).score).toBe(0);
    expect(grade({ q2: ["x", "y", "z"] }).score).toBe(0);
    expect(grade({ q1: ["b"], q3: "f" }).score).toBe(1);
  });

  it("unanswered questions are incorrect and score nothing; results follow the quiz's order", () => {
    expect(grade({}).results.map((r) => [r.questionId, r.correct])).toEqual([
      ["q1", false],
      ["q2", false],
      ["q3", false],
    ]);
  });

  it("a question missing from the key is never correct", () => {
    expect(gradeAnswers(questions, key.slice(1), canonicalAnswers({ q1: "b" })).score).toBe(0);
  });

  it("answers naming unknown questions or choices, a choice twice, or several for a single question are refused", () => {
    const problem = (answers: Record<string, string | string[]>) =>
      answersProblem(questions, canonicalAnswers(answers));
    expect(problem({ q1: "b", q2: ["x", "z"] })).toBeNull();
    expect(problem({ q9: "a" })).toEqual({ kind: "unknown-question", questionId: "q9" });
    expect(problem({ q1: "zz" })).toEqual({ kind: "unknown-choice", questionId: "q1" });
    expect(problem({ q2: ["x", "x"] })).toEqual({ kind: "duplicate-choice", questionId: "q2" });
    expect(problem({ q1: ["a", "b"] })).toEqual({ kind: "several-choices-for-single", questionId: "q1" });
  });

  it("canonical answers compare equal whatever the order of questions and choices", () => {
    expect(
      sameAnswers(
        canonicalAnswers({ q2: ["z", "x"], q1: "b" }),
        canonicalAnswers({ q1: ["b"], q2: ["x", "z"] }),
      ),
    ).toBe(true);
    expect(sameAnswers(canonicalAnswers({ q1: "b" }), canonicalAnswers({ q1: "a" }))).toBe(false);
    expect(sameAnswers(canonicalAnswers({ q1: "b" }), canonicalAnswers({ q1: "b", q3: "t" }))).toBe(false);
  });
});

describe("the per-quiz result", () => {
  it("counts every attempt and keeps the maximum score, in any order of attempts", () => {
    const scores = [3, 6, 0, 5, 6, 1];
    const orders = [scores, [...scores].reverse(), [...scores].sort()];
    for (const order of orders) {
      const result = order.reduce<{ attemptCount: number; bestScore: number } | null>(
        (previous, score) => nextQuizResult(previous, score),
        null,
      );
      expect(result).toEqual({ attemptCount: 6, bestScore: 6 });
    }
    expect(nextQuizResult(null, 0)).toEqual({ attemptCount: 1, bestScore: 0 });
  });
});

describe("mayAttempt", () => {
  it("always without a cap; with one, while fewer attempts are counted", () => {
    expect(mayAttempt(1000, undefined)).toBe(true);
    expect(mayAttempt(1000, null)).toBe(true);
    expect(mayAttempt(0, 1)).toBe(true);
    expect(mayAttempt(1, 1)).toBe(false);
    expect(mayAttempt(2, 3)).toBe(true);
    expect(mayAttempt(3, 3)).toBe(false);
  });
});
