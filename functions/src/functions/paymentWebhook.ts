import { onRequest } from "firebase-functions/v2/https";
import {
  expectsLivemode,
  REGION,
  stripeSecretKey,
  stripeWebhookSecret,
  webhookSecrets,
} from "../shared/config";

/** Stripe-format webhook: signature first, then exactly-once application (see services/webhookService). */
export const paymentWebhook = onRequest(
  { region: REGION, secrets: [stripeWebhookSecret, stripeSecretKey] },
  async (req, res) => {
    const [{ handleWebhook }, { paymentProviderSource }] = await Promise.all([
      import("../services/webhookService"),
      import("../services/payments"),
    ]);
    const source = paymentProviderSource();
    const result = await handleWebhook(
      { method: req.method, rawBody: req.rawBody, signature: req.headers["stripe-signature"] },
      { secrets: webhookSecrets(), source, livemode: expectsLivemode(source) },
    );
    res.status(result.status).json(result.body);
  },
);
