/** Chooses the configured payment provider. */
import { paymentProviderName, stripeSecretKey, webhookSecretValue } from "../../shared/config";
import { httpDeliverer } from "./localEvents";
import { LocalPaymentProvider } from "./localProvider";
import type { PaymentProvider } from "./provider";
import { StripePaymentProvider } from "./stripeProvider";

let override: PaymentProvider | undefined;

/** Tests may install a provider (e.g. a LocalPaymentProvider that delivers straight into the handler). */
export function setPaymentProviderForTesting(provider: PaymentProvider | undefined): void {
  override = provider;
}

export function getPaymentProvider(): PaymentProvider {
  if (override !== undefined) return override;
  if (paymentProviderName() === "local") {
    const url = process.env.LOCAL_PROVIDER_WEBHOOK_URL;
    return new LocalPaymentProvider({
      webhookSecret: webhookSecretValue,
      deliver: url === undefined || url === "" ? undefined : httpDeliverer(url),
    });
  }
  return new StripePaymentProvider(() => stripeSecretKey.value());
}
