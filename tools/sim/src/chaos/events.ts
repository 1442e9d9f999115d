/**
 * The provider's events of a chaos run, built from the provider's own payment records (as Stripe would) with
 * the local provider's builders from the built backend.
 */
import { localPaymentView, type LocalPaymentView, type StripeEventJson } from "../shared/backend";
import type { Stack } from "../shared/stack";
import type { ReturnedCheckout } from "./check";
import type { EventSpec, PaymentRef, Scenario } from "./scenario";
import { readDoc, runAll } from "./util";

/** The provider's record of each startPayment payment (charge id, metadata), read like a provider would. */
export async function loadProviderViews(
  stack: Stack,
  results: readonly ReturnedCheckout[],
  violations: string[],
): Promise<Map<string, LocalPaymentView>> {
  const views = new Map<string, LocalPaymentView>();
  const ids = [...new Set(results.map((r) => r.paymentId))];
  await runAll(16, ids, async (id) => {
    const d = await readDoc(stack, `localProvider/${id}`);
    if (d === undefined) {
      violations.push(`startPayment returned payment ${id}, which the provider does not have`);
      return;
    }
    views.set(id, { ...localPaymentView(d as Parameters<typeof localPaymentView>[0]), refunds: [] });
  });
  return views;
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
): BuiltEvent[] {
  const ev = stack.localEvents;
  const viewOf = (pay: PaymentRef): LocalPaymentView | undefined => {
    if (pay.kind === "direct") return pay.view;
    const r = planResults.get(pay.plan);
    return r === undefined ? undefined : views.get(r.paymentId);
  };
  const out: BuiltEvent[] = [];
  for (const spec of scenario.events) {
    const json = buildOne(ev, spec, viewOf);
    if (json === undefined) continue; // its startPayment failed (already a violation)
    out.push({ id: json.id, label: labelOf(spec), json, rawBody: JSON.stringify(json) });
  }
  return out;
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
  const view = viewOf(spec.pay);
  if (view === undefined) return undefined;
  switch (spec.kind) {
    case "succeeded":
      return ev.paymentSucceededEvent(view, spec.eventId);
    case "failed":
      return ev.paymentFailedEvent(view, spec.eventId);
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
  const source = spec.pay.kind;
  if (spec.kind === "dispute" || spec.kind === "refund") return `${spec.type} (${source})`;
  return `${spec.kind} (${source})`;
}
