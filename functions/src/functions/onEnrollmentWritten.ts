import { onDocumentWritten } from "firebase-functions/v2/firestore";
import { REGION, stripeSecretKey, stripeWebhookSecret } from "../shared/config";

/**
 * On every enrollment write: corrects the derived status fields if a concurrent money movement left them behind
 * the totals, and keeps courseStats/{courseId} (enrolledCount, paidCount, revenue) with increments, once per event
 * id (services/enrollmentTriggerService.ts). When the write added ledger entries while refund or dispute events
 * wait parked for this enrollment's payments, it replays them (services/webhookCommandService.ts; a payment costs
 * nothing for this while none are parked).
 */
export const onEnrollmentWritten = onDocumentWritten(
  {
    document: "users/{uid}/courses/{courseId}",
    region: REGION,
    retry: true,
    // Replaying a parked event runs the webhook path, which may ask the provider whose payment it is.
    secrets: [stripeSecretKey, stripeWebhookSecret],
  },
  async (event) => {
    const [{ applyEnrollmentWrite }, { parkedToReplay }] = await Promise.all([
      import("../services/enrollmentTriggerService"),
      import("../domain/parking"),
    ]);
    const { uid, courseId } = event.params;
    const after = event.data?.after;
    const before = event.data?.before.data();
    const afterData = after?.data();
    await applyEnrollmentWrite({
      eventId: event.id,
      uid,
      courseId,
      before,
      after: afterData,
      afterUpdateTime: after?.exists === true ? after.updateTime : undefined,
    });
    const parkedEvents = parkedToReplay(before, afterData);
    const updateTime = after?.updateTime;
    if (parkedEvents !== null && updateTime !== undefined) {
      const { replayParkedForEnrollment } = await import("../services/webhookCommandService");
      await replayParkedForEnrollment(uid, courseId, { parkedEvents, updateTime });
    }
  },
);
