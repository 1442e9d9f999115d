import { stripeSecretKey, stripeWebhookSecret } from "../shared/config";
import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: provider reconciliation now, for a range of event creation times (see services/reconciliationService). */
export const reconcilePayments = validatedOnCall({
  name: "reconcilePayments",
  adminOnly: true,
  secrets: [stripeSecretKey, stripeWebhookSecret],
  load: async () => {
    const [{ reconcilePaymentsInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/reconciliationService"),
    ]);
    return {
      schema: reconcilePaymentsInput,
      handler: (input) =>
        service.reconcileRange({
          fromMs: Date.parse(input.from),
          toMs: Date.parse(input.to),
          limit: input.limit,
          startingAfter: input.startingAfter,
        }),
    };
  },
});
