/**
 * Health at a glance: `ops/summary`, rebuilt by `refreshOpsSummary` (every 15 minutes, and on demand by the admin
 * callable `getOpsSummary`) from aggregation queries over what the pipeline already records — nothing on the money
 * path writes to it, so it adds no contention and no write to a payment:
 *
 *  - per UTC day (today and yesterday): provider events processed by outcome (`webhookEvents.outcome`,
 *    `processedAt`), events parked (`parkedEvents.parkedAt`), dead letters written (`deadLetters.createdAt`);
 *  - now: events parked and waiting, dead letters, enrollments with an open dispute, enrollments suspended for an
 *    overdue installment (suspended with no open dispute);
 *  - the last report of each scheduled job that leaves one in `ops/{job}` (the installment deadline job, the parked
 *    events sweep, the ledger integrity check, provider reconciliation).
 *
 * Cost per refresh: 2 days × (4 outcomes + parked + dead letters) + 4 = 16 aggregation queries (each billed one read
 * per 1,000 index entries it counts, at least one), a read of the job reports and one write. The indexes it needs
 * are declared in firestore.indexes.json.
 */
import { FieldValue, Timestamp, type Query } from "firebase-admin/firestore";
import type { OpsSummary } from "../api";
import { COUNTED_OUTCOMES, emptyDay, recentDays, type DayCounts } from "../domain/opsSummary";
import { firestore } from "../shared/admin";
import { COLLECTIONS } from "./firestore/refs";

export const OPS_COLLECTION = "ops";
export const SUMMARY_DOC = "summary";
/**
 * The scheduled jobs whose last run the summary shows. Each keeps it in `ops/{job}` as `lastRun` with `updatedAt`:
 * the deadline job and the sweep through recordJobReport, the integrity check and reconciliation on their
 * checkpoint documents.
 */
export const JOB_REPORTS = ["installmentDeadlines", "parkedEventsSweep"] as const;
export type JobName = (typeof JOB_REPORTS)[number];
const JOBS = [...JOB_REPORTS, "ledgerIntegrity", "reconciliation"];

const DAYS = 2;

async function count(query: Query): Promise<number> {
  return (await query.count().get()).data().count;
}

function between(query: Query, field: string, startMs: number, endMs: number): Query {
  return query
    .where(field, ">=", Timestamp.fromMillis(startMs))
    .where(field, "<", Timestamp.fromMillis(endMs));
}

/** Keeps a scheduled job's last report where the summary (and an admin) finds it. */
export async function recordJobReport(
  job: JobName,
  report: Readonly<Record<string, unknown>>,
): Promise<void> {
  await firestore()
    .collection(OPS_COLLECTION)
    .doc(job)
    .set({ lastRun: report, updatedAt: FieldValue.serverTimestamp() });
}

export async function refreshOpsSummary(nowMs = Date.now()): Promise<OpsSummary> {
  const db = firestore();
  const events = db.collection(COLLECTIONS.webhookEvents);
  const parked = db.collection(COLLECTIONS.parkedEvents);
  const deadLetters = db.collection(COLLECTIONS.deadLetters);
  const enrollments = db.collectionGroup(COLLECTIONS.userCourses);
  const days = await Promise.all(
    recentDays(nowMs, DAYS).map(async (day): Promise<[string, DayCounts]> => {
      const counts = emptyDay();
      await Promise.all([
        ...COUNTED_OUTCOMES.map(async (outcome) => {
          counts.events[outcome] = await count(
            between(events.where("outcome", "==", outcome), "processedAt", day.startMs, day.endMs),
          );
        }),
        (async () => (counts.parked = await count(between(parked, "parkedAt", day.startMs, day.endMs))))(),
        (async () =>
          (counts.deadLetters = await count(between(deadLetters, "createdAt", day.startMs, day.endMs))))(),
      ]);
      return [day.date, counts];
    }),
  );
  const [parkedNow, deadLettersNow, openDisputes, overdueInstallments, reports] = await Promise.all([
    count(parked),
    count(deadLetters.where("status", "==", "open")),
    count(enrollments.where("openDisputes", ">", 0)),
    count(enrollments.where("accessStatus", "==", "suspended").where("openDisputes", "==", 0)),
    db.getAll(...JOBS.map((job) => db.collection(OPS_COLLECTION).doc(job))),
  ]);
  const jobs: OpsSummary["jobs"] = {};
  for (const snap of reports) {
    if (!snap.exists) continue;
    const at = snap.get("updatedAt") as Timestamp | undefined;
    jobs[snap.id] = {
      at: at?.toDate().toISOString() ?? null,
      report: (snap.get("lastRun") as Record<string, unknown> | undefined) ?? {},
    };
  }
  const summary: OpsSummary = {
    asOf: new Date(nowMs).toISOString(),
    days: Object.fromEntries(days),
    now: { parkedEvents: parkedNow, deadLetters: deadLettersNow, openDisputes, overdueInstallments },
    jobs,
  };
  await db
    .collection(OPS_COLLECTION)
    .doc(SUMMARY_DOC)
    .set({ ...summary, updatedAt: FieldValue.serverTimestamp() });
  return summary;
}

/** The stored summary, or null before the first refresh. */
export async function readOpsSummary(): Promise<OpsSummary | null> {
  const snap = await firestore().collection(OPS_COLLECTION).doc(SUMMARY_DOC).get();
  if (!snap.exists) return null;
  const { asOf, days, now, jobs } = snap.data() as OpsSummary;
  return { asOf, days, now, jobs };
}
