/** Deployment parameters and secrets. Cheap to import: no SDKs beyond the params module. */
import { defineSecret, defineString } from "firebase-functions/params";

export const REGION = "us-central1";

/** Stripe API key (sk_…); only the functions that call Stripe bind it. */
export const stripeSecretKey = defineSecret("STRIPE_SECRET_KEY");
/** Webhook signing secret (whsec_…); also signs the local provider's events. */
export const stripeWebhookSecret = defineSecret("STRIPE_WEBHOOK_SECRET");
/** `stripe` (default) or `local` (offline stack and tests). */
export const paymentProviderParam = defineString("PAYMENT_PROVIDER", { default: "stripe" });

export type PaymentProviderName = "stripe" | "local";

/** The configured provider. Params are read from the environment at runtime; the default applies when unset. */
export function paymentProviderName(): PaymentProviderName {
  const value = paymentProviderParam.value() || "stripe";
  if (value !== "stripe" && value !== "local")
    throw new Error("PAYMENT_PROVIDER must be 'stripe' or 'local'");
  return value;
}

/** The webhook signing secret, or undefined when not configured. */
export function webhookSecretValue(): string | undefined {
  const value = process.env.STRIPE_WEBHOOK_SECRET;
  return value === undefined || value === "" ? undefined : stripeWebhookSecret.value();
}
