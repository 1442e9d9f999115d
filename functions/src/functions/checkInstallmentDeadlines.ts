import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: the installment deadline check, now (what markInstallmentDeadlines does every hour). */
export const checkInstallmentDeadlines = validatedOnCall({
  name: "checkInstallmentDeadlines",
  adminOnly: true,
  load: async () => {
    const [{ checkInstallmentDeadlinesInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/installmentService"),
    ]);
    return {
      schema: checkInstallmentDeadlinesInput,
      handler: (input) => service.markPassedDeadlines({ limit: input.limit }),
    };
  },
});
