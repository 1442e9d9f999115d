/**
 * `runTransaction` for this codebase's transactions, all of which are idempotent: they re-read what they
 * would write (ledger doc, event record, marker, checkout) and change nothing if it is already there.
 *
 * Why a wrapper: when a Commit's reply is lost, google-gax retries the Commit RPC with the same transaction
 * id, and the server answers INVALID_ARGUMENT ("transaction has already been committed or rolled back" /
 * "has expired"), which the SDK does not retry. The outcome is then unknown, so we simply run the whole
 * transaction again: it finds its own earlier writes and reports a duplicate instead of applying twice.
 */
import type { Transaction } from "firebase-admin/firestore";
import { firestore } from "../../shared/admin";

const MAX_UNKNOWN_OUTCOME_RERUNS = 2;

export function isUnknownCommitOutcome(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 3 && typeof message === "string" && /transaction/i.test(message);
}

export async function runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await firestore().runTransaction(fn);
    } catch (error) {
      if (attempt >= MAX_UNKNOWN_OUTCOME_RERUNS || !isUnknownCommitOutcome(error)) throw error;
    }
  }
}
