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

/**
 * Whether the webhook applies live-mode events (else test-mode ones), for the provider in use: the environment
 * variable STRIPE_MODE, `live` (default, so a production deploy refuses test-mode events) or `test` (a staging
 * project on Stripe's test mode; set it in functions/.env.<project>). An event whose `livemode` does not match is
 * refused (400 `livemode-mismatch`, nothing recorded). The local provider only makes test-mode events: always `test` with it. A plain
 * environment variable rather than a param, so the CLI never prompts for it.
 */
export function expectsLivemode(provider: PaymentProviderName): boolean {
  if (provider === "local") return false;
  const value = process.env.STRIPE_MODE?.trim() || "live";
  if (value !== "live" && value !== "test") throw new Error("STRIPE_MODE must be 'live' or 'test'");
  return value === "live";
}

/**
 * The webhook signing secrets: STRIPE_WEBHOOK_SECRET holds one or more `whsec_…` separated by commas or whitespace.
 * An event signed with any of them is accepted, so a secret is rolled without downtime: add the new one next to the
 * old, roll it in Stripe (which signs with both while the old one expires), then remove the old. Empty when not
 * configured (unset, empty or only separators).
 */
export function webhookSecrets(): string[] {
  const value = process.env.STRIPE_WEBHOOK_SECRET;
  if (value === undefined || value.trim() === "") return [];
  return stripeWebhookSecret
    .value()
    .split(/[\s,]+/)
    .filter((secret) => secret !== "");
}

/** The secret the local provider signs its events with (the first configured one), or undefined. */
export function webhookSecretValue(): string | undefined {
  return webhookSecrets()[0];
}

/**
 * Whether every callable refuses a request without a valid App Check token (`unauthenticated`, before any handler
 * code runs): the environment variable ENFORCE_APP_CHECK, `true` (default) or `false` (only while a project's apps
 * are not registered with App Check yet). Read when the functions are loaded (it is a function option), from
 * functions/.env.<project> like the others.
 */
export function appCheckEnforced(): boolean {
  const value = process.env.ENFORCE_APP_CHECK?.trim() || "true";
  if (value !== "true" && value !== "false") throw new Error("ENFORCE_APP_CHECK must be 'true' or 'false'");
  return value === "true";
}

/**
 * startPayment's per-user rate limit: at most START_PAYMENT_LIMIT new checkouts (default 10) per
 * START_PAYMENT_WINDOW_SECONDS (default 60) per user. Retries of a requestId and joins of an open checkout are free.
 * Stripe's rate limit is per account: without this, one user could throttle everyone's payments. Environment
 * variables (functions/.env.<project>), read per call.
 */
export function startPaymentRateLimit(): { limit: number; windowMs: number } {
  return {
    limit: positiveIntEnv("START_PAYMENT_LIMIT", 10),
    windowMs: positiveIntEnv("START_PAYMENT_WINDOW_SECONDS", 60) * 1000,
  };
}

/**
 * At most MAX_OPEN_CHECKOUTS (default 5) unfinished checkouts (`creating` or `pending`, made in the last 24 h) per
 * enrollment: startPayment refuses another with failed-precondition. Older unfinished ones do not count, so an
 * abandoned payment page never locks a student out. Environment variable, read per call.
 */
export function maxOpenCheckouts(): number {
  return positiveIntEnv("MAX_OPEN_CHECKOUTS", 5);
}

function positiveIntEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

/**
 * The origins (scheme://host[:port]) startCheckoutSession may send students back to, from CHECKOUT_REDIRECT_ORIGINS
 * (comma-separated); empty: any https origin (and http://localhost). Set it in production: the hosted page then
 * never redirects anywhere else.
 */
export function checkoutRedirectOrigins(): string[] {
  return (process.env.CHECKOUT_REDIRECT_ORIGINS ?? "")
    .split(/[\s,]+/)
    .map((o) => o.trim().replace(/\/+$/, ""))
    .filter((o) => o !== "");
}
