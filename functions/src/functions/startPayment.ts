import { stripeSecretKey } from "../shared/config";
import { validatedOnCall } from "../shared/validatedOnCall";

/** Starts (or resumes) a provider payment for the caller's enrollment; same requestId ⇒ same payment. */
export const startPayment = validatedOnCall({
  name: "startPayment",
  secrets: [stripeSecretKey],
  load: async () => {
    const [{ startPaymentInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/checkoutService"),
    ]);
    return { schema: startPaymentInput, handler: (input, ctx) => service.startPayment(ctx.uid, input) };
  },
});
