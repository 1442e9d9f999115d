import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: records a payment received outside the provider (idempotent on `reference`). */
export const recordManualPayment = validatedOnCall({
  name: "recordManualPayment",
  adminOnly: true,
  load: async () => {
    const [{ recordManualPaymentInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/adminPaymentService"),
    ]);
    return {
      schema: recordManualPaymentInput,
      handler: (input, ctx) => service.recordManualPayment(ctx.uid, input),
    };
  },
});
