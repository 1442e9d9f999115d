/**
 * The ledger service: every change of money goes through here.
 *
 * A payment or refund (webhook or manual payment) is ONE read and ONE blind commit, with no transaction and so no
 * lock held across round trips:
 *
 *   read    one BatchGet: webhookEvents/{eventId}, the enrollment, the ledger entries keyed by provider object id
 *           (and the checkout). Event recorded or every entry present → "duplicate": answered, nothing written.
 *   decide  with the pure domain (decideLedgerApplication): each new entry's delta; bad amount/currency → dead letter
 *   commit  create the new ledger entries, `update` the enrollment with FieldValue.increment of the totals and
 *           `updatedAt: serverTimestamp()`, create webhookEvents/{eventId} — all or nothing.
 *
 * The creates make the commit exactly-once: a concurrent copy, a redelivery, or a Commit the SDK re-sent after its
 * reply was lost fails as a whole with ALREADY_EXISTS, and the rerun of read + decide finds the entries: "already
 * applied". Increments commute, so concurrent movements on one enrollment never conflict and any arrival order
 * gives the same totals. Two writes are guarded by an updateTime precondition on the document they were decided
 * from (a conflict reruns read + decide): clearing the enrollment's `openCheckout` when it names this payment's
 * checkout, and moving that checkout's status.
 *
 * The derived fields (amountDue, amountOverpaid, paymentStatus, accessStatus) are written in the same commit as
 * the policy computes them from the totals read plus this delta: exact unless another movement of the same
 * enrollment committed between the read and this commit. The onEnrollmentWritten trigger derives them again from
 * every write's `after` snapshot and corrects them under a precondition on that snapshot's updateTime (see
 * services/enrollmentTriggerService.ts), so they are exact once the last write's trigger has run.
 *
 * **Group commit.** Applications running at once in one function instance share that read and that commit
 * (`ledgerGroups`, see ./firestore/coalescer.ts): at low load each runs alone and at once; under load, while two
 * groups are in flight, the requests that arrive wait and are then read with one BatchGet, decided one by one
 * (members of one enrollment add up into one `update` with the summed increments and derived fields from the
 * totals read plus the group's delta) and committed together, all or nothing. Two requests naming the same ledger
 * entry, event or checkout are never in flight together in one instance: a redelivered event waits for its first
 * copy and then reads it as applied. A conflicting group commit (most often its own commit re-sent after a lost
 * reply) reruns its writers together once, then each alone; a rerun that finds its entries reports "duplicate".
 *
 * Dispute events (a state machine on the enrollment) and manual refunds (bounded by what is still refundable)
 * stay read-write transactions; they are rare and admin- or provider-paced. Events that leave no ledger entry
 * (failures, no-ops, dead letters) are recorded exactly once by `create` of webhookEvents/{eventId}.
 */
import {
  FieldPath,
  FieldValue,
  Timestamp,
  type DocumentData,
  type DocumentReference,
  type DocumentSnapshot,
  type Precondition,
  type Transaction,
  type WriteBatch,
} from "firebase-admin/firestore";
import { nextCheckoutStatus, type CheckoutEvent } from "../domain/checkoutStatus";
import {
  countOpenDisputes,
  decideDisputeTransition,
  disputeReinstatementId,
  type DisputeEvent,
} from "../domain/disputes";
import {
  addDeltas,
  applyDelta,
  decideLedgerApplication,
  ZERO_DELTA,
  type LedgerDelta,
  type LedgerEntryInput,
  type LedgerTotals,
} from "../domain/ledger";
import {
  checkoutMismatches,
  decideDisputeTakeBack,
  decideRefundTakeBack,
  standingOf,
} from "../domain/eventClaims";
import { decideRefundAmount } from "../domain/money";
import { deriveStatus, type StatusInputs } from "../domain/statusPolicy";
import type { DeadLetterReason } from "../domain/webhookMapping";
import { firestore } from "../shared/admin";
import { failedPrecondition, GRPC, grpcCode, isCommitConflict, notFound } from "../shared/errors";
import { logWarn } from "../shared/log";
import { Coalescer, type GroupOutcome } from "./firestore/coalescer";
import type { CheckoutDoc, EnrollmentDoc, LedgerEntryDoc, WebhookEventDoc } from "./firestore/models";
import { refs, updateIn } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Processed-event records outlive Stripe's 3-day retry window; a TTL policy on `expireAt` removes them. */
export const WEBHOOK_EVENT_RETENTION_MS = 30 * DAY_MS;

/** The webhook event being processed (absent for admin-initiated entries). */
export interface EventContext {
  eventId: string;
  eventType: string;
  /** The provider object the event is about (payment intent, charge, dispute) — for the dead letter. */
  providerObjectId: string | null;
  /** Set when a dead letter's original event is replayed (services/deadLetterService). */
  replay?: ReplayOf;
}

/** How a replay concludes: the outcomes that resolve its dead letter (a dead-letter decision resolves nothing). */
export type ReplayConclusion = Exclude<WebhookEventDoc["outcome"], "dead-lettered">;

