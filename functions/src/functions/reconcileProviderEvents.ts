import { onSchedule } from "firebase-functions/v2/scheduler";
import { REGION, stripeSecretKey, stripeWebhookSecret } from "../shared/config";

/**
 * Every hour: the provider's events the webhook missed are applied, exactly once (see
 * services/reconciliationService); at most 500 per run, resuming from the checkpoint in `ops/reconciliation`.
 */
export const reconcileProviderEvents = onSchedule(
  {
    schedule: "every 60 minutes",
    region: REGION,
    retryCount: 1,
    timeoutSeconds: 540,
    // The provider lists its events with the API key; the local provider signs with the webhook secret.
    secrets: [stripeSecretKey, stripeWebhookSecret],
  },
  async () => {
    const { reconcileScheduled } = await import("../services/reconciliationService");
    await reconcileScheduled();
  },
);
