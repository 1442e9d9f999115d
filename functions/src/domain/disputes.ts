/**
 * A dispute's lifecycle, one record per dispute id. Pure.
 *
 * Stripe's dispute statuses: inquiries `warning_needs_response` → `warning_under_review` → `warning_closed`;
 * chargebacks `needs_response` → `under_review` → `won` | `lost`; `prevented` (resolved before it became a
 * dispute). Its events: `charge.dispute.created`, `.updated` (evidence, status moves), `.closed`, and for
 * chargebacks `.funds_withdrawn` (the disputed amount taken from the balance) and `.funds_reinstated` (given back:
 * the dispute was won, also after a loss was appealed). Delivery order is not guaranteed.
 *
 * Every event only adds facts — seen lost, seen won, funds withdrawn, funds reinstated, the furthest stage — and
 * the record is the join of the facts seen, so any arrival order and any duplicate converge:
 *
 *   status   closed once any terminal status (won, lost, warning_closed, prevented, …) or reinstatement was
 *            seen; closed is final. An open dispute suspends access (statusPolicy).
 *   outcome  won   if won (won, warning_closed, prevented) or a reinstatement was seen — a win after a loss
 *                  (appeal, pre-arbitration) ends won, and a `lost` delivered after the win is stale;
 *            lost  else if lost was seen; other for any other terminal status; null while open.
 *   money    the take-back entry `<disputeId>` (−amount) exists once the dispute was seen lost or reinstated;
 *            its reversal `<disputeId>_reinstated` (+amount) exists once it was lost and then won, or
 *            reinstated — so lost alone is −amount, lost-then-won and reinstated are net 0, each entry once.
 *            Funds withdrawn while the dispute is open move nothing: the open dispute already suspends access,
 *            and counting them as unpaid would ask the student to pay again while the bank decides.
 */

export type DisputeOutcome = "won" | "lost" | "other";

export interface DisputeRecord {
  status: "open" | "closed";
  outcome: DisputeOutcome | null;
  /** Disputed amount, cents > 0. */
  amount: number;
  providerPaymentId: string;
  /** The furthest non-terminal Stripe status seen (needs_response, under_review, …), if any. */
  stage?: string | null;
  /** A loss was seen (also when a win came after it). Absent on older records: `outcome === "lost"`. */
  lostSeen?: boolean;
  /** Stripe took the disputed funds from the balance. */
  fundsWithdrawn?: boolean;
  /** Stripe gave them back (the dispute was won). */
  fundsReinstated?: boolean;
}

/** What one event shows of a dispute. */
export interface DisputeEvent {
  /** The dispute object's `status`. */
  status: string;
  /** The event is `charge.dispute.closed` (terminal whatever the status says). */
  closedEvent: boolean;
  amount: number;
  providerPaymentId: string;
  /** `funds_withdrawn`, or a withdrawal among the dispute's balance transactions. */
  withdrawn: boolean;
  /** `funds_reinstated`, or a reinstatement among the dispute's balance transactions. */
  reinstated: boolean;
}

/** The ledger entries a dispute stands for, by id. */
export interface DisputeEntries {
  /** `<disputeId>`: −amount. */
  takeBack: boolean;
  /** `<disputeId>_reinstated`: +amount. */
  reinstatement: boolean;
}

export type DisputeDecision =
  { kind: "ignore" } | { kind: "set"; record: DisputeRecord; entries: DisputeEntries };

const WON_STATUSES = new Set(["won", "warning_closed", "prevented"]);
const OPEN_STAGES = ["warning_needs_response", "warning_under_review", "needs_response", "under_review"];

/** The ledger id of a dispute's reinstatement. */
export function disputeReinstatementId(disputeId: string): string {
  return `${disputeId}_reinstated`;
}

/** Maps Stripe's dispute status on a closed dispute to an outcome. */
export function disputeOutcomeFromStatus(status: string): DisputeOutcome {
  if (status === "lost") return "lost";
  if (WON_STATUSES.has(status)) return "won";
  return "other";
}

function furthestStage(a: string | null | undefined, b: string): string | null {
  const rank = (s: string | null | undefined): number => (s == null ? -1 : OPEN_STAGES.indexOf(s));
  const best = rank(b) > rank(a) ? b : a;
  return best ?? null;
}

/** The record after `event`, from the facts of both (a join: order and duplicates do not matter). */
export function mergeDispute(current: DisputeRecord | undefined, event: DisputeEvent): DisputeRecord {
  const terminal = event.closedEvent || event.reinstated || !OPEN_STAGES.includes(event.status);
  const eventOutcome = terminal ? disputeOutcomeFromStatus(event.status) : null;
  const lostSeen = (current?.lostSeen ?? current?.outcome === "lost") || eventOutcome === "lost";
  const fundsReinstated = (current?.fundsReinstated ?? false) || event.reinstated;
  const fundsWithdrawn = (current?.fundsWithdrawn ?? false) || event.withdrawn || fundsReinstated;
  const won = current?.outcome === "won" || eventOutcome === "won" || fundsReinstated;
  const closed = current?.status === "closed" || terminal;
  const outcome: DisputeOutcome | null = won
    ? "won"
    : lostSeen
      ? "lost"
      : closed
        ? (current?.outcome ?? eventOutcome ?? "other")
        : null;
  return {
    status: closed ? "closed" : "open",
    outcome,
    // The first amount seen stays (Stripe does not change a dispute's amount).
    amount: current?.amount ?? event.amount,
    providerPaymentId: current?.providerPaymentId ?? event.providerPaymentId,
    stage: furthestStage(current?.stage, event.status),
    lostSeen,
    fundsWithdrawn,
    fundsReinstated,
  };
}

/** The entries a dispute in `record` stands for. */
export function disputeEntries(record: DisputeRecord): DisputeEntries {
  const lost = record.lostSeen ?? record.outcome === "lost";
  const reinstated = record.fundsReinstated === true || (lost && record.outcome === "won");
  return { takeBack: lost || reinstated, reinstatement: reinstated };
}

function sameRecord(a: DisputeRecord, b: DisputeRecord): boolean {
  return (
    a.status === b.status &&
    a.outcome === b.outcome &&
    a.amount === b.amount &&
    a.providerPaymentId === b.providerPaymentId &&
    (a.stage ?? null) === (b.stage ?? null) &&
    (a.lostSeen ?? a.outcome === "lost") === (b.lostSeen ?? b.outcome === "lost") &&
    (a.fundsWithdrawn ?? false) === (b.fundsWithdrawn ?? false) &&
    (a.fundsReinstated ?? false) === (b.fundsReinstated ?? false)
  );
}

/** What `event` does to a dispute: nothing new (ignore), or its new record and the entries it now stands for. */
export function decideDisputeTransition(
  current: DisputeRecord | undefined,
  event: DisputeEvent,
): DisputeDecision {
  const record = mergeDispute(current, event);
  if (current !== undefined && sameRecord(current, record)) return { kind: "ignore" };
  return { kind: "set", record, entries: disputeEntries(record) };
}

export function countOpenDisputes(disputes: Readonly<Record<string, DisputeRecord>>): number {
  return Object.values(disputes).filter((d) => d.status === "open").length;
}
