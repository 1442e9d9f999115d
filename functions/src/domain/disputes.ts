/**
 * Dispute state per dispute id. Monotonic: (none) → open → closed, and closed is final, so a late
 * `created` after `closed` is ignored and any arrival order converges.
 * A dispute closed as lost takes the money back: an adjustment ledger entry of −amount keyed by the dispute id.
 */

export type DisputeOutcome = "won" | "lost" | "other";

export interface DisputeRecord {
  status: "open" | "closed";
  outcome: DisputeOutcome | null;
  /** Disputed amount, cents > 0. */
  amount: number;
  providerPaymentId: string;
}

export type DisputeEvent =
  | { kind: "created"; amount: number; providerPaymentId: string }
  | { kind: "closed"; outcome: DisputeOutcome; amount: number; providerPaymentId: string };

export type DisputeDecision =
  { kind: "ignore" } | { kind: "set"; record: DisputeRecord; adjustmentAmount: number | null };

/** Maps Stripe's dispute status on `charge.dispute.closed` to an outcome. */
export function disputeOutcomeFromStatus(status: string): DisputeOutcome {
  if (status === "lost") return "lost";
  if (status === "won" || status === "warning_closed") return "won";
  return "other";
}

export function decideDisputeTransition(
  current: DisputeRecord | undefined,
  event: DisputeEvent,
): DisputeDecision {
  if (current?.status === "closed") return { kind: "ignore" };
  if (event.kind === "created") {
    if (current !== undefined) return { kind: "ignore" };
    return {
      kind: "set",
      record: {
        status: "open",
        outcome: null,
        amount: event.amount,
        providerPaymentId: event.providerPaymentId,
      },
      adjustmentAmount: null,
    };
  }
  return {
    kind: "set",
    record: {
      status: "closed",
      outcome: event.outcome,
      amount: event.amount,
      providerPaymentId: event.providerPaymentId,
    },
    adjustmentAmount: event.outcome === "lost" ? -event.amount : null,
  };
}

export function countOpenDisputes(disputes: Readonly<Record<string, DisputeRecord>>): number {
  return Object.values(disputes).filter((d) => d.status === "open").length;
}
