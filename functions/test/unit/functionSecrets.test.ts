/**
 * A Cloud Function sees a Secret Manager secret only when it declares it: every deployed function that can reach the
 * payment provider (getPaymentProvider: the Stripe API key; the local provider signs events with the webhook
 * secret) must bind both, or it fails in production only — the tests run with the local provider.
 */
import * as deployed from "../../src/index";

/** The functions whose code can reach getPaymentProvider (directly or through the webhook path). */
const REACHING_THE_PROVIDER = [
  "paymentWebhook",
  "onEnrollmentWritten",
  "sweepParkedEvents",
  "reconcileProviderEvents",
  "reconcilePayments",
  "startPayment",
  "startCheckoutSession",
  "refundPayment",
  "getDeadLetter",
  "replayDeadLetter",
] as const;

/** Of those, the ones that do not run the webhook path or the local provider's event sending. */
const API_KEY_ONLY = new Set(["startPayment", "startCheckoutSession"]);

function secretsOf(name: string): string[] {
  const fn = (
    deployed as Record<string, { __endpoint?: { secretEnvironmentVariables?: { key: string }[] } }>
  )[name];
  return (fn?.__endpoint?.secretEnvironmentVariables ?? []).map((s) => s.key).sort();
}

describe("secrets bound by the functions that reach the payment provider", () => {
  it.each(REACHING_THE_PROVIDER)("%s", (name) => {
    expect(secretsOf(name)).toEqual(
      expect.arrayContaining(
        API_KEY_ONLY.has(name) ? ["STRIPE_SECRET_KEY"] : ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"],
      ),
    );
  });
});
