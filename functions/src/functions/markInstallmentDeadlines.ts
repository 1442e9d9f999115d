import { onSchedule } from "firebase-functions/v2/scheduler";
import { REGION } from "../shared/config";

/**
 * Every hour: enrollments whose next installment deadline (due date + grace) has passed get it counted, and an
 * unpaid overdue installment suspends access (see services/installmentService). At most 500 per run, oldest
 * deadline first; safe to run twice or concurrently. A deadline is acted on within an hour of passing.
 */
export const markInstallmentDeadlines = onSchedule(
  { schedule: "every 60 minutes", region: REGION, retryCount: 1, timeoutSeconds: 300 },
  async () => {
    const { markPassedDeadlines } = await import("../services/installmentService");
    const { recordJobReport } = await import("../services/opsSummaryService");
    const { logInfo } = await import("../shared/log");
    const report = await markPassedDeadlines();
    logInfo("installment deadlines checked", { ...report });
    await recordJobReport("installmentDeadlines", { ...report });
  },
);
