/**
 * onEnrollmentWritten's work, from one write's `before` and `after` snapshots, in ONE commit and no read (unless
 * it conflicts):
 *
 *  - **Derived fields.** amountDue, amountOverpaid, paymentStatus and accessStatus follow from the totals by the
 *    status policy. A money movement writes them from the totals it read plus its delta, which is exact unless
 *    another movement of the same enrollment committed in between (movements are blind increments, see
 *    ledgerService). So every write's `after` is checked: if its stored derived fields differ from the policy's,
 *    they are written, guarded by `lastUpdateTime = after.updateTime`. A stale event (the document has changed
 *    since) then fails the precondition and writes nothing: the newer write has its own event, which sees the
 *    newer totals. The correction is itself a write; its event finds nothing to correct, so it ends there.
 *  - **Course stats.** courseStats/{courseId} gets this write's (after − before) contribution with increments
 *    (they telescope to the current sum in any delivery order). A redelivered event must not add it twice: a
 *    marker `triggerEvents/{eventId}` is created in the same commit, so a second delivery fails on the create.
 *
 * Both go in one commit; when the derived-field precondition fails, the stats part is committed alone.
 *
 * Events handled at once by one instance share that commit (`triggerGroups`, see ./firestore/coalescer.ts): one
 * courseStats increment per course adds up their deltas, and of several events of one enrollment only the newest
 * write's correction is written (the older ones are stale by its existence). A conflicting group commit (a marker
 * that exists: a redelivery, or the group's own commit re-sent after a lost reply; a stale correction) reads the
 * markers and enrollments once, drops what is counted or stale and commits the rest; should that conflict too,
 * each event runs alone as above.
 */
import { FieldValue, Timestamp, type WriteBatch } from "firebase-admin/firestore";
import { isDocId, shortHash } from "../domain/ids";
import {
  isZeroDelta,
  statsDelta,
  type EnrollmentLike,
  type StatsContribution,
  addContributions,
} from "../domain/courseStats";
import { derivedDrift, deriveStatus, newOverpayment, statusInputsOf } from "../domain/statusPolicy";
import { logWarn } from "../shared/log";
import { firestore } from "../shared/admin";
import { GRPC, grpcCode, isCommitConflict } from "../shared/errors";
import { Coalescer, type GroupOutcome } from "./firestore/coalescer";
import { refs } from "./firestore/refs";

/** Markers only need to outlive the trigger retry window; a TTL policy on `expireAt` deletes them. */
export const TRIGGER_MARKER_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface EnrollmentWrite {
  /** The CloudEvent id (the same on every delivery of one event). */
  eventId: string;
  uid: string;
  courseId: string;
  before: (EnrollmentLike & Record<string, unknown>) | undefined;
  after: (EnrollmentLike & Record<string, unknown>) | undefined;
  /** `after`'s update time; the derived-field correction is written only while the document still has it. */
  afterUpdateTime: Timestamp | undefined;
}

export interface EnrollmentWriteOutcome {
  /** corrected: derived fields written · current: nothing to correct · superseded: a newer write exists */
  derived: "corrected" | "current" | "superseded";
  stats: "applied" | "duplicate" | "noop";
}

/** One event's decided work: the derived-field correction (if any) and the stats delta (if any). */
interface TriggerPlan {
  w: EnrollmentWrite;
  drift: ReturnType<typeof derivedDrift>;
  delta: StatsContribution;
  hasStats: boolean;
}

/**
 * The plans whose drift correction is written: per enrollment, the one of the newest write. An older event of the
 * same enrollment is stale by the newer one's existence (its own precondition would fail), so it is superseded.
 */
function newestCorrections(plans: readonly TriggerPlan[]): Set<TriggerPlan> {
  const newest = new Map<string, TriggerPlan>();
  for (const plan of plans) {
    const { w, drift } = plan;
    if (drift === null || w.afterUpdateTime === undefined) continue;
    const key = `${w.uid}/${w.courseId}`;
    const other = newest.get(key)?.w.afterUpdateTime;
    if (other === undefined || other.valueOf() < w.afterUpdateTime.valueOf()) newest.set(key, plan);
  }
  return new Set(newest.values());
}

