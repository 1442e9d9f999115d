import { onSchedule } from "firebase-functions/v2/scheduler";
import { REGION, stripeSecretKey, stripeWebhookSecret } from "../shared/config";

/**
 * Every 15 minutes: parked events whose payment is known are applied (a trigger that did not run), those that have
 * waited past PARK_LIMIT_MS (7 days) are dead-lettered `unknown-payment`; at most 200 per run, oldest first. Safe
 * to run twice or alongside the trigger.
 */
export const sweepParkedEvents = onSchedule(
  {
    schedule: "every 15 minutes",
    region: REGION,
    retryCount: 1,
    timeoutSeconds: 300,
    secrets: [stripeSecretKey, stripeWebhookSecret],
  },
  async () => {
    const { sweepParkedEvents: sweep } = await import("../services/webhookCommandService");
    const { recordJobReport } = await import("../services/opsSummaryService");
    const { logInfo } = await import("../shared/log");
    const report = await sweep();
    logInfo("parked events swept", { ...report });
    await recordJobReport("parkedEventsSweep", { ...report });
  },
);
