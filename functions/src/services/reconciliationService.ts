/**
 * Provider reconciliation: find and apply what the webhook endpoint missed.
 *
 * Every guarantee elsewhere assumes the provider's events arrive. When they do not (an endpoint misconfigured after a
 * deploy, a rotated secret, an outage longer than Stripe's 3-day retry window, an event dropped by a proxy), the
 * provider still holds them: this lists the provider's events of the handled types created in a time range
 * (`PaymentProvider.listEvents`: Stripe's `events.list`, kept 30 days; the local provider's own record of what it
 * sent) and runs each one through the webhook's own path — read as a verified event (`readVerifiedEvent`: the
 * event came from the provider's API with our key, as trustworthy as a signed delivery), mapped, and executed
 * exactly once under its own event id (`executeCommand`). So an event the webhook already processed is a duplicate
 * (one read, nothing written); one it missed applies now; one being delivered at this very moment applies once
 * whichever comes first (the event record, and the ledger entry keyed by provider object id, are created in the
 * commit that moves the money). Running reconciliation twice, concurrently, or racing late deliveries changes
 * nothing twice.
 *
 * Why events and not the payment intent, refund and dispute lists: an object's state changes after it is created (a
 * refund fails days later, a dispute closes weeks later), and a list by creation date would miss those changes;
 * the events are exactly those changes, each with the id the webhook would have used.
 *
 * A run reads at most `limit` events (default 500), oldest first within what it read, 8 at a time. The schedule
 * (`reconcileProviderEvents`, hourly) keeps a checkpoint in `ops/reconciliation`: the window it is working through
 * ([fromMs, toMs): from 1 hour before the previous window's end, to 5 minutes ago, so an event is looked at after
 * its delivery had time to arrive) and, while a window has more events than one run reads, the cursor to resume
 * from. The first run looks back 3 days. The admin callable `reconcilePayments` runs it on demand for any range
 * (the checkpoint untouched). Cost per run: one `events.list` call per 100 events, and per event the webhook
 * path's own cost — one read for an event already processed.
 */
import { FieldValue } from "firebase-admin/firestore";
import type { ReconcilePaymentsResponse } from "../api";
import { HANDLED_EVENT_TYPES } from "../schemas/webhook";
import { firestore } from "../shared/admin";
import { expectsLivemode } from "../shared/config";
import { logInfo, logWarn } from "../shared/log";
import { getPaymentProvider, paymentProviderSource } from "./payments";
import { readVerifiedEvent, runVerifiedEvent } from "./webhookService";

const PAGE = 100;
const DEFAULT_LIMIT = 500;
const CONCURRENCY = 8;
const HOUR_MS = 3600 * 1000;
/** A scheduled window ends this long before now: events younger than that are still being delivered. */
export const SETTLE_MS = 5 * 60 * 1000;
/** Each scheduled window starts this long before the previous one ended (clock skew, late-indexed events). */
export const OVERLAP_MS = HOUR_MS;
/** The first scheduled run looks back this far (Stripe retries a failing delivery for 3 days). */
export const FIRST_LOOKBACK_MS = 72 * HOUR_MS;

const CHECKPOINT = () => firestore().collection("ops").doc("reconciliation");

export interface ReconcileRange {
  fromMs: number;
  toMs: number;
  /** Resume after this event (the previous run's `cursor`). */
  startingAfter?: string | null | undefined;
  limit?: number | undefined;
}

type Tally = ReconcilePaymentsResponse["outcomes"];

function emptyTally(): Tally {
  return {
    applied: 0,
    duplicate: 0,
    parked: 0,
    ignored: 0,
    noop: 0,
    "dead-lettered": 0,
    unreadable: 0,
    failed: 0,
  };
}

/**
 * One provider event through the webhook's own runner (webhookService.runVerifiedEvent): `unreadable` when it is not
 * an event the webhook would take; a failure that would fail every time is dead-lettered there, so it cannot stop
 * later runs; a transient one is `failed`, and the window is worked through again.
 */
