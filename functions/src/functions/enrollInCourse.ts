import { validatedOnCall } from "../shared/validatedOnCall";

/** Enrolls the caller in a published course (idempotent). Free courses are paid/active at once. */
export const enrollInCourse = validatedOnCall({
  name: "enrollInCourse",
  load: async () => {
    const [{ enrollInCourseInput }, service, profiles] = await Promise.all([
      import("../schemas/callables"),
      import("../services/enrollmentService"),
      import("../services/profileService"),
    ]);
    return {
      schema: enrollInCourseInput,
      handler: async (input, ctx) => {
        const enrollment = await service.enrollInCourse(ctx.uid, input);
        await profiles.ensureProfile(ctx.uid, ctx.email); // first enrollment: users/{uid} (services/profileService)
        return enrollment;
      },
    };
  },
});
