import { FunctionsError } from "firebase/functions";
import { DEFAULT_RETRY_POLICY, RetryHandler, defaultSleep, type RetryOptions } from "../src/retry";

/** Virtual time: sleep advances the clock at once and records the delay. */
function fakeTime(start = 1_000_000) {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    sleep: (ms: number) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

/** An operation that fails with `errors` in turn, then resolves "ok"; records each attempt's context. */
function scripted(errors: Error[], onAttempt?: () => void) {
  const calls: { attempt: number; remainingMs: number }[] = [];
  const operation = ({ attempt, remainingMs }: { attempt: number; remainingMs: number }) => {
    calls.push({ attempt, remainingMs });
    onAttempt?.();
    const error = errors[calls.length - 1];
    return error === undefined ? Promise.resolve("ok") : Promise.reject(error);
  };
  return { calls, operation };
}

const unavailable = () => new FunctionsError("unavailable", "try again");

function handler(options: RetryOptions = {}) {
  const time = fakeTime();
  return { time, retry: new RetryHandler({ clock: time.clock, sleep: time.sleep, ...options }) };
}

describe("backoff bounds: min(maxDelayMs, baseDelayMs × 2^n)", () => {
  it("doubles from the base and stops at the cap", () => {
    const retry = new RetryHandler({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => retry.maxDelayFor(n))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
  });

  it("defaults: 4 attempts, 100 → 200 → 400 ms … capped at 2 s, no deadline", () => {
    const retry = new RetryHandler();
    expect(DEFAULT_RETRY_POLICY).toEqual({
      attempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 2000,
      deadlineMs: Number.POSITIVE_INFINITY,
    });
    expect([0, 1, 2, 3, 4, 5].map((n) => retry.maxDelayFor(n))).toEqual([100, 200, 400, 800, 1600, 2000]);
  });

  it("stays finite for huge retry numbers and a zero base (never NaN or Infinity)", () => {
    expect(new RetryHandler({ baseDelayMs: 100, maxDelayMs: 5000 }).maxDelayFor(5000)).toBe(5000);
    expect(new RetryHandler({ baseDelayMs: 0, maxDelayMs: 5000 }).maxDelayFor(5000)).toBe(0);
  });
});

describe("full jitter: delay = random() × bound", () => {
  it("random 0 → no wait at all", () => {
    const retry = new RetryHandler({ random: () => 0 });
    expect([0, 1, 2, 3].map((n) => retry.delayFor(n))).toEqual([0, 0, 0, 0]);
  });

  it("random 0.5 → exactly half the bound", () => {
    const retry = new RetryHandler({ random: () => 0.5 });
    expect([0, 1, 2, 5].map((n) => retry.delayFor(n))).toEqual([50, 100, 200, 1000]);
  });

  it("random just below 1 → just below the bound, never above it", () => {
    const almostOne = 1 - 2 ** -52;
    const retry = new RetryHandler({ random: () => almostOne });
    for (const n of [0, 1, 2, 3, 4, 5, 20]) {
      const bound = retry.maxDelayFor(n);
      expect(retry.delayFor(n)).toBeLessThan(bound);
      expect(retry.delayFor(n)).toBeGreaterThanOrEqual(bound * 0.999999);
    }
  });

  it("a random() outside [0, 1] is clamped into the range", () => {
    expect(new RetryHandler({ random: () => -3 }).delayFor(0)).toBe(0);
    expect(new RetryHandler({ random: () => 7 }).delayFor(0)).toBe(100);
  });

  it("with Math.random, 1000 delays all fall within [0, bound)", () => {
    const retry = new RetryHandler();
    for (let i = 0; i < 1000; i++) {
      const delay = retry.delayFor(i % 6);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(retry.maxDelayFor(i % 6));
    }
  });
});

describe("run", () => {
  it("retries transient failures with the jittered schedule and returns the first success", async () => {
    const { time, retry } = handler({ random: () => 0.25 });
    const { calls, operation } = scripted([unavailable(), unavailable(), unavailable()]);
    await expect(retry.run(operation)).resolves.toBe("ok");
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
    expect(time.sleeps).toEqual([25, 50, 100]);
  });

  it("gives up after `attempts` and throws the last error unchanged", async () => {
    const { time, retry } = handler({ attempts: 3, random: () => 1 - 2 ** -52 });
    const errors = [unavailable(), unavailable(), unavailable(), unavailable()];
    const { calls, operation } = scripted(errors);
    await expect(retry.run(operation)).rejects.toBe(errors[2]);
    expect(calls).toHaveLength(3);
    expect(time.sleeps).toHaveLength(2);
    expect(time.sleeps[0]).toBeLessThan(100);
    expect(time.sleeps[1]).toBeLessThan(200);
  });

  it("attempts: 1 means no retry", async () => {
    const { time, retry } = handler({ attempts: 1 });
    const error = unavailable();
    const { calls, operation } = scripted([error]);
    await expect(retry.run(operation)).rejects.toBe(error);
    expect(calls).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
  });

  it("does not retry a permanent error", async () => {
    const { time, retry } = handler();
    const error = new FunctionsError("failed-precondition", "Enroll in the course first.");
    const { calls, operation } = scripted([error]);
    await expect(retry.run(operation)).rejects.toBe(error);
    expect(calls).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
  });

  it("honours the server's retryAfterSeconds: waits at least that long, or throws at once when it exceeds maxDelayMs", async () => {
    const soon = new FunctionsError("resource-exhausted", "Too many.", { retryAfterSeconds: 1 });
    const short = handler({ random: () => 0 });
    const first = scripted([soon]);
    await expect(short.retry.run(first.operation)).resolves.toBe("ok");
    expect(short.time.sleeps).toEqual([1000]);

    const later = new FunctionsError("resource-exhausted", "Too many.", { retryAfterSeconds: 40 });
    const long = handler();
    const second = scripted([later]);
    await expect(long.retry.run(second.operation)).rejects.toBe(later);
    expect(second.calls).toHaveLength(1);
    expect(long.time.sleeps).toEqual([]);
  });

  it("a synchronous throw in the operation is handled like a rejection", async () => {
    const { retry } = handler({ random: () => 0 });
    let n = 0;
    await expect(
      retry.run(() => {
        n++;
        if (n < 3) throw unavailable();
        return Promise.resolve(n);
      }),
    ).resolves.toBe(3);
  });

  it("reports each retry to onRetry before waiting", async () => {
    const events: unknown[] = [];
    const { retry } = handler({ random: () => 0.5, onRetry: (e) => events.push(e) });
    const first = unavailable();
    const second = new FunctionsError("deadline-exceeded", "deadline-exceeded");
    await retry.run(scripted([first, second]).operation);
    expect(events).toEqual([
      { attempt: 1, error: first, code: "unavailable", delayMs: 50 },
      { attempt: 2, error: second, code: "deadline-exceeded", delayMs: 100 },
    ]);
  });
});

describe("deadline", () => {
  it("never starts a wait that would end at or past the deadline; throws the last error", async () => {
    // Each attempt takes 40 ms; random ≈ 1, so waits ≈ 100, 200, 400.
    const time = fakeTime();
    const retry = new RetryHandler({
      deadlineMs: 500,
      attempts: 10,
      random: () => 1 - 2 ** -52,
      clock: time.clock,
      sleep: time.sleep,
    });
    const errors = Array.from({ length: 10 }, unavailable);
    const { calls, operation } = scripted(errors, () => {
      time.advance(40);
    });
    // t=0 a1 → 40, wait 100 → 140 a2 → 180, wait 200 → 380 a3 → 420, wait 400 would end at 820 ≥ 500: stop.
    await expect(retry.run(operation)).rejects.toBe(errors[2]);
    expect(calls).toHaveLength(3);
    expect(time.sleeps).toHaveLength(2);
  });

  it("tells each attempt how much time is left (for its own timeout)", async () => {
    const { time, retry } = handler({ deadlineMs: 1000, random: () => 0.5 });
    const { calls, operation } = scripted([unavailable(), unavailable()], () => {
      time.advance(10);
    });
    await retry.run(operation);
    // a1 at 0; 10 + 50 → a2 at 60; 70 + 100 → a3 at 170.
    expect(calls.map((c) => c.remainingMs)).toEqual([1000, 940, 830]);
  });

  it("without a deadline every attempt has Infinity left", async () => {
    const { retry } = handler({ random: () => 0 });
    const { calls, operation } = scripted([unavailable()]);
    await retry.run(operation);
    expect(calls.map((c) => c.remainingMs)).toEqual([Infinity, Infinity]);
  });

  it("a wait that overruns the deadline (a slow timer) ends the run without another attempt", async () => {
    const time = fakeTime();
    const retry = new RetryHandler({
      deadlineMs: 300,
      random: () => 0.5,
      clock: time.clock,
      sleep: (ms) => {
        time.advance(ms + 1000);
        return Promise.resolve();
      },
    });
    const error = unavailable();
    const { calls, operation } = scripted([error, unavailable()]);
    await expect(retry.run(operation)).rejects.toBe(error);
    expect(calls).toHaveLength(1);
  });
});

describe("abort", () => {
  it("an already aborted signal rejects with its reason before any attempt", async () => {
    const controller = new AbortController();
    const reason = new Error("user left the page");
    controller.abort(reason);
    const { retry } = handler({ signal: controller.signal });
    const { calls, operation } = scripted([]);
    await expect(retry.run(operation)).rejects.toBe(reason);
    expect(calls).toHaveLength(0);
  });

  it("aborting during a wait rejects at once with the reason; no further attempt", async () => {
    const controller = new AbortController();
    const retry = new RetryHandler({ signal: controller.signal, baseDelayMs: 60_000, random: () => 1 });
    const { calls, operation } = scripted([unavailable(), unavailable()]);
    const started = Date.now();
    const run = retry.run(operation);
    setTimeout(() => {
      controller.abort();
    }, 20);
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(calls).toHaveLength(1);
  });

  it("aborting while an attempt is in flight rejects at once (the attempt is abandoned)", async () => {
    const controller = new AbortController();
    const { retry } = handler({ signal: controller.signal });
    let attempts = 0;
    const run = retry.run(() => {
      attempts++;
      return new Promise<never>(() => undefined);
    });
    controller.abort(new Error("cancelled by user"));
    await expect(run).rejects.toThrow("cancelled by user");
    expect(attempts).toBe(1);
  });

  it("an attempt that fails after the abort does not lead to a retry", async () => {
    const controller = new AbortController();
    const { time, retry } = handler({ signal: controller.signal });
    const run = retry.run(() => {
      controller.abort();
      return Promise.reject(unavailable());
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(time.sleeps).toEqual([]);
  });

  it("no wait follows an abort, even when the abort reason looks retryable", async () => {
    const controller = new AbortController();
    const { time, retry } = handler({ signal: controller.signal });
    const reason = new FunctionsError("unavailable", "aborted with a transient-looking reason");
    const run = retry.run(() => {
      controller.abort(reason);
      return Promise.reject(unavailable());
    });
    await expect(run).rejects.toBe(reason);
    expect(time.sleeps).toEqual([]);
  });

  it("an injected sleep that ignores the signal is still cut short", async () => {
    const controller = new AbortController();
    const retry = new RetryHandler({
      signal: controller.signal,
      sleep: () => new Promise<void>(() => undefined),
    });
    const run = retry.run(scripted([unavailable()]).operation);
    setTimeout(() => {
      controller.abort();
    }, 10);
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("classification overrides", () => {
  it("retryOn changes single table entries", async () => {
    const internal = new FunctionsError("internal", "Internal error.");
    const strict = handler({ retryOn: { internal: false } }).retry;
    const { calls, operation } = scripted([internal]);
    await expect(strict.run(operation)).rejects.toBe(internal);
    expect(calls).toHaveLength(1);

    const lenient = handler({ retryOn: { "not-found": true }, random: () => 0 }).retry;
    await expect(lenient.run(scripted([new FunctionsError("not-found", "x")]).operation)).resolves.toBe("ok");
  });

  it("shouldRetry replaces the decision and is told the code, attempt and table decision", async () => {
    const seen: unknown[] = [];
    const { retry } = handler({
      random: () => 0,
      shouldRetry: (_error, info) => {
        seen.push(info);
        return info.code === "failed-precondition" && info.attempt < 2;
      },
    });
    const errors = [new FunctionsError("failed-precondition", "a"), new FunctionsError("unavailable", "b")];
    await expect(retry.run(scripted(errors).operation)).rejects.toBe(errors[1]);
    expect(seen).toEqual([
      { code: "failed-precondition", attempt: 1, tableDecision: false },
      { code: "unavailable", attempt: 2, tableDecision: true },
    ]);
  });

  it("with() replaces options and merges retryOn", () => {
    const base = new RetryHandler({ attempts: 5, retryOn: { internal: false } });
    const derived = base.with({ attempts: 2, retryOn: { "not-found": true }, baseDelayMs: undefined });
    expect(derived.attempts).toBe(2);
    expect(derived.baseDelayMs).toBe(100);
    expect(derived.table.internal).toBe(false);
    expect(derived.table["not-found"]).toBe(true);
    expect(base.attempts).toBe(5);
    expect(base.table["not-found"]).toBe(false);
  });
});

describe("options are validated", () => {
  it.each([
    { attempts: 0 },
    { attempts: 1.5 },
    { baseDelayMs: -1 },
    { maxDelayMs: Number.NaN },
    { maxDelayMs: Number.POSITIVE_INFINITY },
    { deadlineMs: 0 },
  ])("%j is refused", (options) => {
    expect(() => new RetryHandler(options)).toThrow(RangeError);
  });

  it("an unknown retryOn code is refused", () => {
    expect(() => new RetryHandler({ retryOn: { "functions/internal": true } as never })).toThrow(RangeError);
  });
});

describe("defaultSleep", () => {
  it("waits about the given time", async () => {
    const started = Date.now();
    await defaultSleep(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("rejects with the reason when aborted, also when already aborted", async () => {
    const controller = new AbortController();
    const sleeping = defaultSleep(60_000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(sleeping).rejects.toThrow("stop");
    await expect(defaultSleep(10, controller.signal)).rejects.toThrow("stop");
  });
});
