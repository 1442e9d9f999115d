import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: dead letters, newest first, by reason and status (services/deadLetterService). */
export const listDeadLetters = validatedOnCall({
  name: "listDeadLetters",
  adminOnly: true,
  load: async () => {
    const [{ listDeadLettersInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/deadLetterService"),
    ]);
    return { schema: listDeadLettersInput, handler: (input) => service.listDeadLetters(input) };
  },
});
