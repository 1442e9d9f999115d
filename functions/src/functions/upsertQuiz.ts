import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: sets a quiz (or a video's questions) and its server-only answer key in one commit (services/quizService). */
export const upsertQuiz = validatedOnCall({
  name: "upsertQuiz",
  adminOnly: true,
  load: async () => {
    const [{ upsertQuizInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/quizService"),
    ]);
    return { schema: upsertQuizInput, handler: (input) => service.upsertQuiz(input) };
  },
});
