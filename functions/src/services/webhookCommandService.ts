/**
 * Runs a webhook event's domain command (domain/webhookMapping) against Firestore, and keeps the events that
 * overtook their payment (domain/parking) until it arrives.
 *
 * - A payment, or a failure, names its enrollment in its metadata. A refund or dispute finds its enrollment
 *   through its payment's ledger entry. When there is none yet:
 *     - a payment this backend did not make (no checkout names it and the provider's record of it carries no
 *       uid/courseId, or the provider has no such payment) → recorded `ignored`, answered 200 at once;
 *     - one of ours → parked in `parkedEvents/{eventId}` and answered 200 `parked`. It is applied through this same
 *       exactly-once path when its payment lands (onEnrollmentWritten, see below), or by the sweep
 *       (`sweepParkedEvents`, scheduled), which also dead-letters `unknown-payment` what has waited past
 *       PARK_LIMIT_MS.
 * - A race between a park and its payment leaves nothing parked. The park's commit also raises `parkedEvents` on
 *   its owner's enrollment, and a payment's commit writes that same document, so Firestore puts the two in an
 *   order. Park first: the payment's write event carries `parkedEvents > 0` with a grown `ledgerCount`, and
 *   onEnrollmentWritten replays the enrollment's parked events (domain/parking `parkedToReplay`). Payment
 *   first: the park reads the ledger again after its commit and finds the entry. Both apply through the event's
 *   `webhookEvents` record, so applying twice is impossible; handling a parked event deletes it and lowers the
 *   count in one commit. A payment costs nothing for this while nothing is parked: no trigger of its own, no query.
 * - What waits for the sweep instead (money is never applied twice, only later): a failure after the park's
 *   commit (the provider's redelivery then applies the event directly, and the sweep removes the parked copy); an
 *   owner whose enrollment did not exist at park time (no count was raised); an owner that is not the enrollment
 *   the payment names (only if the provider's metadata was edited); a replay that failed permanently.
 * - A count that drifted (e.g. a copy deleted by code older than the count, during a deploy) is set right by the
 *   next replay that read every parked event of the enrollment and found the enrollment unchanged since its write.
 */
import {
  FieldValue,
  Timestamp,
  type DocumentReference,
  type QueryDocumentSnapshot,
} from "firebase-admin/firestore";
import type { LedgerSource } from "../domain/ledger";
import {
  PARK_LIMIT_MS,
  decideParked,
  decideUnknownPayment,
  lookupPaymentId,
  type PaymentOwner,
} from "../domain/parking";
import type { EnrollmentTarget, WebhookCommand } from "../domain/webhookMapping";
import { firestore } from "../shared/admin";
import { GRPC, grpcCode, isTransientError } from "../shared/errors";
import { logError, logInfo, logWarn } from "../shared/log";
import type { ParkedEventDoc } from "./firestore/models";
import {
  COLLECTIONS,
  checkoutsByProviderPaymentId,
  ledgerEntriesByProviderPaymentId,
  oldestParkedEvents,
  parkedEventsForEnrollment,
  refs,
} from "./firestore/refs";
import {
  applyDisputeEvent,
  applyLedgerEntries,
  deadLetterEvent,
  isEventProcessed,
  recordIgnoredEvent,
  recordNoopEvent,
  recordPaymentEnded,
  type EventContext,
  type LedgerOutcome,
} from "./ledgerService";
import { getPaymentProvider } from "./payments";

export type CommandOutcome = LedgerOutcome | { kind: "parked" };

/** Parked events read per query by the trigger (a payment has at most a few refunds and disputes), and pages. */
const REPLAY_BATCH = 50;
const REPLAY_PAGES = 10;

/** The enrollment an event's target names, or null when its payment has no ledger entry (yet). */
export async function resolveTarget(
  target: EnrollmentTarget,
): Promise<{ uid: string; courseId: string } | null> {
  if (target.kind === "known") return { uid: target.uid, courseId: target.courseId };
  // The payment's own ledger entry (users/{uid}/courses/{courseId}/ledger/{paymentId}) names the enrollment.
  const entries = await ledgerEntriesByProviderPaymentId(target.providerPaymentId).get();
  const entry = entries.docs.find(
    (doc) => doc.id === target.providerPaymentId && doc.get("type") === "payment",
  );
  const enrollment = entry?.ref.parent.parent;
  const user = enrollment?.parent.parent;
  if (enrollment?.parent.id !== COLLECTIONS.userCourses || user?.parent.id !== COLLECTIONS.users) return null;
  return { uid: user.id, courseId: enrollment.id };
}

