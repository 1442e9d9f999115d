/**
 * The learner's progress, owned by the server. A completed lesson is one keyed document,
 * `users/{uid}/courses/{courseId}/progress/{lessonId}`, created in the same commit that increments the enrollment's
 * `lessonsCompleted`: a repeat, a retry after a lost reply or a concurrent copy fails on the create as a whole and
 * changes nothing, so the count is exact without a transaction (the same exactly-once shape as the ledger).
 */
import { FieldValue } from "firebase-admin/firestore";
import type { CompleteLessonResponse } from "../api";
import type { CompleteLessonInput } from "../schemas/callables";
import { firestore } from "../shared/admin";
import { GRPC, failedPrecondition, grpcCode, notFound, permissionDenied } from "../shared/errors";
import { refs, updateIn } from "./firestore/refs";

export async function completeLesson(
  uid: string,
  input: CompleteLessonInput,
): Promise<CompleteLessonResponse> {
  const { courseId, lessonId } = input;
  const enrollmentRef = refs.enrollment(uid, courseId);
  const lessonRef = refs.course(courseId).collection("lessons").doc(lessonId);
  const [enrollmentSnap, lessonSnap] = await firestore().getAll(enrollmentRef, lessonRef);
  const enrollment = enrollmentSnap?.data() as { accessStatus?: unknown } | undefined;
  if (enrollment === undefined) throw failedPrecondition("Enroll in the course first.");
  if (lessonSnap?.exists !== true) throw notFound("No such lesson.");
  // The same rule as reading it (firestore.rules): a preview for every student, the rest with active access.
  if (lessonSnap.get("preview") !== true && enrollment.accessStatus !== "active")
    throw permissionDenied("Your access to this course is not active.");
  const batch = firestore().batch();
  batch.create(refs.enrollment(uid, courseId).collection("progress").doc(lessonId), {
    lessonId,
    completedAt: FieldValue.serverTimestamp(),
  });
  updateIn(batch, enrollmentRef, {
    lessonsCompleted: FieldValue.increment(1),
    updatedAt: FieldValue.serverTimestamp(),
  });
  try {
    await batch.commit();
    return { courseId, lessonId, newlyCompleted: true };
  } catch (error) {
    if (grpcCode(error) === GRPC.ALREADY_EXISTS) return { courseId, lessonId, newlyCompleted: false };
    throw error;
  }
}
