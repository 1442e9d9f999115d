import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: sets a lesson of a course (content gated by access in firestore.rules; `preview` lessons are public). */
export const upsertLesson = validatedOnCall({
  name: "upsertLesson",
  adminOnly: true,
  load: async () => {
    const [{ upsertLessonInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/enrollmentService"),
    ]);
    return { schema: upsertLessonInput, handler: (input) => service.upsertLesson(input) };
  },
});