async function apply(event: unknown): Promise<keyof Tally> {
  const source = paymentProviderSource();
  const read = readVerifiedEvent(event, expectsLivemode(source));
  if (read.kind !== "handled") {
    logWarn("reconciliation skipped an event", { kind: read.kind });
    return "unreadable";
  }
  const outcome = await runVerifiedEvent(read.event, source, "reconciliation");
  if (outcome.kind === "transient" || outcome.kind === "internal") return "failed";
  if (outcome.kind === "applied" && outcome.applied.length === 0) return "duplicate";
  return outcome.kind;
}

function createdOf(event: unknown): number {
  const created = (event as { created?: unknown } | null)?.created;
  return typeof created === "number" ? created : 0;
}

/** Reconciles the provider's events created in [fromMs, toMs): at most `limit` of them, from `startingAfter`. */
export async function reconcileRange(range: ReconcileRange): Promise<ReconcilePaymentsResponse> {
  const provider = await getPaymentProvider();
  const limit = range.limit ?? DEFAULT_LIMIT;
  const events: unknown[] = [];
  let cursor: string | null = range.startingAfter ?? null;
  do {
    const page = await provider.listEvents({
      types: HANDLED_EVENT_TYPES,
      createdFromMs: range.fromMs,
      createdToMs: range.toMs,
      startingAfter: cursor,
      limit: Math.min(PAGE, limit - events.length),
    });
    events.push(...page.events);
    cursor = page.nextCursor;
  } while (cursor !== null && events.length < limit);
  // Oldest first: a payment before the refunds and disputes about it (which would otherwise park and wait for it).
  events.sort((a, b) => createdOf(a) - createdOf(b));
  const outcomes = emptyTally();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < events.length) {
      const kind = await apply(events[next++]);
      outcomes[kind]++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const report: ReconcilePaymentsResponse = {
    from: new Date(range.fromMs).toISOString(),
    to: new Date(range.toMs).toISOString(),
    listed: events.length,
    outcomes,
    cursor,
  };
  logInfo("reconciliation run", { from: report.from, to: report.to, listed: report.listed, ...outcomes });
  return report;
}

interface Checkpoint {
  fromMs: number;
  toMs: number;
  /** Where the window's next run starts (null: at its newest event). */
  cursor: string | null;
  /** Whether the window has been worked through without a transient failure. */
  done: boolean;
}

/**
 * The scheduled run: continues the checkpoint's window (or starts the next one once it is done), and moves the
 * checkpoint. A run with transient failures leaves its part of the window to be done again. Two runs at once may
 * work through the same events; that costs reads, never a double application.
 */
export async function reconcileScheduled(nowMs = Date.now()): Promise<ReconcilePaymentsResponse> {
  const stored = (await CHECKPOINT().get()).data() as Partial<Checkpoint> | undefined;
  const window: Checkpoint =
    stored?.done === false && stored.fromMs !== undefined && stored.toMs !== undefined
      ? { fromMs: stored.fromMs, toMs: stored.toMs, cursor: stored.cursor ?? null, done: false }
      : {
          fromMs: stored?.toMs === undefined ? nowMs - FIRST_LOOKBACK_MS : stored.toMs - OVERLAP_MS,
          toMs: nowMs - SETTLE_MS,
          cursor: null,
          done: false,
        };
  const report = await reconcileRange({
    fromMs: window.fromMs,
    toMs: window.toMs,
    startingAfter: window.cursor,
  });
  const clean = report.outcomes.failed === 0;
  await CHECKPOINT().set({
    fromMs: window.fromMs,
    toMs: window.toMs,
    cursor: clean ? report.cursor : window.cursor,
    done: clean && report.cursor === null,
    lastRun: report,
    updatedAt: FieldValue.serverTimestamp(),
  });
  return report;
}
