import { validatedOnCall } from "../shared/validatedOnCall";

/** Marks a lesson completed for the caller: counted once (see services/learningService). */
export const completeLesson = validatedOnCall({
  name: "completeLesson",
  load: async () => {
    const [{ completeLessonInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/learningService"),
    ]);
    return { schema: completeLessonInput, handler: (input, ctx) => service.completeLesson(ctx.uid, input) };
  },
});
