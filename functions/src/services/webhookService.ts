/**
 * paymentWebhook's logic. Order matters:
 *   1. 405 unless POST.
 *   2. Verify `Stripe-Signature` over the raw body with the official stripe package (default tolerance 300 s)
 *      and refuse timestamps more than the tolerance in the future — BEFORE looking at the body. 400 on failure.
 *   3. Parse with zod; 400 if a handled type is malformed; unknown types → 200 ignored (no writes). 400 (nothing
 *      written) for an event of the other Stripe mode (`livemode` ≠ STRIPE_MODE).
 *   4. Map to a domain command and run it (webhookCommandService → ledgerService). A payment, whose enrollment its
 *      metadata names, is one BatchGet (event record, enrollment, ledger entry, checkout) and one blind commit,
 *      shared with concurrent requests; a duplicate ends after the BatchGet (200, no writes). Other events read the
 *      event record first (one RPC for a duplicate); refunds and disputes then find their enrollment by the
 *      payment's ledger entry.
 *   Permanent failures (unknown enrollment, missing metadata…) → dead letter + 200. Transient failures → 500 so
 *   the provider retries. A refund or dispute about a payment that is not this backend's → 200 `ignored` at once;
 *   one that overtook one of our payments → 200 `parked`, applied when the payment is (webhookCommandService).
 *   Nothing depends on the provider retrying. Any other unexpected error (a bug, corrupt stored data) would fail
 *   the same way on every retry: it is logged and dead-lettered with reason `internal-error` (ids only, no
 *   payload) and answered 200.
 */
import type { LedgerSource } from "../domain/ledger";
import { mapWebhookEvent } from "../domain/webhookMapping";
import { hasForbiddenKeys } from "../schemas/common";
import {
  parseWebhookEvent,
  withReadMetadataOnly,
  type ParsedWebhookEvent,
  type WebhookParseResult,
} from "../schemas/webhook";
import { isTransientError, isUnknownCommitOutcome } from "../shared/errors";
import { logError, logInfo, logWarn } from "../shared/log";
import { deadLetterEvent, type EventContext } from "./ledgerService";
import { executeCommand, type CommandOutcome } from "./webhookCommandService";

export const SIGNATURE_TOLERANCE_SECONDS = 300;
export const MAX_BODY_BYTES = 512 * 1024;
const MAX_WEBHOOK_DEPTH = 32;

export interface WebhookRequest {
  method: string;
  rawBody: unknown;
  signature: string | string[] | undefined;
}

export interface WebhookResponse {
  status: number;
  body: { received: boolean; outcome?: string; error?: string };
}

export interface WebhookOptions {
  /** The configured signing secrets (any one verifies an event); none: not configured. */
  secrets: readonly string[];
  source: LedgerSource;
  /** The mode (`livemode`) of the events to apply; an event of the other mode is refused (400, nothing written). */
  livemode: boolean;
  /** For tests: the receive time in ms. */
  nowMs?: number;
}

const reply = (status: number, body: WebhookResponse["body"]): WebhookResponse => ({ status, body });

type SignatureCheck = { ok: true; event: unknown } | { ok: false; reason: string };

async function verifySignature(
  rawBody: Buffer,
  header: string,
  secrets: readonly string[],
  nowMs: number,
): Promise<SignatureCheck> {
  const { default: Stripe } = await import("stripe");
  let event: unknown;
  for (const secret of secrets) {
    try {
      event = Stripe.webhooks.constructEvent(
        rawBody,
        header,
        secret,
        SIGNATURE_TOLERANCE_SECONDS,
        undefined,
        nowMs,
      );
      break;
    } catch {
      // Not signed with this secret (or not validly at all): try the next one.
    }
  }
  if (event === undefined) return { ok: false, reason: "bad-signature" };
  // The stripe package only rejects old timestamps; refuse future-dated ones beyond the same tolerance. The
  // timestamp must be the one the package verified the HMAC with (see signedTimestamp).
  const timestamp = signedTimestamp(header);
  if (!Number.isFinite(timestamp) || timestamp * 1000 > nowMs + SIGNATURE_TOLERANCE_SECONDS * 1000) {
    return { ok: false, reason: "future-timestamp" };
  }
  return { ok: true, event };
}

/**
 * The header's timestamp read exactly as the stripe package reads it when it verifies the HMAC: elements split on
 * ",", key and value on "=", the LAST element keyed `t`, parseInt. Reading it any other way (e.g. the first `t=`)
 * lets a forger put a current `t=` in front of a genuine future-dated header and pass the future check.
 */
function signedTimestamp(header: string): number {
  let timestamp = NaN;
  for (const element of header.split(",")) {
    const [key, value] = element.split("=");
    if (key === "t") timestamp = parseInt(value ?? "", 10);
  }
  return timestamp;
}

