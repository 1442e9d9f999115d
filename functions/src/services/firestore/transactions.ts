/**
 * `runTransaction` for this codebase's transactions, all of which are idempotent: they re-read what they
 * would write (ledger entry, event record, checkout) and change nothing if it is already there.
 *
 * Why a wrapper: when a Commit's reply is lost, google-gax retries the Commit RPC with the same transaction
 * id and the server answers INVALID_ARGUMENT ("The referenced transaction has expired or is no longer
 * valid."). The SDK retries that as a whole transaction, but only while it has attempts left and only for
 * that exact wording; any other INVALID_ARGUMENT about the transaction leaves the outcome unknown. Then we
 * run the whole transaction again: it finds its own earlier writes and reports a duplicate instead of
 * applying twice.
 */
import type { Transaction } from "firebase-admin/firestore";
import { firestore } from "../../shared/admin";
import { isUnknownCommitOutcome } from "../../shared/errors";

const MAX_UNKNOWN_OUTCOME_RERUNS = 2;

export async function runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await firestore().runTransaction(fn);
    } catch (error) {
      if (attempt >= MAX_UNKNOWN_OUTCOME_RERUNS || !isUnknownCommitOutcome(error)) throw error;
    }
  }
}