/** Whose payment `providerPaymentId` is: this backend's checkout, else the provider's record of it. */
async function findOwner(providerPaymentId: string): Promise<PaymentOwner | null> {
  const checkout = (await checkoutsByProviderPaymentId(providerPaymentId).get()).docs[0]?.data();
  if (checkout !== undefined) {
    const decision = decideUnknownPayment({ uid: checkout.uid, courseId: checkout.courseId }, undefined);
    return decision.kind === "park" ? decision.owner : null;
  }
  const payment = await (await getPaymentProvider()).findPayment(providerPaymentId);
  const decision = decideUnknownPayment(null, payment?.metadata ?? null);
  return decision.kind === "park" ? decision.owner : null;
}

interface RunOptions {
  /** Park an event whose payment is unknown (false while replaying a parked one: it stays parked). */
  park: boolean;
}

/**
 * Runs `command` exactly once for `event`. A duplicate ends after one RPC: a payment or refund with a known
 * enrollment reads the event record in its one BatchGet, and a dead letter or no-op fails on its create; anything
 * else (a lookup by payment id, a transaction) reads the record first.
 */
export async function executeCommand(
  command: WebhookCommand,
  event: EventContext,
  source: LedgerSource,
  options: RunOptions = { park: true },
): Promise<CommandOutcome> {
  const checksItself =
    command.kind === "deadLetter" ||
    command.kind === "noop" ||
    (command.kind === "applyEntries" && command.target.kind === "known");
  if (!checksItself && (await isEventProcessed(event))) return { kind: "duplicate" };
  switch (command.kind) {
    case "deadLetter":
      return deadLetterEvent(event, command.reason);
    case "noop":
      logInfo("webhook event moves no money", { eventId: event.eventId, reason: command.reason });
      return recordNoopEvent(event);
    case "applyEntries": {
      const target = await resolveTarget(command.target);
      if (target === null) return paymentUnknown(command, event, source, options);
      return applyLedgerEntries({
        ...target,
        entries: command.entries,
        checkoutId: command.checkoutId,
        ...(command.requestedAmount === undefined ? {} : { requestedAmount: command.requestedAmount }),
        event,
      });
    }
    case "paymentEnded": {
      const target = await resolveTarget(command.target);
      if (target === null) return paymentUnknown(command, event, source, options);
      return recordPaymentEnded({
        ...target,
        how: command.how,
        checkoutId: command.checkoutId,
        providerPaymentId: command.providerPaymentId,
        amount: command.amount,
        currency: command.currency,
        event,
      });
    }
    case "dispute": {
      const target = await resolveTarget(command.target);
      if (target === null) return paymentUnknown(command, event, source, options);
      return applyDisputeEvent({
        ...target,
        disputeId: command.disputeId,
        disputeEvent: command.event,
        currency: command.currency,
        source,
        event,
      });
    }
  }
}

/** The event's payment has no ledger entry: ignore a foreign payment's event, park one of ours. */
async function paymentUnknown(
  command: WebhookCommand,
  event: EventContext,
  source: LedgerSource,
  options: RunOptions,
): Promise<CommandOutcome> {
  const providerPaymentId = lookupPaymentId(command);
  if (!options.park || providerPaymentId === null) return { kind: "parked" };
  const owner = await findOwner(providerPaymentId);
  if (owner === null) {
    logInfo("webhook event about a payment that is not ours: ignored", {
      eventId: event.eventId,
      type: event.eventType,
      providerPaymentId,
    });
    return recordIgnoredEvent(event);
  }
  const nowMs = Date.now();
  const doc: ParkedEventDoc = {
    eventId: event.eventId,
    eventType: event.eventType,
    providerObjectId: event.providerObjectId,
    providerPaymentId,
    owner,
    source,
    command: command as ParkedEventDoc["command"],
    parkedAt: Timestamp.fromMillis(nowMs),
    deadline: Timestamp.fromMillis(nowMs + PARK_LIMIT_MS),
  };
  if (await park(doc)) {
    logInfo("webhook event parked until its payment arrives", {
      eventId: event.eventId,
      type: event.eventType,
      providerPaymentId,
    });
  }
  // The payment may have been committed since the ledger was read, before this park raised the enrollment's count
  // (its write event then saw none parked): look again now that the park is committed (see the top of this file).
  if ((await resolveTarget({ kind: "lookup", providerPaymentId })) === null) return { kind: "parked" };
  return replayParked(event.eventId);
}

