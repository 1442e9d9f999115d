/**
 * Installment deadlines: the one place where time changes an enrollment.
 *
 * An enrollment on a plan stores its schedule, `deadlinesPassed` (how many installment deadlines have passed) and
 * `nextDeadline` (the first deadline not yet counted). `markPassedDeadlines` reads the enrollments whose
 * `nextDeadline` is at or before `now` (a collection-group query on one single-field index, oldest first, in
 * bounded pages), and for each writes the new count, the next deadline and the derived fields the status policy
 * gives with that count — ONE update, guarded by `lastUpdateTime` = the read's update time:
 *
 *  - **Exact.** The derived fields come from the very totals the update is conditioned on. A payment committed in
 *    between fails the precondition; the enrollment is read again and decided again (at most 3 tries, then left
 *    for the next run). A payment committed after it derives its status with the new count (ledgerService reads
 *    the count with the totals), and onEnrollmentWritten corrects either way.
 *  - **Idempotent.** The count written is that of deadlines ≤ now (a function of the schedule and the clock), and
 *    is only ever raised: a second run, or one running at the same time, finds nothing to raise or loses the
 *    precondition and then finds nothing to raise. Nothing else is written, so a rerun changes nothing.
 *  - **Bounded.** At most `limit` enrollments per run (default 500) in pages of 100; every enrollment is written
 *    once per installment at most (n deadlines per plan), whatever its payments.
 *
 * Paying restores access without waiting for this job: the status policy judges the new totals against the stored
 * count. Cost per run: one query read per enrollment due plus one read per page's end (empty runs cost one
 * read), one write per advanced enrollment, and a re-read per precondition conflict.
 */
import {
  FieldValue,
  Timestamp,
  type DocumentSnapshot,
  type QueryDocumentSnapshot,
} from "firebase-admin/firestore";
import type { CheckInstallmentDeadlinesResponse } from "../api";
import { deadlinesPassedAt, storedSchedule } from "../domain/installments";
import { deriveStatus } from "../domain/statusPolicy";
import { GRPC, grpcCode } from "../shared/errors";
import { logInfo } from "../shared/log";
import type { EnrollmentDoc } from "./firestore/models";
import { enrollmentsPastDeadline } from "./firestore/refs";

const PAGE = 100;
const DEFAULT_LIMIT = 500;
const TRIES = 3;

type Advance = "advanced" | "suspended" | "current" | "conflict";

async function advance(first: DocumentSnapshot<EnrollmentDoc>, nowMs: number): Promise<Advance> {
  let snap = first;
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const e = snap.data();
    if (e === undefined || snap.updateTime === undefined) return "current";
    const installments = e.installments ?? [];
    const passed = deadlinesPassedAt(storedSchedule(installments), nowMs);
    // Another run (or this one, re-sent) counted these deadlines already.
    if (passed <= (e.deadlinesPassed ?? 0)) return "current";
    const derived = deriveStatus({ ...e, deadlinesPassed: passed });
    try {
      await snap.ref.update(
        {
          deadlinesPassed: passed,
          nextDeadline: installments[passed]?.deadline ?? null,
          ...derived,
          updatedAt: FieldValue.serverTimestamp(),
        },
        { lastUpdateTime: snap.updateTime },
      );
      if (derived.accessStatus === "suspended" && e.accessStatus !== "suspended") {
        logInfo("installment overdue", { uid: e.uid, courseId: e.courseId, deadlinesPassed: passed });
        return "suspended";
      }
      return "advanced";
    } catch (error) {
      const code = grpcCode(error);
      if (code !== GRPC.FAILED_PRECONDITION && code !== GRPC.NOT_FOUND) throw error;
      // Changed since the read (a payment, another run): decide again from what is there now.
      snap = await snap.ref.get();
    }
  }
  return "conflict";
}

/** Counts the installment deadlines passed by `nowMs` on at most `limit` enrollments (see the module comment). */
export async function markPassedDeadlines(
  options: { nowMs?: number; limit?: number } = {},
): Promise<CheckInstallmentDeadlinesResponse> {
  const nowMs = options.nowMs ?? Date.now();
  const limit = options.limit ?? DEFAULT_LIMIT;
  const result = { scanned: 0, advanced: 0, suspended: 0, conflicts: 0, more: false };
  let cursor: QueryDocumentSnapshot<EnrollmentDoc> | undefined;
  while (result.scanned < limit) {
    const size = Math.min(PAGE, limit - result.scanned);
    let query = enrollmentsPastDeadline(Timestamp.fromMillis(nowMs), size);
    if (cursor !== undefined) query = query.startAfter(cursor);
    const page = await query.get();
    result.scanned += page.size;
    const outcomes = await Promise.all(page.docs.map((doc) => advance(doc, nowMs)));
    for (const outcome of outcomes) {
      if (outcome === "advanced" || outcome === "suspended") result.advanced++;
      if (outcome === "suspended") result.suspended++;
      if (outcome === "conflict") result.conflicts++;
    }
    cursor = page.docs[page.docs.length - 1];
    if (page.size < size) return result;
  }
  result.more = true;
  return result;
}