/**
 * A replay of a dead-lettered event. `webhookEvents/{eventId}` already records the event (as dead-lettered), so a
 * replay's exactly-once key is `marker` instead: it is read where the event record would be, and created, with the
 * dead letter's resolution, in the very commit that applies the event (or records it as a no-op). A second or
 * concurrent replay, or a dismissal, finds it (or loses its create) and is a duplicate. A decision to dead-letter
 * the event again writes nothing: the dead letter stays open.
 */
export interface ReplayOf {
  marker: DocumentReference;
  /** The writes that conclude the replay with `outcome`, the marker's create among them. */
  conclude: (outcome: ReplayConclusion) => ConcludingWrite[];
}

export type ConcludingWrite =
  | { op: "create"; ref: DocumentReference; data: DocumentData }
  | { op: "update"; ref: DocumentReference; data: DocumentData };

export type LedgerOutcome =
  | { kind: "applied"; applied: string[]; duplicates: string[] }
  | { kind: "duplicate" }
  | { kind: "dead-lettered"; reason: DeadLetterReason }
  | { kind: "noop" }
  /** An event about a payment that is not this backend's: recorded, nothing else. */
  | { kind: "ignored" };

/** The totals ledger entries change, with the plan's schedule riding along for the status policy. */
function totalsOf(enrollment: EnrollmentDoc): LedgerTotals & StatusInputs {
  return {
    installments: enrollment.installments,
    deadlinesPassed: enrollment.deadlinesPassed,
    price: enrollment.price,
    currency: enrollment.currency,
    amountPaid: enrollment.amountPaid,
    ledgerCount: enrollment.ledgerCount,
    refundCount: enrollment.refundCount,
    refundedByPayment: enrollment.refundedByPayment,
    openDisputes: enrollment.openDisputes,
  };
}

// ---- documents ----

function eventRecord(event: EventContext, outcome: WebhookEventDoc["outcome"]) {
  return {
    type: event.eventType,
    outcome,
    processedAt: FieldValue.serverTimestamp(),
    expireAt: Timestamp.fromMillis(Date.now() + WEBHOOK_EVENT_RETENTION_MS),
  };
}

function deadLetterRecord(event: EventContext, reason: DeadLetterReason) {
  return {
    eventId: event.eventId,
    type: event.eventType,
    reason,
    providerObjectId: event.providerObjectId,
    status: "open" as const,
    createdAt: FieldValue.serverTimestamp(),
  };
}

/** The document whose existence means `event` was handled: its webhookEvents record, or a replay's marker. */
function recordRef(event: EventContext): DocumentReference {
  return event.replay?.marker ?? refs.webhookEvent(event.eventId);
}

/**
 * Records `event` as handled with `outcome`, in `writer` (a batch: create; a transaction, which read the record
 * absent: set). A replay writes its concluding writes instead. Returns the number of writes.
 */
function recordEvent(
  writer: WriteBatch | Transaction,
  event: EventContext,
  outcome: ReplayConclusion | "dead-lettered",
): number {
  if (event.replay === undefined) {
    const record = eventRecord(event, outcome);
    if ("getAll" in writer) writer.set(refs.webhookEvent(event.eventId), record);
    else writer.create(refs.webhookEvent(event.eventId), record);
    return 1;
  }
  if (outcome === "dead-lettered") return 0;
  const writes = event.replay.conclude(outcome);
  for (const w of writes) {
    // Both writer kinds take the same arguments; the union of their overloads does not type-check as one call.
    if (w.op === "create") (writer as WriteBatch).create(w.ref, w.data);
    else (writer as WriteBatch).update(w.ref, w.data);
  }
  return writes.length;
}

/** The (immutable) ledger entry of `entry`; the caller has decided that it applies. */
function ledgerEntryDoc(entry: LedgerEntryInput, origin: { eventId: string | null }) {
  return {
    amount: entry.amount,
    currency: entry.currency,
    type: entry.type,
    source: entry.source,
    providerPaymentId: entry.providerPaymentId,
    providerRefundId: entry.providerRefundId ?? null,
    eventId: origin.eventId,
    createdAt: FieldValue.serverTimestamp(),
  };
}

/**
 * Who recorded a manual entry: an admin-only audit record (students read their ledger entries, never an admin's
 * uid), created in the same commit as the entry it describes.
 */
function adminAuditDoc(uid: string, courseId: string, entry: LedgerEntryInput, adminUid: string) {
  return {
    action: entry.type === "refund" ? ("manual-refund" as const) : ("manual-payment" as const),
    adminUid,
    uid,
    courseId,
    ledgerEntryId: entry.id,
    amount: entry.amount,
    currency: entry.currency,
    createdAt: FieldValue.serverTimestamp(),
  };
}

/**
 * The enrollment update of a money movement, as field/value pairs: the totals as increments (per-payment refund
 * keys are provider ids, hence FieldPaths), the derived fields of `enrollment`'s totals plus the delta,
 * and `extra` fields (`updateArgs` adds `updatedAt`).
 */
