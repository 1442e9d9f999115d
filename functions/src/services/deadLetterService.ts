/**
 * Dead-letter operations (admin callables): list, inspect, replay, dismiss.
 *
 * A dead letter stores ids and a reason, never the event (README: admins read dead letters, so they hold no
 * payload). A replay therefore fetches the ORIGINAL event from the provider (`retrieveEvent`: Stripe keeps events
 * 30 days; past that it answers failed-precondition and the admin credits the payment by hand and dismisses the
 * dead letter), reads it as the webhook reads a verified event, maps it, and runs it through the webhook's own
 * exactly-once path (webhookCommandService.executeCommand → ledgerService), with one difference: the event's
 * record `webhookEvents/{eventId}` already says `dead-lettered`, so the replay's exactly-once key is the dead
 * letter's audit record `adminAudit/deadletter_{hash(id)}`, created in the same commit that applies the event and
 * moves the dead letter to `replayed` (ledgerService `ReplayOf`). A second replay, concurrent replays, or a replay
 * racing a dismissal (which creates the same record) resolve it once; the ledger entries keyed by provider object
 * id make the money move once whatever happens. A replay that still fails writes nothing of the event: the dead
 * letter stays open with `lastReplay` (who, when, why), and an attempt audit record.
 */
import { randomUUID } from "node:crypto";
import { FieldValue } from "firebase-admin/firestore";
import type {
  DeadLetterReplayPreview,
  DeadLetterView,
  DismissDeadLetterResponse,
  GetDeadLetterResponse,
  ListDeadLettersResponse,
  ReplayDeadLetterResponse,
} from "../api";
import { deadLetterStatus, decideReplayRequest, previewCommand } from "../domain/deadLetters";
import { mapWebhookEvent, type WebhookCommand } from "../domain/webhookMapping";
import type {
  DismissDeadLetterInput,
  GetDeadLetterInput,
  ListDeadLettersInput,
  ReplayDeadLetterInput,
} from "../schemas/callables";
import { firestore } from "../shared/admin";
import { expectsLivemode } from "../shared/config";
import {
  AppError,
  GRPC,
  failedPrecondition,
  grpcCode,
  invalidArgument,
  isTransientError,
  isUnknownCommitOutcome,
  notFound,
} from "../shared/errors";
import { logError, logInfo } from "../shared/log";
import type { DeadLetterDoc } from "./firestore/models";
import { deadLettersNewestFirst, refs } from "./firestore/refs";
import type { EventContext, ReplayConclusion } from "./ledgerService";
import { getPaymentProvider, paymentProviderSource } from "./payments";
import { executeCommand, resolveTarget } from "./webhookCommandService";
import { readVerifiedEvent } from "./webhookService";

const DEFAULT_PAGE = 50;

const iso = (t: { toDate(): Date } | undefined): string => t?.toDate().toISOString() ?? "";

function viewOf(id: string, doc: DeadLetterDoc): DeadLetterView {
  const r = doc.resolution;
  return {
    id,
    eventType: doc.type,
    reason: doc.reason,
    providerObjectId: doc.providerObjectId,
    status: deadLetterStatus(doc.status),
    createdAt: iso(doc.createdAt),
    resolution:
      r === undefined
        ? null
        : { by: r.by, at: iso(r.at), outcome: r.outcome, note: r.note, requestId: r.requestId },
    lastReplay:
      doc.lastReplay === undefined
        ? null
        : { by: doc.lastReplay.by, at: iso(doc.lastReplay.at), reason: doc.lastReplay.reason },
  };
}

async function load(id: string): Promise<DeadLetterDoc> {
  const doc = (await refs.deadLetter(id).get()).data();
  if (doc === undefined) throw notFound("No such dead letter.");
  return doc;
}

export async function listDeadLetters(input: ListDeadLettersInput): Promise<ListDeadLettersResponse> {
  const limit = input.limit ?? DEFAULT_PAGE;
  let query = deadLettersNewestFirst(limit, {
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(input.status === undefined ? {} : { status: input.status }),
  });
  if (input.startAfter !== undefined) {
    const cursor = await refs.deadLetter(input.startAfter).get();
    if (!cursor.exists) throw invalidArgument("startAfter does not name a dead letter.");
    query = query.startAfter(cursor);
  }
  const page = await query.get();
  const last = page.docs[page.docs.length - 1];
  return {
    deadLetters: page.docs.map((d) => viewOf(d.id, d.data())),
    next: page.size === limit && last !== undefined ? last.id : null,
  };
}