export async function handleWebhook(req: WebhookRequest, options: WebhookOptions): Promise<WebhookResponse> {
  if (req.method !== "POST") return reply(405, { received: false, error: "method-not-allowed" });
  if (options.secrets.length === 0) {
    logError("webhook secret not configured", {}, new Error("STRIPE_WEBHOOK_SECRET missing"));
    return reply(500, { received: false, error: "not-configured" });
  }
  const { rawBody, signature } = req;
  if (!Buffer.isBuffer(rawBody) || rawBody.length === 0)
    return reply(400, { received: false, error: "missing-body" });
  if (rawBody.length > MAX_BODY_BYTES) return reply(400, { received: false, error: "body-too-large" });
  if (typeof signature !== "string" || signature.length === 0 || signature.length > 4096) {
    return reply(400, { received: false, error: "missing-signature" });
  }
  const nowMs = options.nowMs ?? Date.now();
  const check = await verifySignature(rawBody, signature, options.secrets, nowMs);
  if (!check.ok) {
    logWarn("webhook signature rejected", { reason: check.reason });
    return reply(400, { received: false, error: check.reason });
  }
  const read = readVerifiedEvent(check.event, options.livemode);
  if (read.kind === "malformed") {
    logWarn("webhook body malformed", { issues: read.issues.join("; ").slice(0, 500) });
    return reply(400, { received: false, error: "malformed-body" });
  }
  if (read.kind === "ignored") {
    logInfo("webhook event ignored", { eventId: read.id, type: read.type });
    return reply(200, { received: true, outcome: "ignored" });
  }
  const event = read.event;
  // An event of the other Stripe mode is refused and nothing is recorded: a misconfigured STRIPE_MODE (or
  // endpoint) shows as failing deliveries that Stripe keeps retrying, and they apply once the setting is fixed.
  if (read.kind === "livemode-mismatch") {
    logError(
      "webhook event of the other Stripe mode refused; check STRIPE_MODE",
      { eventId: event.id, expectedLivemode: options.livemode },
      new Error("livemode mismatch"),
    );
    return reply(400, { received: false, error: "livemode-mismatch" });
  }
  if (event.type === "charge.refunded" && event.object.refunds?.has_more === true) {
    logInfo("charge.refunded lists only some refunds; refund.* events carry the rest", { eventId: event.id });
  }
  const outcome = await runVerifiedEvent(event, options.source, "webhook");
  // A commit whose outcome is unknown is retried by the provider: the rerun finds its own writes.
  if (outcome.kind === "transient") return reply(500, { received: false, error: "transient" });
  if (outcome.kind === "internal") return reply(500, { received: false, error: "internal" });
  return reply(200, { received: true, outcome: outcome.kind });
}

/**
 * One authentic event (verified and parsed) through the exactly-once path — the webhook's, and provider
 * reconciliation's for the events the webhook missed. Any unexpected failure that would fail the same way every time
 * (a bug, corrupt stored data) is logged and dead-lettered `internal-error` (ids and reason only, no payload), so it
 * can never block its sender; a transient one (Firestore, the provider, a commit of unknown outcome) is `transient`:
 * the sender tries again and the rerun finds its own writes. `internal` when even the dead letter failed.
 */
export async function runVerifiedEvent(
  event: ParsedWebhookEvent,
  source: LedgerSource,
  via: "webhook" | "reconciliation",
): Promise<CommandOutcome | { kind: "transient" | "internal" }> {
  const context: EventContext = {
    eventId: event.id,
    eventType: event.type,
    providerObjectId: event.object.id,
  };
  try {
    const outcome = await executeCommand(mapWebhookEvent(event, source), context, source);
    logInfo("webhook event processed", {
      eventId: event.id,
      type: event.type,
      objectId: event.object.id,
      via,
      outcome: outcome.kind,
      ...(outcome.kind === "dead-lettered" ? { reason: outcome.reason } : {}),
    });
    return outcome;
  } catch (error) {
    const transient = isTransientError(error) || isUnknownCommitOutcome(error);
    logError("webhook event failed", { eventId: event.id, type: event.type, via, transient }, error);
    if (transient) return { kind: "transient" };
    return deadLetterUnexpected(context);
  }
}

export type ReadEvent =
  | Exclude<WebhookParseResult, { kind: "handled" }>
  | { kind: "handled" | "livemode-mismatch"; event: ParsedWebhookEvent };

/**
 * An authentic event (signature verified, or fetched from the provider's API) as the backend reads it: only the
 * metadata keys it reads are kept, then it must be free of prototype keys and match its schema, and be of the
 * expected Stripe mode. The webhook, the dead-letter replay and provider reconciliation read events alike.
 */
export function readVerifiedEvent(verified: unknown, livemode: boolean): ReadEvent {
  // Metadata keys are data (any string, `constructor` included): only the keys we read are kept, then the rest of
  // the event must be free of prototype keys.
  const kept = withReadMetadataOnly(verified, MAX_WEBHOOK_DEPTH);
  if (hasForbiddenKeys(kept, MAX_WEBHOOK_DEPTH)) return { kind: "malformed", issues: ["forbidden keys"] };
  const parsed = parseWebhookEvent(kept);
  if (parsed.kind !== "handled") return parsed;
  const mode = (kept as { livemode?: unknown }).livemode;
  return { kind: mode === livemode ? "handled" : "livemode-mismatch", event: parsed.event };
}

/** A permanent unexpected failure: dead letter (ids and reason only); `internal` only if even that fails. */
async function deadLetterUnexpected(context: EventContext): Promise<CommandOutcome | { kind: "internal" }> {
  try {
    return await deadLetterEvent(context, "internal-error");
  } catch (error) {
    logError("webhook dead letter failed", { eventId: context.eventId, type: context.eventType }, error);
    return { kind: "internal" };
  }
}
