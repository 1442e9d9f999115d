/**
 * RetryHandler: capped exponential backoff with full jitter, an attempt limit, an overall deadline and an
 * AbortSignal. The delay before retry n (n = 0 before the second attempt) is
 *
 *   random() × min(maxDelayMs, baseDelayMs × 2^n)        (random() in [0, 1): "full jitter")
 *
 * so with the defaults the upper bounds run 100 → 200 → 400 ms …, capped at 2 s, and clients that failed
 * together spread out instead of retrying in lockstep. Clock, sleep and random are injectable, so tests run
 * instantly and deterministically.
 *
 * Retrying is only safe for idempotent operations: every callable of this backend is idempotent given the same
 * input, and the payment callables are made so by a requestId that the client reuses on every retry.
 */
import {
  errorCodeOf,
  isRetryable,
  retryAfterMsOf,
  retryTable,
  type RetryCode,
  type RetryTable,
} from "./classify.js";

/** What a custom `shouldRetry` is told about a failure. */
export interface RetryDecisionInfo {
  /** The canonical code (see `errorCodeOf`): "unavailable", "network", …, or undefined. */
  code: string | undefined;
  /** 1-based number of the attempt that failed. */
  attempt: number;
  /** What the retry table says about this error. */
  tableDecision: boolean;
}

/** Reported to `onRetry` before each wait. */
export interface RetryEvent {
  /** 1-based number of the attempt that failed. */
  attempt: number;
  error: unknown;
  code: string | undefined;
  /** How long the handler waits before the next attempt. */
  delayMs: number;
}

/** Passed to each attempt of the operation. */
export interface AttemptContext {
  /** 1-based attempt number. */
  attempt: number;
  /** Milliseconds left before the overall deadline (Infinity without one); cap a per-attempt timeout by it. */
  remainingMs: number;
  signal: AbortSignal | undefined;
}

export interface RetryOptions {
  /** Attempts in total, the first included (integer ≥ 1). Default 4. */
  attempts?: number | undefined;
  /** Upper bound of the first retry's delay, ms. Default 100. */
  baseDelayMs?: number | undefined;
  /** Cap of any single delay, ms. Default 2000. */
  maxDelayMs?: number | undefined;
  /**
   * Overall budget in ms, counted from the start of the first attempt: no wait and no attempt starts past it;
   * the last error is thrown instead. Default: none (Infinity).
   */
  deadlineMs?: number | undefined;
  /** Changes to the default classification table, e.g. `{ internal: false }`. */
  retryOn?: Partial<Record<RetryCode, boolean>> | undefined;
  /** Replaces the table's decision entirely (it receives the table's decision). */
  shouldRetry?: ((error: unknown, info: RetryDecisionInfo) => boolean) | undefined;
  /** Aborting rejects at once with `signal.reason` (also during a wait or an attempt in flight). */
  signal?: AbortSignal | undefined;
  /** Called before each wait (logging, telemetry, UI). */
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Milliseconds clock. Default `Date.now`. */
  clock?: (() => number) | undefined;
  /** Waits `ms` (should reject when `signal` aborts). Default: `setTimeout`. */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /** Uniform in [0, 1). Default `Math.random`. */
  random?: (() => number) | undefined;
}

export const DEFAULT_RETRY_POLICY = Object.freeze({
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2000,
  deadlineMs: Number.POSITIVE_INFINITY,
});

/** 2^52 ms is already far beyond any cap; bounding the exponent keeps 0 × 2^n from becoming NaN. */
const MAX_EXPONENT = 52;

/** A function, not an inline check: TypeScript would keep `aborted` narrowed to false across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function abortReason(signal: AbortSignal | undefined): unknown {
  const reason: unknown = signal?.reason;
  return reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** `promise`, or a rejection with the signal's reason as soon as the signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortReason(signal));
    };
    if (signal.aborted) {
      onAbort();
    } else {
      signal.addEventListener("abort", onAbort, { once: true });
    }
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** setTimeout-based sleep that rejects with the signal's reason when it aborts. */
export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (isAborted(signal)) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      if (signal !== undefined) reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function check(name: string, value: number, ok: boolean): number {
  if (!ok) throw new RangeError(`RetryHandler: invalid ${name}: ${value}`);
  return value;
}