function movementUpdate(
  enrollment: EnrollmentDoc,
  delta: LedgerDelta,
  extra: Record<string, unknown> = {},
): [FieldPath, unknown][] {
  const fields: [FieldPath, unknown][] = [];
  const increment = (path: FieldPath, n: number): void => {
    if (n !== 0) fields.push([path, FieldValue.increment(n)]);
  };
  increment(new FieldPath("amountPaid"), delta.amountPaid);
  increment(new FieldPath("ledgerCount"), delta.ledgerCount);
  increment(new FieldPath("refundCount"), delta.refundCount);
  for (const [paymentId, cents] of Object.entries(delta.refundedByPayment)) {
    increment(new FieldPath("refundedByPayment", paymentId), cents);
  }
  const totals = totalsOf(enrollment);
  const derived = deriveStatus({ ...totals, ...applyDelta(totals, delta) });
  for (const [key, value] of Object.entries({ ...derived, ...extra }))
    fields.push([new FieldPath(key), value]);
  return fields;
}

/** Field/value pairs (and a precondition) as the arguments of the SDK's varargs `update(ref, field, value, …)`. */
function updateArgs(
  fields: [FieldPath, unknown][],
  precondition?: Precondition,
): [FieldPath, unknown, ...unknown[]] {
  const flat = fields.flat();
  return [
    new FieldPath("updatedAt"),
    FieldValue.serverTimestamp(),
    ...flat,
    ...(precondition === undefined ? [] : [precondition]),
  ];
}

// ---- one read, one blind commit, shared by concurrent requests ----

/** A guarded commit kept losing to concurrent writes: transient (ABORTED), so the provider or client retries. */
class CommitContended extends Error {
  readonly code = GRPC.ABORTED;
  constructor() {
    super("commit kept conflicting with concurrent writes");
    this.name = "CommitContended";
  }
}

const MAX_COMMIT_ATTEMPTS = 8;
/** Firestore allows 500 writes per commit; a group stops taking members before that. */
const MAX_GROUP_WRITES = 450;

/** Dead-letters `event`: 2 writes (none for a replay, whose dead letter stays as it is). */
function deadLetterWrites(batch: WriteBatch, event: EventContext, reason: DeadLetterReason): LedgerOutcome {
  if (event.replay === undefined) {
    recordEvent(batch, event, "dead-lettered");
    batch.set(refs.deadLetter(event.eventId), deadLetterRecord(event, reason));
  }
  return { kind: "dead-lettered", reason };
}

/** Records an event that leaves no ledger entry, once: `create` of its record fails if it was recorded before. */
async function recordOnce(batch: WriteBatch, result: LedgerOutcome): Promise<LedgerOutcome> {
  try {
    await batch.commit();
    return result;
  } catch (error) {
    if (grpcCode(error) === GRPC.ALREADY_EXISTS) return { kind: "duplicate" };
    throw error;
  }
}

/** Returns true when the event (or this replay of it) was processed before (one read, no writes). */
export async function isEventProcessed(event: EventContext): Promise<boolean> {
  return (await recordRef(event).get()).exists;
}

/** Records a permanent failure of an authentic event: dead letter + processed-event record, exactly once. */
export async function deadLetterEvent(event: EventContext, reason: DeadLetterReason): Promise<LedgerOutcome> {
  const batch = firestore().batch();
  const outcome = deadLetterWrites(batch, event, reason);
  return event.replay === undefined ? recordOnce(batch, outcome) : outcome;
}

/** Records an event that needs no change (e.g. a refund list with only failed refunds), exactly once. */
export async function recordNoopEvent(event: EventContext): Promise<LedgerOutcome> {
  const batch = firestore().batch();
  recordEvent(batch, event, "noop");
  return recordOnce(batch, { kind: "noop" });
}

/** Records an event about something that is not this backend's (a foreign payment's refund), exactly once. */
export async function recordIgnoredEvent(event: EventContext): Promise<LedgerOutcome> {
  const batch = firestore().batch();
  recordEvent(batch, event, "ignored");
  return recordOnce(batch, { kind: "ignored" });
}

export interface ApplyEntriesParams {
  uid: string;
  courseId: string;
  entries: readonly LedgerEntryInput[];
  /** Checkout to move to `succeeded` (payment from startPayment), if any. */
  checkoutId: string | null;
  event: EventContext | null;
  /** What the provider payment was created for (`payment_intent.amount`), compared with its checkout's amount. */
  requestedAmount?: number;
  /** Admin uid for manual entries: recorded in an admin-only audit record, not in the ledger entry. */
  recordedBy?: string | null;
}

interface MemberRefs {
  enrollment: DocumentReference<EnrollmentDoc>;
  entries: DocumentReference<LedgerEntryDoc>[];
  /** Per entry: for a refund, the ledger entry of the payment it takes money back from (else null). */
  refundedPayments: (DocumentReference<LedgerEntryDoc> | null)[];
  /** The event's record (or its replay's marker). */
  event: DocumentReference | null;
  checkout: DocumentReference<CheckoutDoc> | null;
}

