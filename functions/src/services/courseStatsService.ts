/**
 * Per-course aggregates maintained by onEnrollmentWritten. Each trigger event adds its (after − before)
 * delta with FieldValue.increment, guarded by a marker `triggerEvents/{eventId}` created in the same
 * transaction, so a redelivered event (same id) is counted once.
 */
import { FieldValue, Timestamp } from "firebase-admin/firestore";
import { isDocId, shortHash } from "../domain/ids";
import { isZeroDelta, statsDelta, type EnrollmentLike } from "../domain/courseStats";
import { refs } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";

/** Markers only need to outlive the trigger retry window; a TTL policy on `expireAt` deletes them. */
export const TRIGGER_MARKER_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export type StatsOutcome = "applied" | "duplicate" | "noop";

export async function applyEnrollmentStatsDelta(
  eventId: string,
  courseId: string,
  before: EnrollmentLike | undefined,
  after: EnrollmentLike | undefined,
): Promise<StatsOutcome> {
  const delta = statsDelta(before, after);
  if (isZeroDelta(delta)) return "noop";
  // CloudEvent ids are opaque strings; anything that is not a safe doc id is hashed.
  const markerRef = refs.triggerEvent(isDocId(eventId) ? eventId : `h_${shortHash(eventId, 40)}`);
  const statsRef = refs.courseStats(courseId);
  return runTransaction(async (tx): Promise<StatsOutcome> => {
    if ((await tx.get(markerRef)).exists) return "duplicate";
    tx.create(markerRef, {
      createdAt: FieldValue.serverTimestamp(),
      expireAt: Timestamp.fromMillis(Date.now() + TRIGGER_MARKER_RETENTION_MS),
    });
    tx.set(
      statsRef,
      {
        enrolledCount: FieldValue.increment(delta.enrolled),
        paidCount: FieldValue.increment(delta.paid),
        revenue: FieldValue.increment(delta.revenue),
        updatedAt: FieldValue.serverTimestamp(),
      },
      { merge: true },
    );
    return "applied";
  });
}
