import { validatedOnCall } from "../shared/validatedOnCall";

/** Creates the caller's `users/{uid}` profile if needed (idempotent; clients call it after sign-in). */
export const ensureProfile = validatedOnCall({
  name: "ensureProfile",
  load: async () => {
    const [{ ensureProfileInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/profileService"),
    ]);
    return {
      schema: ensureProfileInput,
      handler: (_input, ctx) => service.ensureProfile(ctx.uid, ctx.email),
    };
  },
});
