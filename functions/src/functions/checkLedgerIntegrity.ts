import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: compares enrollments with their ledgers and the status policy; repairs the drift when asked. */
export const checkLedgerIntegrity = validatedOnCall({
  name: "checkLedgerIntegrity",
  adminOnly: true,
  load: async () => {
    const [{ checkLedgerIntegrityInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/ledgerIntegrityService"),
    ]);
    return {
      schema: checkLedgerIntegrityInput,
      handler: (input, ctx) =>
        service.checkLedgerIntegrity({
          ...(input.limit === undefined ? {} : { limit: input.limit }),
          repair: input.repair ?? false,
          startAfter: input.startAfter ?? null,
          by: ctx.uid,
        }),
    };
  },
});
