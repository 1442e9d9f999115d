import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: creates a course (title, price, currency required) or updates the given fields. */
export const upsertCourse = validatedOnCall({
  name: "upsertCourse",
  adminOnly: true,
  load: async () => {
    const [{ upsertCourseInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/enrollmentService"),
    ]);
    return { schema: upsertCourseInput, handler: (input) => service.upsertCourse(input) };
  },
});
