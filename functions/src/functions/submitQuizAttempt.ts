import { validatedOnCall } from "../shared/validatedOnCall";

/** Grades the caller's answers on the server and records the attempt once per requestId (services/quizService). */
export const submitQuizAttempt = validatedOnCall({
  name: "submitQuizAttempt",
  load: async () => {
    const [{ submitQuizAttemptInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/quizService"),
    ]);
    return {
      schema: submitQuizAttemptInput,
      handler: (input, ctx) => service.submitQuizAttempt(ctx.uid, input),
    };
  },
});
