import { stripeSecretKey, stripeWebhookSecret } from "../shared/config";
import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: re-runs a dead letter's original event through the webhook's exactly-once path, once; audited. */
export const replayDeadLetter = validatedOnCall({
  name: "replayDeadLetter",
  adminOnly: true,
  secrets: [stripeSecretKey, stripeWebhookSecret],
  load: async () => {
    const [{ replayDeadLetterInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/deadLetterService"),
    ]);
    return {
      schema: replayDeadLetterInput,
      handler: (input, ctx) => service.replayDeadLetter(ctx.uid, input),
    };
  },
});
