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
 * - No parked event is left behind by a race. The park's commit also raises `parkedEvents` on its owner's
 *   enrollment, and a payment's commit writes that same document, so Firestore puts the two in an order. Park
 *   first: the payment's write event carries `parkedEvents > 0` with a grown `ledgerCount`, and onEnrollmentWritten
 *   replays the enrollment's parked events (domain/parking `shouldReplayParked`). Payment first: the park reads the
 *   ledger again after its commit and finds the entry. Both apply through the event's `webhookEvents` record, so
 *   applying twice is impossible; handling a parked event deletes it and lowers the count in one commit.
 *   A payment costs nothing for this while nothing is parked: no trigger of its own, no query.
 */
import { FieldValue, Timestamp, type DocumentReference } from "firebase-admin/firestore";
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
import { GRPC, grpcCode } from "../shared/errors";
import { logInfo, logWarn } from "../shared/log";
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

/** Parked events replayed per enrollment write by the trigger (a payment has at most a few refunds and disputes). */
const REPLAY_BATCH = 50;

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
  try {
    const batch = firestore().batch();
    batch.create(ref, { ...doc, counted: true });
    batch.update(refs.enrollment(doc.owner.uid, doc.owner.courseId), {
      parkedEvents: FieldValue.increment(1),
    });
    await batch.commit();
    return true;
  } catch (error) {
    const code = grpcCode(error);
    if (code === GRPC.ALREADY_EXISTS) return false;
    if (code !== GRPC.NOT_FOUND) throw error;
  }
  try {
    await ref.create({ ...doc, counted: false });
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

/**
 * onEnrollmentWritten's work when a write added ledger entries to an enrollment with parked events: replay them
 * (those whose payment is still unknown stay parked). Returns how many were examined.
 */
export async function replayParkedForEnrollment(uid: string, courseId: string): Promise<number> {
  const waiting = await parkedEventsForEnrollment(uid, courseId, REPLAY_BATCH).get();
  for (const doc of waiting.docs) await replay(doc.ref, doc.data());
  return waiting.size;
}

export interface SweepReport {
  examined: number;
  replayed: number;
  deadLettered: number;
  waiting: number;
}

/**
 * The scheduled sweep: the `limit` longest-waiting parked events are replayed (applied if their payment is known
 * now: a trigger that never ran), dead-lettered `unknown-payment` past their deadline, else left waiting. Bounded,
 * and safe to run twice or concurrently with the trigger.
 */
export async function sweepParkedEvents(nowMs = Date.now(), limit = 200): Promise<SweepReport> {
  const report: SweepReport = { examined: 0, replayed: 0, deadLettered: 0, waiting: 0 };
  const parked = await oldestParkedEvents(limit).get();
  for (const doc of parked.docs) {
    report.examined++;
    const event = doc.data();
    const outcome = await replay(doc.ref, event);
    switch (decideParked(outcome.kind !== "parked", event.deadline.toMillis(), nowMs)) {
      case "replay":
        report.replayed++;
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