export class RetryHandler {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly deadlineMs: number;
  readonly table: RetryTable;
  private readonly options: RetryOptions;

  constructor(options: RetryOptions = {}) {
    this.options = { ...options };
    const attempts = options.attempts ?? DEFAULT_RETRY_POLICY.attempts;
    const base = options.baseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs;
    const max = options.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs;
    const deadline = options.deadlineMs ?? DEFAULT_RETRY_POLICY.deadlineMs;
    this.attempts = check("attempts", attempts, Number.isInteger(attempts) && attempts >= 1);
    this.baseDelayMs = check("baseDelayMs", base, Number.isFinite(base) && base >= 0);
    this.maxDelayMs = check("maxDelayMs", max, Number.isFinite(max) && max >= 0);
    this.deadlineMs = check("deadlineMs", deadline, deadline > 0);
    this.table = retryTable(options.retryOn);
  }

  /** A handler with some options replaced (`retryOn` entries are merged). */
  with(overrides: RetryOptions): RetryHandler {
    const merged: RetryOptions = { ...this.options };
    for (const [key, value] of Object.entries(overrides) as [keyof RetryOptions, unknown][]) {
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
    if (overrides.retryOn !== undefined) merged.retryOn = { ...this.options.retryOn, ...overrides.retryOn };
    return new RetryHandler(merged);
  }

  /** Upper bound of the delay before retry n (n = 0 before the second attempt): min(max, base × 2^n). */
  maxDelayFor(retry: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(Math.max(retry, 0), MAX_EXPONENT));
  }

  /** The jittered delay before retry n: random() × maxDelayFor(n). */
  delayFor(retry: number): number {
    const random = Math.min(Math.max((this.options.random ?? Math.random)(), 0), 1);
    return random * this.maxDelayFor(retry);
  }

  /** Whether this error may be retried (table, then `shouldRetry` if given); the attempt limit aside. */
  shouldRetry(error: unknown, attempt: number): boolean {
    const tableDecision = isRetryable(error, this.table);
    const custom = this.options.shouldRetry;
    return custom === undefined
      ? tableDecision
      : custom(error, { code: errorCodeOf(error), attempt, tableDecision });
  }

  /**
   * Runs `operation` until it succeeds, fails with an error that is not retryable, runs out of attempts, or
   * the next attempt could not start before the deadline; then throws that last error unchanged. Aborting the
   * signal rejects with its reason at once. Each attempt is told its number and the time left.
   */
  async run<T>(operation: (context: AttemptContext) => Promise<T>): Promise<T> {
    const { signal, onRetry } = this.options;
    const clock = this.options.clock ?? Date.now;
    const sleep = this.options.sleep ?? defaultSleep;
    const deadlineAt = clock() + this.deadlineMs;
    for (let attempt = 1; ; attempt++) {
      if (isAborted(signal)) throw abortReason(signal);
      try {
        const context: AttemptContext = { attempt, remainingMs: deadlineAt - clock(), signal };
        return await untilAborted(
          Promise.resolve().then(() => operation(context)),
          signal,
        );
      } catch (error) {
        if (isAborted(signal)) throw abortReason(signal);
        if (attempt >= this.attempts || !this.shouldRetry(error, attempt)) throw error;
        // The server said when to come back (a rate limit): never sooner; and if that is longer than any wait
        // this handler would make, give the error to the caller at once (e.g. "try again in 40 s").
        const hintMs = retryAfterMsOf(error);
        if (hintMs !== undefined && hintMs > this.maxDelayMs) throw error;
        const delayMs = Math.max(this.delayFor(attempt - 1), hintMs ?? 0);
        if (clock() + delayMs >= deadlineAt) throw error;
        onRetry?.({ attempt, error, code: errorCodeOf(error), delayMs });
        await untilAborted(sleep(delayMs, signal), signal);
        if (clock() >= deadlineAt) throw error;
      }
    }
  }
}
