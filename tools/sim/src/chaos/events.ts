/**
 * The provider's events of a chaos run, built from the provider's own payment records (as Stripe would) with
 * the local provider's builders from the built backend.
 */
import { localPaymentView, type LocalPaymentView, type StripeEventJson } from "../shared/backend";
import type { Stack } from "../shared/stack";
import type { ReturnedCheckout } from "./check";
import type { EventSpec, PaymentRef, Scenario } from "./scenario";
import { readDoc, runAll } from "./util";

/**
 * The provider's record of each startPayment payment (charge id, metadata), read like a provider would, and the
 * payments the backend has already canceled at the provider (a checkout replaced or found stale by a later
 * startPayment): nobody can pay those any more.
 */
export async function loadProviderViews(
  stack: Stack,
  results: readonly ReturnedCheckout[],
  violations: string[],
): Promise<{ views: Map<string, LocalPaymentView>; canceled: Set<string> }> {
  const views = new Map<string, LocalPaymentView>();
  const canceled = new Set<string>();
  const ids = [...new Set(results.map((r) => r.paymentId))];
  await runAll(16, ids, async (id) => {
    const d = await readDoc(stack, `localProvider/${id}`);
    if (d === undefined) {
      violations.push(`startPayment returned payment ${id}, which the provider does not have`);
      return;
    }
    views.set(id, { ...localPaymentView(d as Parameters<typeof localPaymentView>[0]), refunds: [] });
    if (d.status === "canceled") canceled.add(id);
  });
  return { views, canceled };
}

export interface BuiltEvent {
  id: string;
  label: string;
  json: StripeEventJson;
  rawBody: string;
}

export function buildEvents(
  stack: Stack,
  scenario: Scenario,
  planResults: ReadonlyMap<number, ReturnedCheckout>,
  views: ReadonlyMap<string, LocalPaymentView>,
  canceledAtProvider: ReadonlySet<string> = new Set(),
): BuiltEvent[] {
  const ev = stack.localEvents;
  const viewOf = (pay: PaymentRef): LocalPaymentView | undefined => {
    if (pay.kind === "direct") return pay.view;
    const r = planResults.get(pay.plan);
    return r === undefined ? undefined : views.get(r.paymentId);
  };
  const takeBack = takeBackAmounts(scenario.events, viewOf);
  // Two stories can end up on one provider payment (two tabs joining one balance checkout): the provider never
  // cancels a payment intent that succeeded, so a story's cancellation is dropped when another's payment succeeds.
  // A payment the backend canceled at the provider before any story's payment went through (its checkout was
  // replaced or found stale during the startPayment phase) can never succeed, as at Stripe: its success is dropped.
  const succeeded = new Set(
    scenario.events.flatMap((e) =>
      e.kind === "succeeded" && !canceledAtProvider.has(viewOf(e.pay)?.id ?? "") ? [viewOf(e.pay)?.id] : [],
    ),
  );
  const out: BuiltEvent[] = [];
  for (const original of scenario.events) {
    if (original.kind === "canceled" && succeeded.has(viewOf(original.pay)?.id)) continue;
    if (original.kind === "succeeded" && canceledAtProvider.has(viewOf(original.pay)?.id ?? "")) continue;
    const spec = withRealAmounts(original, takeBack);
    if (spec === undefined) continue; // nothing left of its payment to take back
    const json = buildOne(ev, spec, viewOf);
    if (json === undefined) continue; // its startPayment failed (already a violation)
    out.push({ id: json.id, label: labelOf(spec), json, rawBody: JSON.stringify(json) });
  }
  return out;
}

/**
 * Refund and dispute amounts as the provider would allow them: never more than what is left of the real payment.
 * The scenario sizes them from the amount its story asked for, but two stories can end up on one provider payment
 * (two requests for the remaining balance join one checkout), and a charge cannot be refunded or disputed beyond
 * its amount. Each refund id keeps one amount in every event that carries it; amounts are taken in scenario order,
 * refunds first, then disputes (a dispute covers at most what the refunds left). 0 = nothing left: dropped.
 */
