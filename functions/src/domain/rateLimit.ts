/**
 * A fixed-window rate limit, pure: at most `limit` actions per `windowMs` per key. The service keeps the window's
 * start and count in one document per key and decides inside the transaction that takes the action, so concurrent
 * calls cannot both take the last slot.
 */
export interface RateWindow {
  /** Start of the current window, ms since the epoch. */
  windowStartMs: number;
  count: number;
}

export interface RateLimit {
  limit: number;
  windowMs: number;
}

export type RateDecision = { ok: true; next: RateWindow } | { ok: false; retryAfterSeconds: number };

export function decideRate(rule: RateLimit, nowMs: number, current: RateWindow | undefined): RateDecision {
  const fresh =
    current === undefined || nowMs >= current.windowStartMs + rule.windowMs || nowMs < current.windowStartMs;
  const window = fresh ? { windowStartMs: nowMs, count: 0 } : current;
  if (window.count >= rule.limit) {
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil((window.windowStartMs + rule.windowMs - nowMs) / 1000)),
    };
  }
  return { ok: true, next: { windowStartMs: window.windowStartMs, count: window.count + 1 } };
}
