import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: closes an open dead letter with a reason, without replaying it; audited. */
export const dismissDeadLetter = validatedOnCall({
  name: "dismissDeadLetter",
  adminOnly: true,
  load: async () => {
    const [{ dismissDeadLetterInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/deadLetterService"),
    ]);
    return {
      schema: dismissDeadLetterInput,
      handler: (input, ctx) => service.dismissDeadLetter(ctx.uid, input),
    };
  },
});
