import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: the health summary (`ops/summary`), rebuilt first when asked (see services/opsSummaryService). */
export const getOpsSummary = validatedOnCall({
  name: "getOpsSummary",
  adminOnly: true,
  load: async () => {
    const [{ getOpsSummaryInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/opsSummaryService"),
    ]);
    return {
      schema: getOpsSummaryInput,
      handler: async (input) => ({
        summary: input.refresh === true ? await service.refreshOpsSummary() : await service.readOpsSummary(),
      }),
    };
  },
});
