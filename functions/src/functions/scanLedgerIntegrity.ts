import { onSchedule } from "firebase-functions/v2/scheduler";
import { REGION } from "../shared/config";

/**
 * Every day at 03:00 UTC: the ledger integrity check over the next 2000 enrollments after the checkpoint
 * (`ops/ledgerIntegrity`), repairing drift from the ledger and the status policy under an updateTime precondition,
 * audited (see services/ledgerIntegrityService). Safe to run twice or alongside money movements.
 */
export const scanLedgerIntegrity = onSchedule(
  { schedule: "0 3 * * *", timeZone: "UTC", region: REGION, retryCount: 1, timeoutSeconds: 540 },
  async () => {
    const { runScheduledIntegrityCheck } = await import("../services/ledgerIntegrityService");
    const { logInfo } = await import("../shared/log");
    const { drifts, ...counts } = await runScheduledIntegrityCheck();
    logInfo("ledger integrity checked", { ...counts, reported: drifts.length });
  },
);