function memberRefs(p: ApplyEntriesParams): MemberRefs {
  return {
    enrollment: refs.enrollment(p.uid, p.courseId),
    entries: p.entries.map((e) => refs.ledgerEntry(p.uid, p.courseId, e.id)),
    refundedPayments: p.entries.map((e) =>
      e.type === "refund" ? refs.ledgerEntry(p.uid, p.courseId, e.providerPaymentId) : null,
    ),
    event: p.event === null ? null : recordRef(p.event),
    checkout: p.checkoutId === null ? null : refs.checkout(p.checkoutId),
  };
}

/** The documents a member creates or moves under a precondition: no two members running at once share one. */
function claimedPaths(p: ApplyEntriesParams): string[] {
  const r = memberRefs(p);
  return [...r.entries, r.event, r.checkout].filter((ref) => ref !== null).map((ref) => ref.path);
}

/** One enrollment's money movement in a group: every member's delta, committed as one update. */
interface Movement {
  ref: DocumentReference<EnrollmentDoc>;
  snap: DocumentSnapshot<EnrollmentDoc>;
  enrollment: EnrollmentDoc;
  delta: LedgerDelta;
  closesOpenCheckout: boolean;
  /**
   * The update is guarded by the read's updateTime: it clears `openCheckout`, or it refunds (bounded by what the
   * read says is left of the payment, so a concurrent refund of the same payment makes one of them rerun).
   */
  guarded: boolean;
}

type MemberDecision =
  { kind: "failed"; error: unknown } | { kind: "decided"; result: LedgerOutcome; writes: number };

interface Group {
  batch: WriteBatch;
  writes: number;
  movements: Map<string, Movement>;
  read: <T>(ref: DocumentReference<T>) => DocumentSnapshot<T>;
}

/**
 * One member's decision from the group's read, its writes added to the group's batch (its money movement to the
 * group's movement of its enrollment). Reads and parses everything it needs, and decides, before its first write:
 * a member that throws (a stored document that fails its schema) has added nothing to the group.
 */
