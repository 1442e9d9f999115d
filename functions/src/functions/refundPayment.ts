import { stripeSecretKey, stripeWebhookSecret } from "../shared/config";
import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: refunds (part of) a payment. Provider refunds change the money when their webhook arrives. */
export const refundPayment = validatedOnCall({
  name: "refundPayment",
  adminOnly: true,
  secrets: [stripeSecretKey, stripeWebhookSecret],
  load: async () => {
    const [{ refundPaymentInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/adminPaymentService"),
    ]);
    return { schema: refundPaymentInput, handler: (input, ctx) => service.refundPayment(ctx.uid, input) };
  },
});
