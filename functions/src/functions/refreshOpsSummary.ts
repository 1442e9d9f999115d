import { onSchedule } from "firebase-functions/v2/scheduler";
import { REGION } from "../shared/config";

/** Every 15 minutes: `ops/summary` rebuilt from aggregation queries (see services/opsSummaryService). */
export const refreshOpsSummary = onSchedule(
  { schedule: "every 15 minutes", region: REGION, retryCount: 1, timeoutSeconds: 120 },
  async () => {
    const { refreshOpsSummary: refresh } = await import("../services/opsSummaryService");
    const { logInfo } = await import("../shared/log");
    const summary = await refresh();
    logInfo("ops summary refreshed", { ...summary.now });
  },
);
