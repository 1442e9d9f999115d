/** Small helpers: seeded randomness, a worker pool, percentiles and the client retry helper of variant (b). */

export { seededRandom } from "../shared/rng";

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((x, y) => x - y);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export const round = (value: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** gRPC codes the original client retried on: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE. */
const TRANSIENT_CODES = new Set([4, 8, 10, 13, 14]);

export function isTransient(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" && TRANSIENT_CODES.has(code);
}

export interface RetryPolicy {
  /** Attempts in all (first try included). */
  maxAttempts: number;
  /** Delay before the first retry; doubled before each next one (100 → 200 → 400 ms). */
  baseDelayMs: number;
  /** Which failures are retried. */
  retryOn: (error: unknown) => boolean;
}

export interface RetryOutcome<T> {
  ok: boolean;
  value: T | undefined;
  error: unknown;
  attempts: number;
  /** The error of every failed attempt, in order. */
  errors: unknown[];
}

/**
 * Exponential backoff with ±20% jitter. The original app's helper, and also how the benchmark's stand-in for
 * the payment provider re-sends a webhook delivery that was not answered 2xx.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  random: () => number,
  attempt: () => Promise<T>,
): Promise<RetryOutcome<T>> {
  const errors: unknown[] = [];
  for (let n = 1; n <= policy.maxAttempts; n++) {
    try {
      return { ok: true, value: await attempt(), error: undefined, attempts: n, errors };
    } catch (error) {
      errors.push(error);
      if (n === policy.maxAttempts || !policy.retryOn(error))
        return { ok: false, value: undefined, error, attempts: n, errors };
      await sleep(policy.baseDelayMs * 2 ** (n - 1) * (0.8 + 0.4 * random()));
    }
  }
  return { ok: false, value: undefined, error: errors.at(-1), attempts: policy.maxAttempts, errors };
}
