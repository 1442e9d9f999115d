import { stripeSecretKey } from "../shared/config";
import { validatedOnCall } from "../shared/validatedOnCall";

/**
 * Starts (or resumes) a payment on the provider's hosted checkout page for the caller's enrollment and answers its
 * URL; same requestId ⇒ same page. The same checkout rules as startPayment (amounts, limits, two tabs, stale and
 * replaced checkouts).
 */
export const startCheckoutSession = validatedOnCall({
  name: "startCheckoutSession",
  secrets: [stripeSecretKey],
  load: async () => {
    const [{ startCheckoutSessionInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/checkoutService"),
    ]);
    return {
      schema: startCheckoutSessionInput,
      handler: (input, ctx) => service.startCheckoutSession(ctx.uid, input),
    };
  },
});
