/**
 * Events that overtake their payment. Pure.
 *
 * A refund or dispute finds its enrollment through its payment's ledger entry (domain/webhookMapping). When that
 * entry does not exist yet, the event is either about one of this backend's payments that has not arrived (Stripe
 * does not order deliveries), or about a payment this backend never made (another product on the same Stripe
 * account). The first is parked until its payment is applied, the second is answered at once and recorded as
 * ignored: nothing depends on the provider retrying either.
 *
 * Whose payment it is comes from what this backend wrote (a checkout naming the payment) or from the provider's
 * own record of the payment (the metadata startPayment sets), never from the event: a refund's metadata is
 * whatever its creator wrote and a dispute has none.
 */
import { readMetadata, type WebhookCommand } from "./webhookMapping";

/** How long a parked event waits for its payment before it is dead-lettered `unknown-payment`. */
export const PARK_LIMIT_MS = 7 * 24 * 3600 * 1000;

export interface PaymentOwner {
  uid: string;
  courseId: string;
  via: "checkout" | "provider";
}

export type UnknownPaymentDecision = { kind: "park"; owner: PaymentOwner } | { kind: "ignore" };

/**
 * `checkout`: this backend's checkout naming the payment, if any; `providerMetadata`: the provider's record of the
 * payment (null when the provider has no such payment; undefined when it was not asked).
 */
export function decideUnknownPayment(
  checkout: { uid: string; courseId: string } | null,
  providerMetadata: Readonly<Record<string, string>> | null | undefined,
): UnknownPaymentDecision {
  if (checkout !== null) return { kind: "park", owner: { ...checkout, via: "checkout" } };
  if (providerMetadata === null || providerMetadata === undefined) return { kind: "ignore" };
  const meta = readMetadata(providerMetadata);
  if (meta.kind !== "ok") return { kind: "ignore" };
  return { kind: "park", owner: { uid: meta.uid, courseId: meta.courseId, via: "provider" } };
}

/** The payment a command finds its enrollment by, when it does so (refunds, disputes); else null. */
export function lookupPaymentId(command: WebhookCommand): string | null {
  if (command.kind === "deadLetter" || command.kind === "noop") return null;
  return command.target.kind === "lookup" ? command.target.providerPaymentId : null;
}

/** The two fields of an enrollment the parked-event signal reads (absent on documents written before it existed). */
export interface ParkSignal {
  ledgerCount?: unknown;
  parkedEvents?: unknown;
}

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);

/**
 * The parked count to replay for, when an enrollment write may have applied the payment that events parked for
 * this enrollment wait for (else null): some are parked (`after.parkedEvents`, raised in the park's own commit) and
 * the write added ledger entries. A park and a payment both write the enrollment document, so Firestore orders the
 * two commits: when the park commits first, the payment's write sees the count here; when the payment commits
 * first, the park's own second look at the ledger finds it. A write that added no entry (the park's own, a status
 * correction) has nothing to replay.
 */
export function parkedToReplay(before: ParkSignal | undefined, after: ParkSignal | undefined): number | null {
  if (after === undefined) return null;
  const parked = count(after.parkedEvents);
  return parked > 0 && count(after.ledgerCount) > count(before?.ledgerCount) ? parked : null;
}

export type ParkedDecision = "replay" | "dead-letter" | "wait";

/**
 * What the sweep makes of a parked event it has just replayed: `replay` when its payment was known (it applied),
 * else dead-lettered past its deadline or left waiting.
 */
export function decideParked(paymentKnown: boolean, deadlineMs: number, nowMs: number): ParkedDecision {
  if (paymentKnown) return "replay";
  return nowMs >= deadlineMs ? "dead-letter" : "wait";
}
