import { FunctionsError, type Functions, type HttpsCallableOptions } from "firebase/functions";
import {
  CALLABLE_NAMES,
  RetryHandler,
  createCoursePaymentsClient,
  newRequestId,
  type CoursePaymentsClientOptions,
  type StartPaymentResponse,
} from "../src/index";

/** The Functions instance is only handed to the (fake) httpsCallable. */
const functions = { region: "us-central1" } as unknown as Functions;

interface Invocation {
  name: string;
  options: HttpsCallableOptions | undefined;
  data: unknown;
  /** The object handed to httpsCallable, before any serialisation. */
  sent: unknown;
}

/**
 * A fake httpsCallable: answers each invocation from `script` in order (an Error is thrown, anything else is
 * the result data) and records what was sent. It JSON-copies the data, as the real one serialises it.
 */
function fakeCallable(script: unknown[]) {
  const invocations: Invocation[] = [];
  const factory: CoursePaymentsClientOptions["httpsCallable"] = (_functions, name, options) => (data) => {
    invocations.push({ name, options, data: JSON.parse(JSON.stringify(data)) as unknown, sent: data });
    const next = script[invocations.length - 1];
    if (next instanceof Error) return Promise.reject(next);
    return Promise.resolve({ data: next });
  };
  return { invocations, factory };
}

const PAYMENT: StartPaymentResponse = {
  checkoutId: "chk",
  paymentId: "pi_local_1",
  clientSecret: "pi_local_1_secret",
  amount: 1000,
  currency: "usd",
  status: "pending",
};

/** Instant, deterministic retries. */
const instant = { random: () => 0, sleep: () => Promise.resolve() };

function ids() {
  let n = 0;
  const generator = () => `req-${String(++n).padStart(4, "0")}`;
  return { generator, count: () => n };
}

const unavailable = () =>
  new FunctionsError("unavailable", "Temporarily unavailable; retry the same request.");
const deadline = () => new FunctionsError("deadline-exceeded", "deadline-exceeded");

describe("startPayment: one requestId per logical call, reused on every retry", () => {
  it("retries with the same requestId and generates it exactly once", async () => {
    const fake = fakeCallable([unavailable(), deadline(), unavailable(), PAYMENT]);
    const gen = ids();
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      newRequestId: gen.generator,
      retry: instant,
    });
    await expect(client.startPayment({ courseId: "c1", amount: 1000 })).resolves.toEqual(PAYMENT);
    expect(fake.invocations).toHaveLength(4);
    expect(fake.invocations.map((i) => i.name)).toEqual(Array(4).fill("startPayment"));
    expect(fake.invocations.map((i) => i.data)).toEqual(
      Array(4).fill({ courseId: "c1", amount: 1000, requestId: "req-0001" }),
    );
    expect(gen.count()).toBe(1);
  });

  it("two logical calls get two requestIds", async () => {
    const fake = fakeCallable([unavailable(), PAYMENT, PAYMENT]);
    const gen = ids();
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      newRequestId: gen.generator,
      retry: instant,
    });
    await client.startPayment({ courseId: "c1" });
    await client.startPayment({ courseId: "c1" });
    expect(fake.invocations.map((i) => (i.data as { requestId: string }).requestId)).toEqual([
      "req-0001",
      "req-0001",
      "req-0002",
    ]);
  });

  it("a caller's own requestId is sent unchanged on every attempt and none is generated", async () => {
    const fake = fakeCallable([unavailable(), unavailable(), PAYMENT]);
    const gen = ids();
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      newRequestId: gen.generator,
      retry: instant,
    });
    await client.startPayment({ courseId: "c1", requestId: "saved-before-reload" });
    expect(fake.invocations.map((i) => i.data)).toEqual(
      Array(3).fill({ courseId: "c1", requestId: "saved-before-reload" }),
    );
    expect(gen.count()).toBe(0);
  });

  it("the request is copied when the call starts: a caller mutating it meanwhile changes no retry", async () => {
    const fake = fakeCallable([unavailable(), PAYMENT]);
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      newRequestId: ids().generator,
      retry: {
        ...instant,
        onRetry: () => {
          request.amount = 5;
        },
      },
    });
    const request = { courseId: "c1", amount: 1000 };
    await client.startPayment(request);
    expect(fake.invocations.map((i) => i.data)).toEqual(
      Array(2).fill({ courseId: "c1", amount: 1000, requestId: "req-0001" }),
    );
  });

  it("a permanent error is thrown unchanged after one attempt", async () => {
    const error = new FunctionsError("failed-precondition", "Enroll in the course first.");
    const fake = fakeCallable([error, PAYMENT]);
    const client = createCoursePaymentsClient(functions, { httpsCallable: fake.factory, retry: instant });
    await expect(client.startPayment({ courseId: "c1" })).rejects.toBe(error);
    expect(fake.invocations).toHaveLength(1);
  });

  it("after the last attempt the last error is thrown; all attempts carried the one requestId", async () => {
    const errors = [unavailable(), unavailable(), unavailable(), unavailable()];
    const fake = fakeCallable(errors);
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      newRequestId: ids().generator,
      retry: instant,
    });
    await expect(client.startPayment({ courseId: "c1" })).rejects.toBe(errors[3]);
    expect(new Set(fake.invocations.map((i) => (i.data as { requestId: string }).requestId))).toEqual(
      new Set(["req-0001"]),
    );
  });
});