/** The dead letter's original event, from the provider, as the webhook reads it, and its command. */
async function originalEvent(doc: DeadLetterDoc): Promise<{
  command: WebhookCommand;
  context: EventContext;
  source: ReturnType<typeof paymentProviderSource>;
}> {
  const raw = await (await getPaymentProvider()).retrieveEvent(doc.eventId);
  if (raw === null)
    throw failedPrecondition(
      "The payment provider no longer has this event (Stripe keeps events 30 days): credit the payment with " +
        "recordManualPayment if it is due, then dismiss the dead letter.",
    );
  const source = paymentProviderSource();
  const read = readVerifiedEvent(raw, expectsLivemode(source));
  if (read.kind !== "handled")
    throw failedPrecondition(`The provider's copy of this event cannot be replayed (${read.kind}).`);
  return {
    command: mapWebhookEvent(read.event, source),
    context: { eventId: read.event.id, eventType: read.event.type, providerObjectId: read.event.object.id },
    source,
  };
}

export async function getDeadLetter(input: GetDeadLetterInput): Promise<GetDeadLetterResponse> {
  const doc = await load(input.id);
  const deadLetter = viewOf(input.id, doc);
  if (deadLetter.status !== "open") return { deadLetter, replay: null };
  return { deadLetter, replay: await previewReplay(doc) };
}

async function previewReplay(doc: DeadLetterDoc): Promise<DeadLetterReplayPreview> {
  let command: WebhookCommand;
  try {
    command = (await originalEvent(doc)).command;
  } catch (error) {
    // Not retrievable, or unreadable (AppError, its message written for admins); anything else is an error.
    if (!(error instanceof AppError)) throw error;
    return {
      retrievable: false,
      command: null,
      note: error.message,
      uid: null,
      courseId: null,
      enrollmentExists: null,
      providerPaymentId: null,
      paymentKnown: null,
      entries: [],
    };
  }
  const preview = previewCommand(command);
  const enrollmentExists =
    preview.uid === null || preview.courseId === null
      ? null
      : (await refs.enrollment(preview.uid, preview.courseId).get()).exists;
  const paymentKnown =
    preview.uid === null && preview.providerPaymentId !== null
      ? (await resolveTarget({ kind: "lookup", providerPaymentId: preview.providerPaymentId })) !== null
      : null;
  return { retrievable: true, ...preview, enrollmentExists, paymentKnown };
}

export async function replayDeadLetter(
  adminUid: string,
  input: ReplayDeadLetterInput,
): Promise<ReplayDeadLetterResponse> {
  const doc = await load(input.id);
  const stored = answerResolved(input.id, doc, input.requestId);
  if (stored !== null) return stored;
  const { command, context, source } = await originalEvent(doc);
  // The caller's retry key, or one for this call alone: how the call knows the resolution it reads is its own.
  const requestId = input.requestId ?? `replay_${randomUUID()}`;
  const deadLetterRef = refs.deadLetter(input.id);
  const marker = refs.deadLetterAudit(input.id);
  const replayContext: EventContext = {
    ...context,
    replay: {
      marker,
      conclude: (outcome: ReplayConclusion) => [
        {
          op: "create",
          ref: marker,
          data: {
            action: "dead-letter-replay",
            adminUid,
            deadLetterId: input.id,
            eventId: context.eventId,
            eventType: context.eventType,
            outcome,
            note: null,
            requestId,
            createdAt: FieldValue.serverTimestamp(),
          },
        },
        {
          op: "update",
          ref: deadLetterRef,
          data: {
            status: "replayed",
            resolution: { by: adminUid, at: FieldValue.serverTimestamp(), outcome, note: null, requestId },
          },
        },
      ],
    },
  };
  let outcome;
  try {
    outcome = await executeCommand(command, replayContext, source, { park: false });
  } catch (error) {
    if (isTransientError(error) || isUnknownCommitOutcome(error)) throw error;
    logError("dead letter replay failed", { deadLetterId: input.id, eventId: context.eventId }, error);
    return stillFailing(adminUid, input.id, doc, requestId, "internal-error", "dead-lettered");
  }
  switch (outcome.kind) {
    case "applied":
    case "noop":
    case "ignored":
      logInfo("dead letter replayed", { adminUid, deadLetterId: input.id, outcome: outcome.kind });
      return { id: input.id, status: "replayed", outcome: outcome.kind, reason: null };
    case "dead-lettered":
      return stillFailing(adminUid, input.id, doc, requestId, outcome.reason, outcome.kind);
    case "parked":
      return stillFailing(adminUid, input.id, doc, requestId, "unknown-payment", outcome.kind);
    case "duplicate": {
      // Resolved: by this very call (its commit applied, its reply was lost, the rerun read it applied; or every
      // entry was in the ledger already), by a retry of it, or by someone else (refused).
      const now = await load(input.id);
      const answer = answerResolved(input.id, now, requestId);
      if (answer !== null) return answer;
      throw failedPrecondition(`This dead letter was ${deadLetterStatus(now.status)} meanwhile.`);
    }
  }
}