/**
 * The writes of `plans` into one batch: the `corrections` under their preconditions, and for each plan not yet
 * `counted` its stats marker, with one courseStats increment per course adding up those plans' deltas.
 */
function addWrites(
  batch: WriteBatch,
  plans: readonly TriggerPlan[],
  corrections: Set<TriggerPlan>,
  counted: Set<TriggerPlan> = new Set(),
): void {
  const statsByCourse = new Map<string, StatsContribution>();
  for (const plan of plans) {
    const { w, drift, delta, hasStats } = plan;
    if (corrections.has(plan) && drift !== null && w.afterUpdateTime !== undefined) {
      batch.update(
        refs.enrollment(w.uid, w.courseId),
        { ...drift, updatedAt: FieldValue.serverTimestamp() },
        { lastUpdateTime: w.afterUpdateTime },
      );
    }
    if (!hasStats || counted.has(plan)) continue;
    batch.create(refs.triggerEvent(markerId(w.eventId)), {
      createdAt: FieldValue.serverTimestamp(),
      expireAt: Timestamp.fromMillis(Date.now() + TRIGGER_MARKER_RETENTION_MS),
    });
    const sum = statsByCourse.get(w.courseId);
    statsByCourse.set(w.courseId, sum === undefined ? delta : addContributions(sum, delta));
  }
  for (const [courseId, delta] of statsByCourse) {
    batch.set(
      refs.courseStats(courseId),
      {
        enrolledCount: FieldValue.increment(delta.enrolled),
        paidCount: FieldValue.increment(delta.paid),
        revenue: FieldValue.increment(delta.revenue),
        updatedAt: FieldValue.serverTimestamp(),
      },
      { merge: true },
    );
  }
}

/** CloudEvent ids are opaque strings; anything that is not a safe doc id is hashed. */
function markerId(eventId: string): string {
  return isDocId(eventId) ? eventId : `h_${shortHash(eventId, 40)}`;
}

async function commitPlans(plans: readonly TriggerPlan[], corrections: Set<TriggerPlan>): Promise<void> {
  const batch = firestore().batch();
  addWrites(batch, plans, corrections);
  await batch.commit();
}

/** One event on its own: its correction and stats in one commit, the stats alone when the correction is stale. */
async function applyAlone(plan: TriggerPlan): Promise<EnrollmentWriteOutcome> {
  const { drift, hasStats } = plan;
  try {
    await commitPlans([plan], new Set([plan]));
    return { derived: drift === null ? "current" : "corrected", stats: hasStats ? "applied" : "noop" };
  } catch (error) {
    const code = grpcCode(error);
    // This event's stats were counted by an earlier delivery (which also tried the same correction).
    if (code === GRPC.ALREADY_EXISTS)
      return { derived: drift === null ? "current" : "superseded", stats: "duplicate" };
    if (drift === null || (code !== GRPC.FAILED_PRECONDITION && code !== GRPC.NOT_FOUND)) throw error;
  }
  // The enrollment changed (or vanished) after this event's write: its newer event corrects the derived fields.
  if (!hasStats) return { derived: "superseded", stats: "noop" };
  try {
    await commitPlans([plan], new Set());
    return { derived: "superseded", stats: "applied" };
  } catch (error) {
    if (grpcCode(error) === GRPC.ALREADY_EXISTS) return { derived: "superseded", stats: "duplicate" };
    throw error;
  }
}