describe("refundPayment: the same requestId rule", () => {
  it("generates one requestId per call and reuses it on retries", async () => {
    const refund = { refundId: "re_1", amount: 500, applied: false, status: "pending" };
    const fake = fakeCallable([unavailable(), refund, refund]);
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      newRequestId: ids().generator,
      retry: instant,
    });
    const request = { uid: "u1", courseId: "c1", paymentId: "pi_1", amount: 500 };
    await expect(client.refundPayment(request)).resolves.toEqual(refund);
    await client.refundPayment(request);
    expect(fake.invocations.map((i) => [i.name, (i.data as { requestId: string }).requestId])).toEqual([
      ["refundPayment", "req-0001"],
      ["refundPayment", "req-0001"],
      ["refundPayment", "req-0002"],
    ]);
  });
});

describe("submitQuizAttempt: the same requestId rule", () => {
  it("generates one requestId per attempt and reuses it on retries, so a retried attempt is graded once", async () => {
    const fake = fakeCallable([unavailable(), {}, {}]);
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      newRequestId: ids().generator,
      retry: instant,
    });
    const attempt = { courseId: "c1", quizId: "q1", answers: { a: ["b", "c"] } };
    await client.submitQuizAttempt(attempt);
    await client.submitQuizAttempt(attempt);
    expect(fake.invocations.map((i) => i.data)).toEqual([
      { ...attempt, requestId: "req-0001" },
      { ...attempt, requestId: "req-0001" },
      { ...attempt, requestId: "req-0002" },
    ]);
  });
});

const QUIZ = {
  courseId: "c1",
  quizId: "q1",
  title: "Quiz",
  kind: "quiz" as const,
  questions: [{ id: "a", prompt: "?", choices: [{ id: "b", text: "B" }], correct: ["b"] }],
};

describe("request encoding", () => {
  it("leaves out undefined fields, which httpsCallable would send as null", async () => {
    const fake = fakeCallable([PAYMENT]);
    const client = createCoursePaymentsClient(functions, { httpsCallable: fake.factory });
    await client.startPayment({ courseId: "c1", amount: undefined, requestId: "req-0001" });
    expect(fake.invocations[0]?.sent).toStrictEqual({ courseId: "c1", requestId: "req-0001" });
  });
});

