import { stripeSecretKey, stripeWebhookSecret } from "../shared/config";
import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: one dead letter, and what replaying it would do now (its event fetched from the provider). */
export const getDeadLetter = validatedOnCall({
  name: "getDeadLetter",
  adminOnly: true,
  secrets: [stripeSecretKey, stripeWebhookSecret],
  load: async () => {
    const [{ getDeadLetterInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/deadLetterService"),
    ]);
    return { schema: getDeadLetterInput, handler: (input) => service.getDeadLetter(input) };
  },
});
