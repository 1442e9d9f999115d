import { onDocumentWritten } from "firebase-functions/v2/firestore";
import { REGION } from "../shared/config";

/**
 * On every enrollment write: corrects the derived status fields if a concurrent money movement left them behind
 * the totals, and keeps courseStats/{courseId} (enrolledCount, paidCount, revenue) with increments, once per event
 * id. See services/enrollmentTriggerService.ts.
 */
export const onEnrollmentWritten = onDocumentWritten(
  { document: "users/{uid}/courses/{courseId}", region: REGION, retry: true },
  async (event) => {
    const { applyEnrollmentWrite } = await import("../services/enrollmentTriggerService");
    const after = event.data?.after;
    await applyEnrollmentWrite({
      eventId: event.id,
      uid: event.params.uid,
      courseId: event.params.courseId,
      before: event.data?.before.data(),
      after: after?.data(),
      afterUpdateTime: after?.exists === true ? after.updateTime : undefined,
    });
  },
);