function takeBackAmounts(
  events: readonly EventSpec[],
  viewOf: (pay: PaymentRef) => LocalPaymentView | undefined,
): Map<string, number> {
  const amounts = new Map<string, number>();
  const left = new Map<string, number>();
  const take = (pay: PaymentRef, id: string, wanted: number): void => {
    const view = viewOf(pay);
    if (view === undefined || amounts.has(id)) return;
    const remaining = left.get(view.id) ?? view.amount;
    const amount = Math.min(wanted, remaining);
    amounts.set(id, amount);
    left.set(view.id, remaining - amount);
  };
  for (const spec of events) {
    if (spec.kind === "refund") take(spec.pay, spec.refund.id, spec.refund.amount);
    if (spec.kind === "refunded") for (const r of spec.refunds ?? []) take(spec.pay, r.id, r.amount);
  }
  for (const spec of events)
    if (spec.kind === "dispute") take(spec.pay, spec.dispute.id, spec.dispute.amount);
  return amounts;
}

function withRealAmounts(spec: EventSpec, amounts: ReadonlyMap<string, number>): EventSpec | undefined {
  const amountOf = (id: string, wanted: number): number => amounts.get(id) ?? wanted;
  switch (spec.kind) {
    case "refund": {
      const amount = amountOf(spec.refund.id, spec.refund.amount);
      return amount === 0 ? undefined : { ...spec, refund: { ...spec.refund, amount } };
    }
    case "refunded":
      return spec.refunds === null
        ? spec
        : {
            ...spec,
            refunds: spec.refunds
              .map((r) => ({ ...r, amount: amountOf(r.id, r.amount) }))
              .filter((r) => r.amount > 0),
          };
    case "dispute": {
      const amount = amountOf(spec.dispute.id, spec.dispute.amount);
      return amount === 0 ? undefined : { ...spec, dispute: { ...spec.dispute, amount } };
    }
    default:
      return spec;
  }
}

function buildOne(
  ev: Stack["localEvents"],
  spec: EventSpec,
  viewOf: (pay: PaymentRef) => LocalPaymentView | undefined,
): StripeEventJson | undefined {
  if (spec.kind === "raw") {
    return {
      id: spec.eventId,
      object: "event",
      api_version: "2025-01-01",
      created: Math.floor(Date.now() / 1000) - (spec.json.ageSeconds ?? 0),
      livemode: false,
      pending_webhooks: 1,
      type: spec.json.type,
      data: { object: spec.json.object },
    };
  }
  if (spec.kind === "foreign") {
    const victim = viewOf(spec.victim);
    if (victim === undefined) return undefined;
    const foreign: LocalPaymentView = {
      id: spec.paymentId,
      chargeId: spec.paymentId.replace(/^pi_/, "ch_"),
      amount: spec.variant === "other-amount" ? victim.amount + 1 : victim.amount,
      currency: victim.currency,
      metadata: { ...victim.metadata, uid: spec.payer.uid, courseId: spec.payer.courseId },
      refunds: [],
    };
    return spec.type === "payment_intent.succeeded"
      ? ev.paymentSucceededEvent(foreign, spec.eventId)
      : ev.paymentFailedEvent(foreign, spec.eventId);
  }
  const view = viewOf(spec.pay);
  if (view === undefined) return undefined;
  switch (spec.kind) {
    case "succeeded":
      return ev.paymentSucceededEvent(view, spec.eventId);
    case "failed":
      return ev.paymentFailedEvent(view, spec.eventId);
    case "canceled":
      return ev.paymentCanceledEvent(view, spec.eventId);
    case "refunded":
      return spec.refunds === null
        ? ev.chargeRefundedEvent(view, spec.eventId, { refundList: false })
        : ev.chargeRefundedEvent({ ...view, refunds: spec.refunds }, spec.eventId);
    case "refund":
      return ev.refundEvent(view, spec.refund, spec.type, spec.eventId);
    case "dispute": {
      const json = ev.disputeEvent(view, spec.dispute, spec.type, spec.eventId);
      if (spec.withMetadata) {
        json.data.object.metadata = { uid: view.metadata.uid ?? "", courseId: view.metadata.courseId ?? "" };
      }
      return json;
    }
  }
}

function labelOf(spec: EventSpec): string {
  if (spec.kind === "raw") return spec.label;
  if (spec.kind === "foreign") return `foreign:${spec.variant} ${spec.type}`;
  const source = spec.pay.kind;
  if (spec.kind === "dispute" || spec.kind === "refund") return `${spec.type} (${source})`;
  return `${spec.kind} (${source})`;
}
