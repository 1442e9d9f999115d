import { validatedOnCall } from "../shared/validatedOnCall";

/** Enrolls the caller in a published course (idempotent). Free courses are paid/active at once. */
export const enrollInCourse = validatedOnCall({
  name: "enrollInCourse",
  load: async () => {
    const [{ enrollInCourseInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/enrollmentService"),
    ]);
    return {
      schema: enrollInCourseInput,
      handler: (input, ctx) => service.enrollInCourse(ctx.uid, input),
    };
  },
});