function decideMember(p: ApplyEntriesParams, r: MemberRefs, group: Group): MemberDecision {
  const eventSnap = r.event === null ? undefined : group.read(r.event);
  if (eventSnap?.exists === true) return { kind: "decided", result: { kind: "duplicate" }, writes: 0 };
  const enrollmentSnap = group.read(r.enrollment);
  const movement = group.movements.get(r.enrollment.path);
  const enrollment = movement?.enrollment ?? enrollmentSnap.data();
  if (enrollment === undefined) {
    if (p.event === null)
      return { kind: "failed", error: failedPrecondition("The user is not enrolled in this course.") };
    return {
      kind: "decided",
      result: deadLetterWrites(group.batch, p.event, "unknown-enrollment"),
      writes: p.event.replay === undefined ? 2 : 0,
    };
  }

  // A provider payment naming a checkout is applied only if that checkout is ours for exactly this payment.
  const payment = p.entries.find((e) => e.type === "payment");
  const checkoutSnap = r.checkout === null ? undefined : group.read(r.checkout);
  const checkout = checkoutSnap?.data();
  if (p.event !== null && checkoutSnap !== undefined && payment !== undefined) {
    const wrong = checkoutMismatches(checkout, {
      uid: p.uid,
      courseId: p.courseId,
      amount: p.requestedAmount ?? payment.amount,
      currency: payment.currency,
      providerPaymentId: payment.providerPaymentId,
    });
    if (wrong.length > 0) {
      logWarn("payment does not match the checkout it names", {
        eventId: p.event.eventId,
        checkoutId: p.checkoutId,
        providerPaymentId: payment.providerPaymentId,
        mismatched: wrong.join(","),
      });
      return {
        kind: "decided",
        result: deadLetterWrites(group.batch, p.event, "checkout-mismatch"),
        writes: p.event.replay === undefined ? 2 : 0,
      };
    }
  }

  let delta = ZERO_DELTA;
  const applied: number[] = [];
  const duplicates: string[] = [];
  for (const [index, entry] of p.entries.entries()) {
    const entrySnap = r.entries[index];
    const decision = decideLedgerApplication(
      enrollment.currency,
      entrySnap !== undefined && group.read(entrySnap).exists,
      entry,
    );
    if (decision.kind === "duplicate") {
      duplicates.push(entry.id);
      continue;
    }
    if (decision.kind === "reject") {
      if (p.event === null)
        return { kind: "failed", error: failedPrecondition(`Ledger entry rejected: ${decision.reason}.`) };
      return {
        kind: "decided",
        result: deadLetterWrites(group.batch, p.event, decision.reason),
        writes: p.event.replay === undefined ? 2 : 0,
      };
    }
    const paymentRef = r.refundedPayments[index] ?? null;
    if (paymentRef !== null) {
      // What is left of the payment: its ledger entry minus what was refunded before, in this group included.
      const pid = entry.providerPaymentId;
      const refundedByPayment = {
        [pid]:
          (enrollment.refundedByPayment[pid] ?? 0) +
          (movement?.delta.refundedByPayment[pid] ?? 0) +
          (delta.refundedByPayment[pid] ?? 0),
      };
      const takeBack = decideRefundTakeBack(
        standingOf(pid, group.read(paymentRef).data(), { ...enrollment, refundedByPayment }),
        -entry.amount,
      );
      if (!takeBack.ok) {
        const reason = takeBack.reason === "exceeds-payment" ? "refund-exceeds-payment" : takeBack.reason;
        if (p.event === null)
          return { kind: "failed", error: failedPrecondition(`Refund not possible: ${reason}.`) };
        logWarn("refund set aside", {
          eventId: p.event.eventId,
          refundId: entry.id,
          providerPaymentId: pid,
          reason,
        });
        return {
          kind: "decided",
          result: deadLetterWrites(group.batch, p.event, reason),
          writes: p.event.replay === undefined ? 2 : 0,
        };
      }
    }
    applied.push(index);
    delta = addDeltas(delta, decision.delta);
  }

  let writes = 0;
  const origin = { eventId: p.event?.eventId ?? null };
  for (const index of applied) {
    const ref = r.entries[index];
    const entry = p.entries[index];
    if (ref === undefined || entry === undefined) continue;
    group.batch.create(ref, ledgerEntryDoc(entry, origin));
    writes++;
    if (p.recordedBy !== undefined && p.recordedBy !== null) {
      group.batch.create(
        refs.adminAudit(p.uid, p.courseId, entry.id),
        adminAuditDoc(p.uid, p.courseId, entry, p.recordedBy),
      );
      writes++;
    }
  }
  // A remaining-balance checkout that this payment completes stops being the enrollment's open checkout. That
  // write is decided from the enrollment as read, so the enrollment's update is guarded by the read's updateTime.
  const closesOpenCheckout = p.checkoutId !== null && enrollment.openCheckout?.checkoutId === p.checkoutId;
  const refunds = applied.some((index) => p.entries[index]?.type === "refund");
  if (applied.length > 0 || closesOpenCheckout) {
    group.movements.set(r.enrollment.path, {
      ref: r.enrollment,
      snap: enrollmentSnap,
      enrollment,
      delta: addDeltas(movement?.delta ?? ZERO_DELTA, delta),
      closesOpenCheckout: closesOpenCheckout || movement?.closesOpenCheckout === true,
      guarded: closesOpenCheckout || refunds || movement?.guarded === true,
    });
  }
  if (r.checkout !== null && checkoutSnap !== undefined && checkout !== undefined) {
    const update = checkoutUpdate(checkout, "succeeded", payment?.providerPaymentId ?? null);
    if (update !== null) {
      group.batch.update(r.checkout, update, { lastUpdateTime: checkoutSnap.updateTime });
      writes++;
    }
  }
  if (r.event !== null && p.event !== null)
    writes += recordEvent(group.batch, p.event, applied.length > 0 ? "applied" : "duplicate");
  const result: LedgerOutcome =
    applied.length > 0
      ? { kind: "applied", applied: applied.map((i) => p.entries[i]?.id ?? ""), duplicates }
      : { kind: "duplicate" };
  return { kind: "decided", result, writes: writes + (applied.length > 0 || closesOpenCheckout ? 1 : 0) };
}

/**
 * read (one BatchGet for every member) → decide each member → one commit for all. A commit conflict (a create
 * that found its document: a concurrent copy, or this commit re-sent by the SDK after its reply was lost, already
 * applied it; a precondition that no longer holds; a vanished document) reruns each member that wrote alone,
 * which reads what the conflicting write did and decides again.
 */