/** The answer for a dead letter already resolved: the stored one for a retry of the replay, else refused. */
function answerResolved(
  id: string,
  doc: DeadLetterDoc,
  requestId: string | undefined,
): ReplayDeadLetterResponse | null {
  const status = deadLetterStatus(doc.status);
  switch (decideReplayRequest(status, doc.resolution, requestId)) {
    case "replay":
      return null;
    case "answer-stored":
      return { id, status, outcome: doc.resolution?.outcome ?? "applied", reason: null };
    case "refuse":
      throw failedPrecondition(`This dead letter was ${status} already.`);
  }
}

/** The event still fails: the dead letter stays open and says why; the attempt is audited. */
async function stillFailing(
  adminUid: string,
  id: string,
  doc: DeadLetterDoc,
  requestId: string,
  reason: string,
  outcome: string,
): Promise<ReplayDeadLetterResponse> {
  const batch = firestore().batch();
  batch.update(refs.deadLetter(id), {
    lastReplay: { by: adminUid, at: FieldValue.serverTimestamp(), reason },
  });
  batch.set(refs.auditOf("replayattempt", [id, requestId]), {
    action: "dead-letter-replay-failed",
    adminUid,
    deadLetterId: id,
    eventId: doc.eventId,
    eventType: doc.type,
    outcome: reason,
    note: null,
    requestId,
    createdAt: FieldValue.serverTimestamp(),
  });
  await batch.commit();
  logInfo("dead letter replay still fails", { adminUid, deadLetterId: id, reason });
  return { id, status: "open", outcome, reason };
}

/**
 * Closes an open dead letter without replaying it, with the admin's reason: the audit record (the same one a
 * replay creates, so a dismissal and a replay never both happen) and the status in one commit. A retry by the same
 * admin with the same reason gets the same answer.
 */
export async function dismissDeadLetter(
  adminUid: string,
  input: DismissDeadLetterInput,
): Promise<DismissDeadLetterResponse> {
  const doc = await load(input.id);
  const answer = { id: input.id, status: "dismissed" as const };
  const isThisDismissal = (d: DeadLetterDoc): boolean =>
    d.status === "dismissed" && d.resolution?.by === adminUid && d.resolution.note === input.reason;
  if (isThisDismissal(doc)) return answer;
  if (deadLetterStatus(doc.status) !== "open")
    throw failedPrecondition(`This dead letter was ${deadLetterStatus(doc.status)} already.`);
  const batch = firestore().batch();
  batch.create(refs.deadLetterAudit(input.id), {
    action: "dead-letter-dismiss",
    adminUid,
    deadLetterId: input.id,
    eventId: doc.eventId,
    eventType: doc.type,
    outcome: null,
    note: input.reason,
    requestId: null,
    createdAt: FieldValue.serverTimestamp(),
  });
  batch.update(refs.deadLetter(input.id), {
    status: "dismissed",
    resolution: {
      by: adminUid,
      at: FieldValue.serverTimestamp(),
      outcome: null,
      note: input.reason,
      requestId: null,
    },
  });
  try {
    await batch.commit();
  } catch (error) {
    if (grpcCode(error) !== GRPC.ALREADY_EXISTS) throw error;
    // Resolved meanwhile: by a replay, another dismissal, or this one (a commit re-sent after a lost reply).
    const now = await load(input.id);
    if (isThisDismissal(now)) return answer;
    throw failedPrecondition(`This dead letter was ${deadLetterStatus(now.status)} meanwhile.`);
  }
  logInfo("dead letter dismissed", { adminUid, deadLetterId: input.id });
  return answer;
}
