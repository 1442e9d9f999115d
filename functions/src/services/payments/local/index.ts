/**
 * The local provider as the backend configures it (PAYMENT_PROVIDER=local): signs its events with the webhook
 * secret and, when LOCAL_PROVIDER_WEBHOOK_URL is set (the local stack), posts them there. Loaded with a dynamic
 * import by services/payments only in that configuration, so production never loads anything under local/.
 */
import { webhookSecretValue } from "../../../shared/config";
import { httpDeliverer } from "./localEvents";
import { LocalPaymentProvider } from "./localProvider";

export function createLocalProvider(): LocalPaymentProvider {
  const url = process.env.LOCAL_PROVIDER_WEBHOOK_URL;
  return new LocalPaymentProvider({
    webhookSecret: webhookSecretValue,
    deliver: url === undefined || url === "" ? undefined : httpDeliverer(url),
  });
}
