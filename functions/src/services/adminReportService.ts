/**
 * What admins look at. Overpayments: the policy is to surface them, never to refund them automatically — which
 * payment to give back, and whether the student meant to pay ahead, is a decision for a person. The enrollment
 * shows `amountOverpaid` (derived by the status policy), onEnrollmentWritten logs `enrollment overpaid` once per new
 * overpayment (a log-based alert can count it), and `listOverpayments` lists them; an admin gives the money back
 * with `refundPayment` (amount = `amountOverpaid`).
 */
import type { ListOverpaymentsResponse } from "../api";
import type { ListOverpaymentsInput } from "../schemas/callables";
import { invalidArgument } from "../shared/errors";
import { firestore } from "../shared/admin";
import { overpaidEnrollments } from "./firestore/refs";

const DEFAULT_PAGE = 50;

export async function listOverpayments(input: ListOverpaymentsInput): Promise<ListOverpaymentsResponse> {
  const limit = input.limit ?? DEFAULT_PAGE;
  let query = overpaidEnrollments(limit);
  if (input.startAfter !== undefined) {
    const cursor = await firestore().doc(input.startAfter).get();
    if (!cursor.exists) throw invalidArgument("startAfter does not name an enrollment.");
    query = query.startAfter(cursor);
  }
  const page = await query.get();
  const overpayments = page.docs.map((doc) => {
    const e = doc.data();
    return {
      uid: e.uid,
      courseId: e.courseId,
      amountOverpaid: e.amountOverpaid,
      amountPaid: e.amountPaid,
      price: e.price,
      currency: e.currency,
    };
  });
  const last = page.docs[page.docs.length - 1];
  return { overpayments, next: page.size === limit && last !== undefined ? last.ref.path : null };
}