/** The outcome of `plan` once committed in a group with `corrections` (and its stats unless already counted). */
function groupOutcome(
  plan: TriggerPlan,
  corrections: Set<TriggerPlan>,
  counted: boolean,
): GroupOutcome<EnrollmentWriteOutcome> {
  return {
    kind: "done",
    value: {
      derived: plan.drift === null ? "current" : corrections.has(plan) ? "corrected" : "superseded",
      stats: !plan.hasStats ? "noop" : counted ? "duplicate" : "applied",
    },
  };
}

async function runTriggerGroup(
  plans: readonly TriggerPlan[],
): Promise<GroupOutcome<EnrollmentWriteOutcome>[]> {
  const alone = async (plan: TriggerPlan): Promise<GroupOutcome<EnrollmentWriteOutcome>> => {
    try {
      return { kind: "done", value: await applyAlone(plan) };
    } catch (error) {
      return { kind: "failed", error };
    }
  };
  const [first] = plans;
  if (plans.length === 1 && first !== undefined) return [await alone(first)];
  const corrections = newestCorrections(plans);
  try {
    await commitPlans(plans, corrections);
    return plans.map((plan) => groupOutcome(plan, corrections, false));
  } catch (error) {
    if (!isCommitConflict(error)) throw error;
  }
  // Most conflicts are this group's own commit, re-sent by the SDK after a lost reply. One read says which events
  // are counted (their marker exists) and which corrections are stale (the enrollment changed since): the rest is
  // committed again. Should that conflict too, each event runs alone.
  const markerRefs = plans.map((plan) => refs.triggerEvent(markerId(plan.w.eventId)));
  const enrollmentRefs = plans.map((plan) => refs.enrollment(plan.w.uid, plan.w.courseId));
  const snaps = await firestore().getAll(...markerRefs, ...enrollmentRefs);
  const counted = new Set(plans.filter((_, index) => snaps[index]?.exists === true));
  const stillCurrent = new Set(
    plans.filter((plan, index) => {
      const snap = snaps[plans.length + index];
      return (
        corrections.has(plan) &&
        snap?.exists === true &&
        snap.updateTime?.isEqual(plan.w.afterUpdateTime ?? snap.updateTime) === true
      );
    }),
  );
  const uncounted = plans.some((plan) => plan.hasStats && !counted.has(plan));
  try {
    const batch = firestore().batch();
    addWrites(batch, plans, stillCurrent, counted);
    if (uncounted || stillCurrent.size > 0) await batch.commit();
    return plans.map((plan) => groupOutcome(plan, stillCurrent, counted.has(plan)));
  } catch (error) {
    if (!isCommitConflict(error)) throw error;
  }
  return Promise.all(plans.map(alone));
}

const triggerGroups = new Coalescer<TriggerPlan, EnrollmentWriteOutcome>(runTriggerGroup, {
  maxInFlight: 2,
  slowGroupMs: 50,
  maxWeight: 400,
  weight: () => 3,
  // Two deliveries of one event never run at once here; events of one enrollment may (newestCorrections).
  keys: (plan) => [refs.triggerEvent(markerId(plan.w.eventId)).path],
});

export async function applyEnrollmentWrite(w: EnrollmentWrite): Promise<EnrollmentWriteOutcome> {
  const inputs = w.after === undefined ? null : statusInputsOf(w.after);
  const drift =
    w.after === undefined || inputs === null || w.afterUpdateTime === undefined
      ? null
      : derivedDrift(w.after, deriveStatus(inputs));
  const overpaid = newOverpayment(w.before, w.after);
  if (overpaid !== null) {
    // For a log-based alert (at least once per overpayment: a redelivered event logs it again).
    logWarn("enrollment overpaid", {
      uid: w.uid,
      courseId: w.courseId,
      amountOverpaid: overpaid,
      currency: typeof w.after?.currency === "string" ? w.after.currency : "",
    });
  }
  const delta = statsDelta(w.before, w.after);
  const hasStats = !isZeroDelta(delta);
  if (drift === null && !hasStats) return { derived: "current", stats: "noop" };
  return triggerGroups.submit({ w, drift, delta, hasStats });
}