describe("the other callables", () => {
  it("each method calls its own callable, with the request unchanged and no requestId added", async () => {
    const fake = fakeCallable(Array.from({ length: CALLABLE_NAMES.length }, () => ({})));
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      newRequestId: ids().generator,
    });
    await client.checkInstallmentDeadlines({ limit: 50 });
    await client.checkLedgerIntegrity({ limit: 20, repair: true });
    await client.completeLesson({ courseId: "c1", lessonId: "l1" });
    await client.dismissDeadLetter({ id: "evt_1", reason: "credited by hand" });
    await client.enrollInCourse({ courseId: "c1" });
    await client.ensureProfile();
    await client.getDeadLetter({ id: "evt_1" });
    await client.getOpsSummary({ refresh: true });
    await client.listDeadLetters({ status: "open" });
    await client.listOverpayments({ limit: 10 });
    await client.reconcilePayments({ from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00Z" });
    await client.recordManualPayment({ uid: "u1", courseId: "c1", amount: 100, reference: "bank-1" });
    await client.refundPayment({
      uid: "u1",
      courseId: "c1",
      paymentId: "manual_bank-1",
      requestId: "r-123456",
    });
    await client.replayDeadLetter({ id: "evt_2", requestId: "r-888888" });
    const urls = { successUrl: "https://app.example.com/ok", cancelUrl: "https://app.example.com/c1" };
    await client.startCheckoutSession({ courseId: "c1", requestId: "r-777777", ...urls });
    await client.startPayment({ courseId: "c1", requestId: "r-654321" });
    await client.submitQuizAttempt({
      courseId: "c1",
      quizId: "q1",
      answers: { a: "b" },
      requestId: "r-111111",
    });
    await client.upsertCourse({ courseId: "c1", published: true });
    await client.upsertLesson({ courseId: "c1", lessonId: "l1", title: "One", order: 1 });
    await client.upsertQuiz(QUIZ);
    expect(fake.invocations.map((i) => i.name)).toEqual([...CALLABLE_NAMES]);
    expect(fake.invocations.map((i) => i.data)).toEqual([
      { limit: 50 },
      { limit: 20, repair: true },
      { courseId: "c1", lessonId: "l1" },
      { id: "evt_1", reason: "credited by hand" },
      { courseId: "c1" },
      {},
      { id: "evt_1" },
      { refresh: true },
      { status: "open" },
      { limit: 10 },
      { from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00Z" },
      { uid: "u1", courseId: "c1", amount: 100, reference: "bank-1" },
      { uid: "u1", courseId: "c1", paymentId: "manual_bank-1", requestId: "r-123456" },
      { id: "evt_2", requestId: "r-888888" },
      {
        courseId: "c1",
        requestId: "r-777777",
        successUrl: "https://app.example.com/ok",
        cancelUrl: "https://app.example.com/c1",
      },
      { courseId: "c1", requestId: "r-654321" },
      { courseId: "c1", quizId: "q1", answers: { a: "b" }, requestId: "r-111111" },
      { courseId: "c1", published: true },
      { courseId: "c1", lessonId: "l1", title: "One", order: 1 },
      QUIZ,
    ]);
  });

  it("enrollInCourse is retried too (it is idempotent)", async () => {
    const summary = { courseId: "c1", created: false };
    const fake = fakeCallable([new TypeError("Failed to fetch"), summary]);
    const client = createCoursePaymentsClient(functions, { httpsCallable: fake.factory, retry: instant });
    await expect(client.enrollInCourse({ courseId: "c1" })).resolves.toEqual(summary);
    expect(fake.invocations).toHaveLength(2);
  });

  it("call(name, request) reaches any callable with the same retry policy", async () => {
    const fake = fakeCallable([unavailable(), { courseId: "c9", created: true }]);
    const client = createCoursePaymentsClient(functions, { httpsCallable: fake.factory, retry: instant });
    await expect(
      client.call("upsertCourse", { courseId: "c9", title: "T", price: 0, currency: "usd" }),
    ).resolves.toEqual({ courseId: "c9", created: true });
    expect(fake.invocations).toHaveLength(2);
  });
});

describe("options", () => {
  it("timeoutMs is each attempt's httpsCallable timeout; without it and a deadline, none is passed", async () => {
    const withTimeout = fakeCallable([{}]);
    await createCoursePaymentsClient(functions, {
      httpsCallable: withTimeout.factory,
      timeoutMs: 5000,
    }).enrollInCourse({ courseId: "c1" });
    expect(withTimeout.invocations[0]?.options).toEqual({ timeout: 5000 });

    const without = fakeCallable([{}]);
    await createCoursePaymentsClient(functions, { httpsCallable: without.factory }).enrollInCourse({
      courseId: "c1",
    });
    expect(without.invocations[0]?.options).toBeUndefined();
  });

  it("an attempt's timeout never reaches past the overall deadline", async () => {
    let now = 0;
    const fake = fakeCallable([unavailable(), {}]);
    const client = createCoursePaymentsClient(functions, {
      httpsCallable: fake.factory,
      timeoutMs: 5000,
      retry: {
        deadlineMs: 8000,
        random: () => 0.5,
        clock: () => now,
        sleep: (ms) => {
          now += ms + 3000; // the first attempt took 3 s
          return Promise.resolve();
        },
      },
    });
    await client.enrollInCourse({ courseId: "c1" });
    // attempt 1: min(5000, 8000); attempt 2 starts at 3050: min(5000, 4950).
    expect(fake.invocations.map((i) => i.options)).toEqual([{ timeout: 5000 }, { timeout: 4950 }]);
  });

  it("per-call retry options override the client's (attempts: 1 = no retry)", async () => {
    const error = unavailable();
    const fake = fakeCallable([error, PAYMENT]);
    const client = createCoursePaymentsClient(functions, { httpsCallable: fake.factory, retry: instant });
    await expect(client.startPayment({ courseId: "c1" }, { retry: { attempts: 1 } })).rejects.toBe(error);
    expect(fake.invocations).toHaveLength(1);
  });

  it("an aborted signal rejects the call before anything is sent", async () => {
    const fake = fakeCallable([PAYMENT]);
    const client = createCoursePaymentsClient(functions, { httpsCallable: fake.factory });
    const controller = new AbortController();
    controller.abort(new Error("navigated away"));
    await expect(client.startPayment({ courseId: "c1" }, { signal: controller.signal })).rejects.toThrow(
      "navigated away",
    );
    expect(fake.invocations).toHaveLength(0);
  });

  it("a RetryHandler can be shared; client.retry exposes the policy", () => {
    const shared = new RetryHandler({ attempts: 7 });
    const client = createCoursePaymentsClient(functions, { retry: shared });
    expect(client.retry).toBe(shared);
    expect(createCoursePaymentsClient(functions, { retry: { attempts: 2 } }).retry.attempts).toBe(2);
  });
});

describe("request ids", () => {
  const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it("the default generator makes v4 UUIDs, which the backend accepts (8–128 of [A-Za-z0-9_-])", () => {
    const generated = Array.from({ length: 100 }, newRequestId);
    for (const id of generated) {
      expect(id).toMatch(UUID_V4);
      expect(id).toMatch(/^[A-Za-z0-9_-]{8,128}$/);
    }
    expect(new Set(generated).size).toBe(100);
    expect(createCoursePaymentsClient(functions).newRequestId()).toMatch(UUID_V4);
  });

  it("without crypto.randomUUID (an http: page) it falls back to getRandomValues", () => {
    const original = globalThis.crypto;
    const getRandomValues = original.getRandomValues.bind(original);
    Object.defineProperty(globalThis, "crypto", { value: { getRandomValues }, configurable: true });
    try {
      const generated = Array.from({ length: 100 }, newRequestId);
      for (const id of generated) expect(id).toMatch(UUID_V4);
      expect(new Set(generated).size).toBe(100);
    } finally {
      Object.defineProperty(globalThis, "crypto", { value: original, configurable: true });
    }
  });

  it("without Web Crypto it asks for a generator instead of making weak ids", () => {
    const original = globalThis.crypto;
    Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true });
    try {
      expect(() => newRequestId()).toThrow(/newRequestId/);
    } finally {
      Object.defineProperty(globalThis, "crypto", { value: original, configurable: true });
    }
  });
});