/**
 * Writes the parked event and raises its owner's enrollment `parkedEvents`, in one commit; the event alone when that
 * enrollment does not exist (its payment cannot apply there: the sweep handles it). False when an earlier delivery
 * of the same event (or this commit, re-sent after a lost reply) parked it already: it keeps its first deadline.
 */
async function park(doc: ParkedEventDoc): Promise<boolean> {
  const ref = refs.parkedEvent(doc.eventId);
  const batch = firestore().batch();
  batch.create(ref, { ...doc, counted: true });
  batch.update(refs.enrollment(doc.owner.uid, doc.owner.courseId), { parkedEvents: FieldValue.increment(1) });
  try {
    return await createdNow(batch.commit());
  } catch (error) {
    if (grpcCode(error) !== GRPC.NOT_FOUND) throw error;
  }
  return createdNow(ref.create({ ...doc, counted: false }));
}

/** A commit that creates the parked event: false when it exists already (ALREADY_EXISTS, nothing written). */
async function createdNow(commit: Promise<unknown>): Promise<boolean> {
  try {
    await commit;
    return true;
  } catch (error) {
    if (grpcCode(error) === GRPC.ALREADY_EXISTS) return false;
    throw error;
  }
}

/**
 * Deletes a handled parked event and lowers its owner's count, in one commit. When the event is gone already (a
 * concurrent replay handled it, or this commit was re-sent after a lost reply) or the enrollment is, nothing is
 * lowered: the event is deleted on its own (a no-op if gone).
 */
async function unpark(ref: DocumentReference<ParkedEventDoc>, parked: ParkedEventDoc): Promise<void> {
  if (parked.counted === true) {
    try {
      const batch = firestore().batch();
      batch.delete(ref, { exists: true });
      batch.update(refs.enrollment(parked.owner.uid, parked.owner.courseId), {
        parkedEvents: FieldValue.increment(-1),
      });
      await batch.commit();
      return;
    } catch (error) {
      if (grpcCode(error) !== GRPC.NOT_FOUND) throw error;
    }
  }
  await ref.delete();
}

/**
 * Applies the parked event `eventId` if its payment is known now, and deletes it once handled (applied, duplicate,
 * dead-lettered). Safe to run twice or concurrently: the event's record makes it count once.
 */
export async function replayParked(eventId: string): Promise<CommandOutcome> {
  const ref = refs.parkedEvent(eventId);
  const parked = (await ref.get()).data();
  if (parked === undefined) return { kind: "duplicate" };
  return replay(ref, parked);
}

/** Applies a parked event (as read) if its payment is known now, and deletes it once handled. */
async function replay(
  ref: DocumentReference<ParkedEventDoc>,
  parked: ParkedEventDoc,
): Promise<CommandOutcome> {
  const outcome = await executeCommand(
    parked.command as unknown as WebhookCommand,
    contextOf(parked),
    parked.source,
    { park: false },
  );
  if (outcome.kind !== "parked") await unpark(ref, parked);
  logInfo("parked webhook event replayed", { eventId: parked.eventId, outcome: outcome.kind });
  return outcome;
}

function contextOf(parked: ParkedEventDoc): EventContext {
  return { eventId: parked.eventId, eventType: parked.eventType, providerObjectId: parked.providerObjectId };
}

type ReplayResult =
  | { kind: "done"; event: ParkedEventDoc; outcome: CommandOutcome }
  | { kind: "failed"; error: unknown; transient: boolean };

/**
 * Replays one parked event as a query read it. A failure (its stored document unreadable, a Firestore or provider
 * error) is logged and answered, not thrown, so that it does not hold up the events after it.
 */
