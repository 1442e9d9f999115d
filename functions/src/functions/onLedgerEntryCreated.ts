import { onDocumentCreated } from "firebase-functions/v2/firestore";
import { REGION, stripeSecretKey, stripeWebhookSecret } from "../shared/config";

/**
 * When a payment's ledger entry is created: applies the refund and dispute events that arrived before it and were
 * parked (services/webhookCommandService.ts). Other entries cost nothing. Idempotent and retried: each parked event
 * counts once through its `webhookEvents` record.
 */
export const onLedgerEntryCreated = onDocumentCreated(
  {
    document: "users/{uid}/courses/{courseId}/ledger/{entryId}",
    region: REGION,
    retry: true,
    // Replaying an event runs the webhook path, which may ask the provider whose payment it is.
    secrets: [stripeSecretKey, stripeWebhookSecret],
  },
  async (event) => {
    if (event.data?.get("type") !== "payment") return;
    const { replayParkedFor } = await import("../services/webhookCommandService");
    await replayParkedFor(event.params.entryId);
  },
);
