/** Enrollment creation (idempotent) and course administration. */
import type {
  EnrollInCourseResponse,
  EnrollmentPlanView,
  UpsertCourseResponse,
  UpsertLessonResponse,
} from "../api";
import { FieldValue, Timestamp } from "firebase-admin/firestore";
import { nextOpenInstallment, scheduleOf, storedSchedule } from "../domain/installments";
import { deriveStatus } from "../domain/statusPolicy";
import type { EnrollInCourseInput, UpsertCourseInput, UpsertLessonInput } from "../schemas/callables";
import { failedPrecondition, invalidArgument, notFound } from "../shared/errors";
import type { EnrollmentDoc } from "./firestore/models";
import { refs } from "./firestore/refs";
import { runTransaction } from "./firestore/transactions";

type EnrollmentSummaryFields = Pick<
  EnrollmentDoc,
  | "price"
  | "currency"
  | "amountPaid"
  | "amountDue"
  | "amountOverpaid"
  | "paymentStatus"
  | "accessStatus"
  | "planId"
  | "installments"
  | "deadlinesPassed"
>;

/** The plan part of an enrollment as the API shows it, or null without a plan. */
export function planView(e: EnrollmentSummaryFields): EnrollmentPlanView | null {
  const schedule = storedSchedule(e.installments);
  if (e.planId === undefined || e.planId === null || schedule.length === 0) return null;
  const iso = (ms: number): string => new Date(ms).toISOString();
  const next = nextOpenInstallment(schedule, e.amountPaid);
  return {
    planId: e.planId,
    installments: schedule.map((i) => ({
      amount: i.amount,
      dueAt: iso(i.dueAtMs),
      deadline: iso(i.deadlineMs),
    })),
    deadlinesPassed: e.deadlinesPassed ?? 0,
    nextInstallment:
      next === null
        ? null
        : {
            index: next.index,
            amount: next.amount,
            dueAt: iso(next.dueAtMs),
            deadline: iso(next.deadlineMs),
          },
  };
}

function summary(courseId: string, e: EnrollmentSummaryFields, created: boolean): EnrollInCourseResponse {
  return {
    courseId,
    price: e.price,
    currency: e.currency,
    amountPaid: e.amountPaid,
    amountDue: e.amountDue,
    amountOverpaid: e.amountOverpaid,
    paymentStatus: e.paymentStatus,
    accessStatus: e.accessStatus,
    plan: planView(e),
    created,
  };
}

/**
 * Creates the enrollment if absent (a free course is paid/active at once); returns the existing one otherwise. With
 * a `planId`, the plan's schedule is fixed on the enrollment from the price snapshot and the server's clock; the
 * same call again answers the existing enrollment, and one with another plan is refused.
 */
export async function enrollInCourse(
  uid: string,
  input: EnrollInCourseInput,
): Promise<EnrollInCourseResponse> {
  const { courseId, planId } = input;
  const courseRef = refs.course(courseId);
  const enrollmentRef = refs.enrollment(uid, courseId);
  return runTransaction(async (tx) => {
    const [enrollmentSnap, courseSnap] = await Promise.all([tx.get(enrollmentRef), tx.get(courseRef)]);
    const existing = enrollmentSnap.data();
    if (existing !== undefined) {
      if (planId !== undefined && planId !== (existing.planId ?? undefined))
        throw failedPrecondition("Already enrolled in this course on another payment plan.", {
          planId: existing.planId ?? null,
        });
      return summary(courseId, existing, false);
    }
    const course = courseSnap.data();
    // An unpublished course answers exactly as a missing one: no oracle for drafts (the rules hide them too).
    if (course?.published !== true) throw notFound("No such course open for enrollment.");
    const plan = planId === undefined ? undefined : course.plans?.[planId];
    if (planId !== undefined && plan === undefined)
      throw notFound("This course offers no such payment plan.", { planId });
    const decision =
      plan === undefined ? undefined : scheduleOf(course.price, course.currency, plan, Date.now());
    if (decision !== undefined && !decision.ok)
      throw failedPrecondition("This plan's installments would be below the smallest charge.", { planId });
    const installments = decision?.schedule.map((i) => ({
      amount: i.amount,
      dueAt: Timestamp.fromMillis(i.dueAtMs),
      deadline: Timestamp.fromMillis(i.deadlineMs),
    }));
    const derived = deriveStatus({
      price: course.price,
      amountPaid: 0,
      refundCount: 0,
      openDisputes: 0,
      installments,
    });
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
      ...(installments === undefined
        ? {}
        : { planId, installments, deadlinesPassed: 0, nextDeadline: installments[0]?.deadline ?? null }),
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
        ...(input.plans === undefined ? {} : { plans: input.plans }),
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
      // A whole map, not merged: a plan left out is no longer offered (enrollments keep their schedule).
      ...(input.plans === undefined ? {} : { plans: input.plans }),
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
