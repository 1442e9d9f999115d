/**
 * Chooses the configured payment provider. The local provider (offline stack and tests; everything of it under
 * local/) is loaded with a dynamic import only when PAYMENT_PROVIDER=local, so a production cold start never
 * loads the offline code.
 */
import { paymentProviderName, stripeSecretKey } from "../../shared/config";
import type { PaymentProvider } from "./provider";
import { StripePaymentProvider } from "./stripeProvider";

let override: PaymentProvider | undefined;

/** Tests may install a provider (e.g. a LocalPaymentProvider that delivers straight into the handler). */
export function setPaymentProviderForTesting(provider: PaymentProvider | undefined): void {
  override = provider;
}

/** The configured provider's name (the ledger `source` of its payments), without loading the provider. */
export function paymentProviderSource(): PaymentProvider["name"] {
  return override?.name ?? paymentProviderName();
}

export async function getPaymentProvider(): Promise<PaymentProvider> {
  if (override !== undefined) return override;
  if (paymentProviderName() === "local") {
    const { createLocalProvider } = await import("./local");
    return createLocalProvider();
  }
  return new StripePaymentProvider(() => stripeSecretKey.value());
}
