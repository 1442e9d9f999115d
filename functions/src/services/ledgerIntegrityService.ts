/**
 * The ledger integrity check (domain/ledgerIntegrity): enrollments are read in document-path order in bounded pages
 * (a collection-group query over `courses`, skipping the top-level course catalogue that shares the group's name),
 * each with its ledger, and compared with the ledger and the status policy.
 *
 * **Repair** (when asked): ONE update of the drifted fields, guarded by `lastUpdateTime` = the update time of the
 * enrollment as read, and the audit record (`adminAudit/repair_{hash(path, updateTime)}`: who, each field's stored
 * and repaired value) in the same commit. The enrollment is read BEFORE its ledger: a money movement commits its
 * ledger entry and its enrollment increment together, so one that lands after the enrollment was read changes the
 * enrollment's update time and the repair fails its precondition instead of overwriting it; the enrollment is
 * then read and checked again (3 tries, then reported as `conflict` and left for the next run).
 *
 * **Cost per enrollment**: 1 read (the page) + its ledger entries (1 read for an empty ledger); per repair 2 writes
 * (the enrollment, the audit record) and the onEnrollmentWritten trigger it sets off; a conflict costs the re-reads.
 * The scheduled run resumes where the last one stopped (`ops/ledgerIntegrity`: 1 read + 1 write per run).
 */
import { FieldValue, type DocumentSnapshot, type QueryDocumentSnapshot } from "firebase-admin/firestore";
import type { CheckLedgerIntegrityResponse, LedgerDriftView } from "../api";
import { checkEnrollmentIntegrity, type FieldDrift } from "../domain/ledgerIntegrity";
import { firestore } from "../shared/admin";
import { isCommitConflict } from "../shared/errors";
import { logWarn } from "../shared/log";
import { COLLECTIONS, isEnrollmentPath, refs, userCoursesGroupPage } from "./firestore/refs";

const PAGE = 100;
const TRIES = 3;
const MAX_REPORTED = 100;
export const DEFAULT_INTEGRITY_LIMIT = 200;
/** Enrollments the daily run examines at most. */
export const SCHEDULED_INTEGRITY_LIMIT = 2000;

export interface IntegrityOptions {
  limit?: number;
  repair: boolean;
  /** An enrollment path to continue after; null or absent: from the first. */
  startAfter?: string | null;
  /** Who runs it (an admin uid, or `scheduler`): recorded in the repair's audit record. */
  by: string;
}

/** JSON of a stored value (`undefined` for a missing field, which JSON.stringify does not render). */
const json = (v: unknown): string => (v === undefined ? "undefined" : JSON.stringify(v));

function viewOf(
  path: string,
  drifts: readonly FieldDrift[],
  action: LedgerDriftView["action"],
): LedgerDriftView {
  const [, uid = "", , courseId = ""] = path.split("/");
  return {
    uid,
    courseId,
    fields: drifts.map((d) => ({ field: d.field, stored: json(d.stored), expected: json(d.expected) })),
    action,
  };
}

/** Checks one enrollment and, when asked, repairs it (see the top of this file). Null when it agrees. */
export async function examineEnrollment(
  first: DocumentSnapshot,
  repair: boolean,
  by: string,
): Promise<LedgerDriftView | null> {
  let snap = first;
  let last: FieldDrift[] = [];
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const stored = snap.data();
    if (stored === undefined || snap.updateTime === undefined) return null;
    const ledger = await snap.ref.collection(COLLECTIONS.ledger).get();
    const check = checkEnrollmentIntegrity(
      stored,
      ledger.docs.map((d) => ({ id: d.id, ...d.data() })),
    );
    if (check.kind === "ok") return null;
    if (check.kind === "unreadable") {
      logWarn("ledger integrity: enrollment unreadable", { path: snap.ref.path, why: check.why });
      return viewOf(
        snap.ref.path,
        [{ field: "(document)", stored: check.why, expected: null }],
        "unreadable",
      );
    }
    last = check.drifts;
    if (!repair) return viewOf(snap.ref.path, check.drifts, "reported");
    const [, uid = "", , courseId = ""] = snap.ref.path.split("/");
    const batch = firestore().batch();
    batch.update(
      snap.ref,
      { ...check.repair, updatedAt: FieldValue.serverTimestamp() },
      { lastUpdateTime: snap.updateTime },
    );
    batch.create(refs.auditOf("repair", [snap.ref.path, snap.updateTime.toDate().toISOString()]), {
      action: "ledger-repair",
      adminUid: by,
      uid,
      courseId,
      changes: Object.fromEntries(
        check.drifts.map((d) => [d.field, { stored: json(d.stored), repaired: json(d.expected) }]),
      ),
      createdAt: FieldValue.serverTimestamp(),
    });
    try {
      await batch.commit();
      logWarn("ledger integrity: drift repaired", {
        path: snap.ref.path,
        fields: check.drifts.map((d) => d.field).join(","),
        by,
      });
      return viewOf(snap.ref.path, check.drifts, "repaired");
    } catch (error) {
      if (!isCommitConflict(error)) throw error;
      // A money movement (or another repair) since the read: check again what is there now.
      snap = await snap.ref.get();
    }
  }
  return viewOf(first.ref.path, last, "conflict");
}

/** Checks (and repairs) at most `limit` enrollments after `startAfter`, in document-path order. */
export async function checkLedgerIntegrity(options: IntegrityOptions): Promise<CheckLedgerIntegrityResponse> {
  const limit = options.limit ?? DEFAULT_INTEGRITY_LIMIT;
  const result: CheckLedgerIntegrityResponse = {
    scanned: 0,
    drifted: 0,
    repaired: 0,
    conflicts: 0,
    drifts: [],
    next: null,
  };
  let cursor = options.startAfter ?? null;
  while (result.scanned < limit) {
    const size = Math.min(PAGE, limit - result.scanned);
    const page = await userCoursesGroupPage(size, cursor).get();
    const enrollments = page.docs.filter((d: QueryDocumentSnapshot) => isEnrollmentPath(d.ref.path));
    result.scanned += enrollments.length;
    for (const doc of enrollments) {
      const drift = await examineEnrollment(doc, options.repair, options.by);
      if (drift === null) continue;
      result.drifted++;
      if (drift.action === "repaired") result.repaired++;
      if (drift.action === "conflict") result.conflicts++;
      if (result.drifts.length < MAX_REPORTED) result.drifts.push(drift);
    }
    const last = page.docs[page.docs.length - 1];
    if (page.size < size || last === undefined) return result;
    cursor = last.ref.path;
  }
  result.next = cursor;
  return result;
}

/**
 * The scheduled run: from the checkpoint (`ops/ledgerIntegrity`), at most SCHEDULED_INTEGRITY_LIMIT enrollments,
 * repairing; the checkpoint then names where it stopped (null once the scan reached the end: the next run starts
 * over). Two runs at once examine some enrollments twice, which is harmless (repairs are guarded).
 */
export async function runScheduledIntegrityCheck(
  limit = SCHEDULED_INTEGRITY_LIMIT,
): Promise<CheckLedgerIntegrityResponse> {
  const checkpoint = refs.integrityCheckpoint();
  const startAfter = (await checkpoint.get()).data()?.cursor ?? null;
  const result = await checkLedgerIntegrity({ limit, repair: true, startAfter, by: "scheduler" });
  await checkpoint.set({
    cursor: result.next,
    lastRun: {
      scanned: result.scanned,
      drifted: result.drifted,
      repaired: result.repaired,
      conflicts: result.conflicts,
    },
    updatedAt: FieldValue.serverTimestamp(),
  });
  return result;
}