async function replayOne(doc: QueryDocumentSnapshot<ParkedEventDoc>): Promise<ReplayResult> {
  try {
    const event = doc.data();
    return { kind: "done", event, outcome: await replay(doc.ref, event) };
  } catch (error) {
    const transient = isTransientError(error);
    logError("parked webhook event replay failed", { eventId: doc.id, transient }, error);
    return { kind: "failed", error, transient };
  }
}

/** The enrollment write that made the trigger look: its stored count and update time. */
export interface ParkCountSeen {
  parkedEvents: number;
  updateTime: Timestamp;
}

/**
 * onEnrollmentWritten's work when a write added ledger entries to an enrollment with parked events: replay them
 * (those whose payment is still unknown stay parked), each on its own: one that fails does not hold up the others,
 * and a transient failure is thrown at the end so that the trigger is retried. When every parked event of the
 * enrollment was read and the enrollment is still as `seen` (no park or handled event since: each writes it), a
 * count that differs from the events found is set to that number. Returns how many were examined.
 */
export async function replayParkedForEnrollment(
  uid: string,
  courseId: string,
  seen: ParkCountSeen,
): Promise<number> {
  let examined = 0;
  let counted = 0;
  let complete = false;
  let retry: Error | undefined;
  let last: QueryDocumentSnapshot<ParkedEventDoc> | undefined;
  for (let page = 0; page < REPLAY_PAGES && !complete; page++) {
    const query = parkedEventsForEnrollment(uid, courseId, REPLAY_BATCH);
    const waiting = await (last === undefined ? query : query.startAfter(last)).get();
    for (const doc of waiting.docs) {
      examined++;
      if (doc.get("counted") === true) counted++;
      const result = await replayOne(doc);
      if (result.kind === "failed" && result.transient)
        retry ??= result.error instanceof Error ? result.error : new Error(String(result.error));
    }
    complete = waiting.size < REPLAY_BATCH;
    last = waiting.docs[waiting.docs.length - 1];
  }
  if (retry !== undefined) throw retry;
  if (complete && counted !== seen.parkedEvents) {
    try {
      await refs
        .enrollment(uid, courseId)
        .update({ parkedEvents: counted }, { lastUpdateTime: seen.updateTime });
      logWarn("enrollment parkedEvents count set right", {
        uid,
        courseId,
        was: seen.parkedEvents,
        now: counted,
      });
    } catch (error) {
      // Changed since (a replay applied or handled an event, another park): that write's own event looks again.
      const code = grpcCode(error);
      if (code !== GRPC.FAILED_PRECONDITION && code !== GRPC.NOT_FOUND) throw error;
    }
  }
  return examined;
}

export interface SweepReport {
  examined: number;
  /** Handled now that their payment is known: applied by the sweep, or found processed and removed. */
  replayed: number;
  /** Of those, applied by the sweep itself (no trigger or redelivery had): a trigger that never ran, or gave up. */
  applied: number;
  deadLettered: number;
  waiting: number;
  /** Replays that threw (logged; the next run tries again). */
  failed: number;
}

/**
 * The scheduled sweep: the `limit` longest-waiting parked events are replayed (applied if their payment is known
 * now: a trigger that never ran), dead-lettered `unknown-payment` past their deadline, else left waiting. Bounded,
 * and safe to run twice or concurrently with the trigger.
 */
export async function sweepParkedEvents(nowMs = Date.now(), limit = 200): Promise<SweepReport> {
  const report: SweepReport = {
    examined: 0,
    replayed: 0,
    applied: 0,
    deadLettered: 0,
    waiting: 0,
    failed: 0,
  };
  const parked = await oldestParkedEvents(limit).get();
  for (const doc of parked.docs) {
    report.examined++;
    const result = await replayOne(doc);
    if (result.kind === "failed") {
      report.failed++;
      continue;
    }
    const { event, outcome } = result;
    switch (decideParked(outcome.kind !== "parked", event.deadline.toMillis(), nowMs)) {
      case "replay":
        report.replayed++;
        if (outcome.kind !== "duplicate") report.applied++;
        break;
      case "dead-letter":
        logWarn("parked webhook event gave up waiting for its payment", {
          eventId: event.eventId,
          providerPaymentId: event.providerPaymentId,
        });
        await deadLetterEvent(contextOf(event), "unknown-payment");
        await unpark(doc.ref, event);
        report.deadLettered++;
        break;
      case "wait":
        report.waiting++;
        break;
    }
  }
  return report;
}