async function runLedgerGroup(
  members: readonly ApplyEntriesParams[],
  attempt = 1,
): Promise<GroupOutcome<LedgerOutcome>[]> {
  const memberRefList = members.map(memberRefs);
  const unique = new Map<string, DocumentReference>();
  for (const r of memberRefList)
    for (const ref of [r.enrollment, ...r.entries, ...r.refundedPayments, r.event, r.checkout])
      if (ref !== null) unique.set(ref.path, ref);
  const snaps = await firestore().getAll(...unique.values());
  const byPath = new Map(snaps.map((snap) => [snap.ref.path, snap]));
  const read = <T>(ref: DocumentReference<T>): DocumentSnapshot<T> => {
    const snap = byPath.get(ref.path);
    if (snap === undefined) throw new Error(`group read lacks ${ref.path}`);
    return snap as DocumentSnapshot<T>;
  };
  const group: Group = { batch: firestore().batch(), writes: 0, movements: new Map(), read };
  // A member whose decision throws (e.g. a stored document that fails its schema) fails alone: decideMember has
  // added nothing to the group before it throws, so the others are committed without it.
  const decisions = members.map((p, index): MemberDecision => {
    const r = memberRefList[index];
    if (r === undefined) return { kind: "failed", error: new Error("member without refs") };
    try {
      const decision = decideMember(p, r, group);
      if (decision.kind === "decided") group.writes += decision.writes;
      return decision;
    } catch (error) {
      return { kind: "failed", error };
    }
  });
  for (const m of group.movements.values()) {
    group.batch.update(
      m.ref,
      ...updateArgs(
        movementUpdate(m.enrollment, m.delta, m.closesOpenCheckout ? { openCheckout: null } : {}),
        m.guarded ? { lastUpdateTime: m.snap.updateTime } : undefined,
      ),
    );
  }

  const outcomes = decisions.map((d): GroupOutcome<LedgerOutcome> =>
    d.kind === "decided" ? { kind: "done", value: d.result } : d,
  );
  if (group.writes === 0) return outcomes;
  const writers = decisions.flatMap((d, index) => (d.kind === "decided" && d.writes > 0 ? [index] : []));
  try {
    await group.batch.commit();
    return outcomes;
  } catch (error) {
    if (!isCommitConflict(error)) {
      // Any other failure of a shared commit: each writer alone, so one member's problem stays its own.
      if (writers.length <= 1) throw error;
      await rerun(
        members,
        writers.map((index) => [index]),
        outcomes,
        attempt,
      );
      return outcomes;
    }
  }
  if (attempt >= MAX_COMMIT_ATTEMPTS) {
    for (const index of writers) outcomes[index] = { kind: "failed", error: new CommitContended() };
    return outcomes;
  }
  // Most conflicts are this group's own commit, re-sent by the SDK after a lost reply: one rerun of the writers
  // together reads that they are all applied. Should the writers conflict again, each reruns alone.
  const together = attempt === 1 && writers.length > 1;
  await rerun(members, together ? [writers] : writers.map((index) => [index]), outcomes, attempt);
  return outcomes;
}

/** Runs each list of member indices as a group of its own and puts the outcomes in `outcomes`. */
async function rerun(
  members: readonly ApplyEntriesParams[],
  groups: readonly (readonly number[])[],
  outcomes: GroupOutcome<LedgerOutcome>[],
  attempt: number,
): Promise<void> {
  await Promise.all(
    groups.map(async (indices) => {
      try {
        const rerun = await runLedgerGroup(
          indices.flatMap((index) => members[index] ?? []),
          attempt + 1,
        );
        indices.forEach((index, i) => {
          const outcome = rerun[i];
          if (outcome !== undefined) outcomes[index] = outcome;
        });
      } catch (error) {
        for (const index of indices) outcomes[index] = { kind: "failed", error };
      }
    }),
  );
}

/**
 * Concurrent applications in this instance share one read and one commit (see ./firestore/coalescer.ts): at low
 * load each runs alone, at once; under load a group's members are committed together, all or nothing.
 */
const ledgerGroups = new Coalescer<ApplyEntriesParams, LedgerOutcome>((members) => runLedgerGroup(members), {
  maxInFlight: 2,
  slowGroupMs: 50,
  // At most: a create per entry (and its audit record), the enrollment update, the checkout update, the event
  // record (or dead letter).
  maxWeight: MAX_GROUP_WRITES,
  weight: (p) => 2 * p.entries.length + 3,
  keys: claimedPaths,
});

/**
 * Applies keyed ledger entries exactly once: one BatchGet, one commit (see the top of this file). Without an
 * event (admin path), problems throw AppErrors; with an event, permanent problems are dead-lettered.
 */
export function applyLedgerEntries(p: ApplyEntriesParams): Promise<LedgerOutcome> {
  return ledgerGroups.submit(p);
}

/**
 * A checkout's status move, and its provider payment id when it has none yet (a checkout whose startPayment never
 * reached its second transaction): refunds and disputes find their enrollment by it. Null when nothing changes.
 */
function checkoutUpdate(
  current: Pick<CheckoutDoc, "status" | "providerPaymentId">,
  event: CheckoutEvent,
  providerPaymentId: string | null,
) {
  const next = nextCheckoutStatus(current.status, event);
  const learnsPaymentId = current.providerPaymentId === null && providerPaymentId !== null;
  if (next === current.status && !learnsPaymentId) return null;
  return {
    status: next,
    ...(learnsPaymentId ? { providerPaymentId } : {}),
    updatedAt: FieldValue.serverTimestamp(),
  };
}

// ---- read-write transactions: failures, disputes, manual refunds ----

function recordEventIn(tx: Transaction, event: EventContext, outcome: ReplayConclusion): void {
  recordEvent(tx, event, outcome);
}

function deadLetterIn(tx: Transaction, event: EventContext, reason: DeadLetterReason): LedgerOutcome {
  if (event.replay === undefined) {
    tx.set(refs.deadLetter(event.eventId), deadLetterRecord(event, reason));
    recordEvent(tx, event, "dead-lettered");
  }
  return { kind: "dead-lettered", reason };
}

