/**
 * onEnrollmentWritten's work, from one write's `before` and `after` snapshots, in at most ONE commit (no read):
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
 */
import { FieldValue, Timestamp } from "firebase-admin/firestore";
import { isDocId, shortHash } from "../domain/ids";
import { isZeroDelta, statsDelta, type EnrollmentLike } from "../domain/courseStats";
import { derivedDrift, deriveStatus, statusInputsOf } from "../domain/statusPolicy";
import { firestore } from "../shared/admin";
import { GRPC, grpcCode } from "../shared/errors";
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

export async function applyEnrollmentWrite(w: EnrollmentWrite): Promise<EnrollmentWriteOutcome> {
  const inputs = w.after === undefined ? null : statusInputsOf(w.after);
  const drift =
    w.after === undefined || inputs === null || w.afterUpdateTime === undefined
      ? null
      : derivedDrift(w.after, deriveStatus(inputs));
  const delta = statsDelta(w.before, w.after);
  const hasStats = !isZeroDelta(delta);

  const commit = async (withDrift: boolean): Promise<void> => {
    const batch = firestore().batch();
    if (withDrift && drift !== null && w.afterUpdateTime !== undefined) {
      batch.update(
        refs.enrollment(w.uid, w.courseId),
        { ...drift, updatedAt: FieldValue.serverTimestamp() },
        { lastUpdateTime: w.afterUpdateTime },
      );
    }
    if (hasStats) {
      // CloudEvent ids are opaque strings; anything that is not a safe doc id is hashed.
      const markerId = isDocId(w.eventId) ? w.eventId : `h_${shortHash(w.eventId, 40)}`;
      batch.create(refs.triggerEvent(markerId), {
        createdAt: FieldValue.serverTimestamp(),
        expireAt: Timestamp.fromMillis(Date.now() + TRIGGER_MARKER_RETENTION_MS),
      });
      batch.set(
        refs.courseStats(w.courseId),
        {
          enrolledCount: FieldValue.increment(delta.enrolled),
          paidCount: FieldValue.increment(delta.paid),
          revenue: FieldValue.increment(delta.revenue),
          updatedAt: FieldValue.serverTimestamp(),
        },
        { merge: true },
      );
    }
    await batch.commit();
  };

  if (drift === null && !hasStats) return { derived: "current", stats: "noop" };
  try {
    await commit(true);
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
    await commit(false);
    return { derived: "superseded", stats: "applied" };
  } catch (error) {
    if (grpcCode(error) === GRPC.ALREADY_EXISTS) return { derived: "superseded", stats: "duplicate" };
    throw error;
  }
}
