import { onDocumentWritten } from "firebase-functions/v2/firestore";
import { REGION } from "../shared/config";

/** Keeps courseStats/{courseId} (enrolledCount, paidCount, revenue) with increments, once per event id. */
export const onEnrollmentWritten = onDocumentWritten(
  { document: "users/{uid}/courses/{courseId}", region: REGION, retry: true },
  async (event) => {
    const { applyEnrollmentStatsDelta } = await import("../services/courseStatsService");
    await applyEnrollmentStatsDelta(
      event.id,
      event.params.courseId,
      event.data?.before.data(),
      event.data?.after.data(),
    );
  },
);
