/**
 * The health summary's calendar: UTC days, and what is counted per day. Pure; the service counts with aggregation
 * queries (services/opsSummaryService.ts).
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** The outcomes of processed provider events (webhookEvents.outcome) counted per day. */
export const COUNTED_OUTCOMES = ["applied", "noop", "dead-lettered", "ignored"] as const;
export type CountedOutcome = (typeof COUNTED_OUTCOMES)[number];

export interface UtcDay {
  /** `YYYY-MM-DD` */
  date: string;
  startMs: number;
  endMs: number;
}

/** The UTC day containing `ms`. */
export function utcDayOf(ms: number): UtcDay {
  const startMs = Math.floor(ms / DAY_MS) * DAY_MS;
  return { date: new Date(startMs).toISOString().slice(0, 10), startMs, endMs: startMs + DAY_MS };
}

/** The `count` UTC days up to and including the one containing `nowMs`, newest first. */
export function recentDays(nowMs: number, count: number): UtcDay[] {
  return Array.from({ length: count }, (_, i) => utcDayOf(nowMs - i * DAY_MS));
}

/** One day's counts. */
export interface DayCounts {
  /** Provider events processed that day, by outcome (duplicates write nothing and are not counted). */
  events: Record<CountedOutcome, number>;
  /** Events parked that day (an event overtaking one of our payments). */
  parked: number;
  /** Dead letters written that day (webhook and sweep). */
  deadLetters: number;
}

export function emptyDay(): DayCounts {
  return {
    events: Object.fromEntries(COUNTED_OUTCOMES.map((o) => [o, 0])) as Record<CountedOutcome, number>,
    parked: 0,
    deadLetters: 0,
  };
}