/**
 * `payment_intent.payment_failed` / `payment_intent.canceled`: no money moves; the checkout becomes `failed` (the
 * customer may still retry the intent) or `canceled` (final) — never after `succeeded`. A canceled one stops
 * being the enrollment's open checkout; a failed one stays it until a new balance payment replaces (and cancels) it.
 */
export async function recordPaymentEnded(p: {
  how: "failed" | "canceled";
  uid: string;
  courseId: string;
  checkoutId: string | null;
  providerPaymentId: string;
  amount: number;
  currency: string;
  event: EventContext;
}): Promise<LedgerOutcome> {
  const enrollmentRef = refs.enrollment(p.uid, p.courseId);
  return runTransaction(async (tx): Promise<LedgerOutcome> => {
    if ((await tx.get(recordRef(p.event))).exists) return { kind: "duplicate" };
    const enrollment = (await tx.get(enrollmentRef)).data();
    const checkoutRef = p.checkoutId === null ? null : refs.checkout(p.checkoutId);
    const checkout = checkoutRef === null ? undefined : (await tx.get(checkoutRef)).data();
    if (enrollment === undefined) return deadLetterIn(tx, p.event, "unknown-enrollment");
    if (checkoutRef !== null && checkoutMismatches(checkout, p).length > 0)
      return deadLetterIn(tx, p.event, "checkout-mismatch");
    if (checkoutRef !== null && checkout !== undefined) {
      // A failure never attaches its payment id: only the payment that is applied (or startPayment) does.
      const update = checkoutUpdate(checkout, p.how, null);
      if (update !== null) updateIn(tx, checkoutRef, update);
      // A canceled intent can never be paid: it stops being the open checkout. A failed one can (Stripe lets the
      // customer retry it), so it stays the open checkout: a second tab does not join it (it is not open) but
      // replaces it, and startPayment cancels it at the provider first — the student is never charged twice.
      const canceled = (update?.status ?? checkout.status) === "canceled";
      if (canceled && enrollment.openCheckout?.checkoutId === p.checkoutId) {
        updateIn(tx, enrollmentRef, { openCheckout: null, updatedAt: FieldValue.serverTimestamp() });
      }
    }
    recordEventIn(tx, p.event, "noop");
    return { kind: "noop" };
  });
}

/** The enrollment update of a money movement inside a transaction (exact derived fields: the read is locked). */
function updateMovementIn(
  tx: Transaction,
  ref: DocumentReference<EnrollmentDoc>,
  enrollment: EnrollmentDoc,
  delta: LedgerDelta,
  extra: Record<string, unknown> = {},
): void {
  tx.update(ref, ...updateArgs(movementUpdate(enrollment, delta, extra)));
}

/**
 * Dispute events (domain/disputes): the dispute's record is the join of the facts seen; `openDisputes` and the
 * derived statuses follow; the entries the record stands for are created if missing — the take-back `<disputeId>`
 * (−amount) once it was lost, and `<disputeId>_reinstated` (+amount) once it was won after all or its funds were
 * reinstated — each once, in the same transaction as the record.
 */
