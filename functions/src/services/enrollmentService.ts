/** Enrollment creation (idempotent) and course administration. */
import type { EnrollInCourseResponse, UpsertCourseResponse, UpsertLessonResponse } from "../api";
import { FieldValue } from "firebase-admin/firestore";
import { deriveStatus } from "../domain/statusPolicy";
import type { UpsertCourseInput, UpsertLessonInput } from "../schemas/callables";
import { invalidArgument, notFound } from "../shared/errors";
import type { EnrollmentDoc } from "./firestore/models";
import { refs } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";

function summary(
  courseId: string,
  e: Pick<
    EnrollmentDoc,
    "price" | "currency" | "amountPaid" | "amountDue" | "amountOverpaid" | "paymentStatus" | "accessStatus"
  >,
  created: boolean,
): EnrollInCourseResponse {
  return {
    courseId,
    price: e.price,
    currency: e.currency,
    amountPaid: e.amountPaid,
    amountDue: e.amountDue,
    amountOverpaid: e.amountOverpaid,
    paymentStatus: e.paymentStatus,
    accessStatus: e.accessStatus,
    created,
  };
}

/** Creates the enrollment if absent (a free course is paid/active at once); returns the existing one otherwise. */
export async function enrollInCourse(uid: string, courseId: string): Promise<EnrollInCourseResponse> {
  const courseRef = refs.course(courseId);
  const enrollmentRef = refs.enrollment(uid, courseId);
  return runTransaction(async (tx) => {
    const [enrollmentSnap, courseSnap] = await Promise.all([tx.get(enrollmentRef), tx.get(courseRef)]);
    const existing = enrollmentSnap.data();
    if (existing !== undefined) return summary(courseId, existing, false);
    const course = courseSnap.data();
    // An unpublished course answers exactly as a missing one: no oracle for drafts (the rules hide them too).
    if (course?.published !== true) throw notFound("No such course open for enrollment.");
    const derived = deriveStatus({ price: course.price, amountPaid: 0, refundCount: 0, openDisputes: 0 });
    const doc = {
      uid,
      courseId,
      price: course.price,
      currency: course.currency,
      amountPaid: 0,
      ...derived,
      ledgerCount: 0,
      refundCount: 0,
      refundedByPayment: {},
      openDisputes: 0,
      disputes: {},
      openCheckout: null,
      createdAt: FieldValue.serverTimestamp(),
      updatedAt: FieldValue.serverTimestamp(),
    };
    tx.create(enrollmentRef, doc);
    return summary(courseId, { ...doc }, true);
  });
}

/** Admin course create/update. Create needs title, price and currency; update changes only given fields. */
export async function upsertCourse(input: UpsertCourseInput): Promise<UpsertCourseResponse> {
  const ref = refs.course(input.courseId);
  return runTransaction(async (tx) => {
    const existing = (await tx.get(ref)).data();
    if (existing === undefined) {
      if (input.title === undefined || input.price === undefined || input.currency === undefined) {
        throw invalidArgument("Creating a course needs title, price and currency.", {
          fields: ["title", "price", "currency"].filter(
            (f) => input[f as keyof UpsertCourseInput] === undefined,
          ),
        });
      }
      tx.create(ref, {
        title: input.title,
        price: input.price,
        currency: input.currency,
        published: input.published ?? false,
        createdAt: FieldValue.serverTimestamp(),
        updatedAt: FieldValue.serverTimestamp(),
      });
      return { courseId: input.courseId, created: true };
    }
    tx.update(ref, {
      ...(input.title === undefined ? {} : { title: input.title }),
      ...(input.price === undefined ? {} : { price: input.price }),
      ...(input.currency === undefined ? {} : { currency: input.currency }),
      ...(input.published === undefined ? {} : { published: input.published }),
      updatedAt: FieldValue.serverTimestamp(),
    });
    return { courseId: input.courseId, created: false };
  });
}

/** Sets a lesson of an existing course, whole (courses/{courseId}/lessons/{lessonId}). */
export async function upsertLesson(input: UpsertLessonInput): Promise<UpsertLessonResponse> {
  const lessonRef = refs.course(input.courseId).collection("lessons").doc(input.lessonId);
  return runTransaction(async (tx) => {
    const [course, existing] = await Promise.all([tx.get(refs.course(input.courseId)), tx.get(lessonRef)]);
    if (!course.exists) throw notFound("No such course.");
    tx.set(lessonRef, {
      title: input.title,
      order: input.order,
      preview: input.preview ?? false,
      body: input.body ?? null,
      mediaRef: input.mediaRef ?? null,
      createdAt: existing.exists ? (existing.get("createdAt") as unknown) : FieldValue.serverTimestamp(),
      updatedAt: FieldValue.serverTimestamp(),
    });
    return { courseId: input.courseId, lessonId: input.lessonId, created: !existing.exists };
  });
}