export async function applyDisputeEvent(p: {
  uid: string;
  courseId: string;
  disputeId: string;
  disputeEvent: DisputeEvent;
  currency: string;
  source: LedgerEntryInput["source"];
  event: EventContext;
}): Promise<LedgerOutcome> {
  const enrollmentRef = refs.enrollment(p.uid, p.courseId);
  const takeBackRef = refs.ledgerEntry(p.uid, p.courseId, p.disputeId);
  const reinstatementRef = refs.ledgerEntry(p.uid, p.courseId, disputeReinstatementId(p.disputeId));
  return runTransaction(async (tx): Promise<LedgerOutcome> => {
    if ((await tx.get(recordRef(p.event))).exists) return { kind: "duplicate" };
    const paymentRef = refs.ledgerEntry(p.uid, p.courseId, p.disputeEvent.providerPaymentId);
    const [enrollmentSnap, takeBackSnap, reinstatementSnap, paymentSnap] = await Promise.all([
      tx.get(enrollmentRef),
      tx.get(takeBackRef),
      tx.get(reinstatementRef),
      tx.get(paymentRef),
    ]);
    const enrollment = enrollmentSnap.data();
    if (enrollment === undefined) return deadLetterIn(tx, p.event, "unknown-enrollment");
    if (p.currency !== enrollment.currency) return deadLetterIn(tx, p.event, "currency-mismatch");
    // The dispute must concern a payment of this enrollment's ledger.
    const standing = standingOf(p.disputeEvent.providerPaymentId, paymentSnap.data(), enrollment);
    if (standing.paymentAmount === undefined) return deadLetterIn(tx, p.event, "unknown-payment");

    const decision = decideDisputeTransition(enrollment.disputes[p.disputeId], p.disputeEvent);
    if (decision.kind === "ignore") {
      recordEventIn(tx, p.event, "noop");
      return { kind: "noop" };
    }
    const { record } = decision;
    const wanted: { ref: typeof takeBackRef; exists: boolean; entry: LedgerEntryInput }[] = [];
    const entry = (id: string, amount: number): LedgerEntryInput => ({
      id,
      type: "adjustment",
      amount,
      currency: p.currency,
      source: p.source,
      providerPaymentId: record.providerPaymentId,
    });
    if (decision.entries.takeBack)
      wanted.push({
        ref: takeBackRef,
        exists: takeBackSnap.exists,
        entry: entry(p.disputeId, -record.amount),
      });
    if (decision.entries.reinstatement) {
      const id = disputeReinstatementId(p.disputeId);
      wanted.push({
        ref: reinstatementRef,
        exists: reinstatementSnap.exists,
        entry: entry(id, record.amount),
      });
    }
    // A take-back without its reinstatement takes at most what is left of its payment after refunds (amountPaid
    // never goes below 0); a larger one is set aside for an admin, the dispute's state unchanged. With its
    // reinstatement it nets to zero.
    if (!takeBackSnap.exists && decision.entries.takeBack && !decision.entries.reinstatement) {
      const takeBack = decideDisputeTakeBack(standing, record.amount);
      if (!takeBack.ok) {
        const reason = takeBack.reason === "exceeds-payment" ? "dispute-exceeds-payment" : takeBack.reason;
        logWarn("dispute set aside", { eventId: p.event.eventId, disputeId: p.disputeId, reason });
        return deadLetterIn(tx, p.event, reason);
      }
    }
    let delta = ZERO_DELTA;
    const applied: string[] = [];
    for (const w of wanted) {
      const ledger = decideLedgerApplication(enrollment.currency, w.exists, w.entry);
      if (ledger.kind === "reject") return deadLetterIn(tx, p.event, "invalid-amount");
      if (ledger.kind !== "apply") continue;
      tx.create(w.ref, ledgerEntryDoc(w.entry, { eventId: p.event.eventId }));
      delta = addDeltas(delta, ledger.delta);
      applied.push(w.entry.id);
    }
    const disputes = { ...enrollment.disputes, [p.disputeId]: record };
    const openDisputes = countOpenDisputes(disputes);
    updateMovementIn(tx, enrollmentRef, { ...enrollment, openDisputes }, delta, { disputes, openDisputes });
    recordEventIn(tx, p.event, "applied");
    return { kind: "applied", applied, duplicates: [] };
  });
}

export interface ManualRefundResult {
  refundId: string;
  amount: number;
  duplicate: boolean;
}

/**
 * Refund of a manual payment, applied directly (no provider): the refund entry's id is deterministic from the
 * request's idempotency key, so retries find it; the amount is bounded by what is still refundable, read in the
 * same transaction (so two concurrent refunds of one payment cannot both take the last cents).
 */
export async function applyManualRefund(p: {
  uid: string;
  courseId: string;
  paymentId: string;
  requestedAmount: number | undefined;
  refundLedgerId: string;
  recordedBy: string;
}): Promise<ManualRefundResult> {
  const enrollmentRef = refs.enrollment(p.uid, p.courseId);
  const paymentRef = refs.ledgerEntry(p.uid, p.courseId, p.paymentId);
  const refundRef = refs.ledgerEntry(p.uid, p.courseId, p.refundLedgerId);
  return runTransaction(async (tx): Promise<ManualRefundResult> => {
    const [enrollmentSnap, paymentSnap, refundSnap] = await Promise.all([
      tx.get(enrollmentRef),
      tx.get(paymentRef),
      tx.get(refundRef),
    ]);
    const existing = refundSnap.data();
    if (existing !== undefined)
      return { refundId: p.refundLedgerId, amount: -existing.amount, duplicate: true };
    const enrollment = enrollmentSnap.data();
    if (enrollment === undefined) throw failedPrecondition("The user is not enrolled in this course.");
    const payment = paymentSnap.data();
    if (payment?.type !== "payment") throw notFound("No such payment in this enrollment.");
    const amountDecision = decideRefundAmount(
      p.requestedAmount,
      payment.amount,
      enrollment.refundedByPayment[p.paymentId] ?? 0,
    );
    if (!amountDecision.ok) throw failedPrecondition(`Refund not possible: ${amountDecision.reason}.`);
    const entry: LedgerEntryInput = {
      id: p.refundLedgerId,
      type: "refund",
      amount: -amountDecision.amount,
      currency: payment.currency,
      source: "manual",
      providerPaymentId: p.paymentId,
      providerRefundId: p.refundLedgerId,
    };
    const decision = decideLedgerApplication(enrollment.currency, false, entry);
    if (decision.kind !== "apply") throw failedPrecondition("Refund not possible.");
    tx.create(refundRef, ledgerEntryDoc(entry, { eventId: null }));
    tx.create(
      refs.adminAudit(p.uid, p.courseId, entry.id),
      adminAuditDoc(p.uid, p.courseId, entry, p.recordedBy),
    );
    updateMovementIn(tx, enrollmentRef, enrollment, decision.delta);
    return { refundId: p.refundLedgerId, amount: amountDecision.amount, duplicate: false };
  });
}
