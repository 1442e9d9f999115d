import { validatedOnCall } from "../shared/validatedOnCall";

/** Admin: enrollments paid beyond their price (never refunded automatically; see services/adminReportService). */
export const listOverpayments = validatedOnCall({
  name: "listOverpayments",
  adminOnly: true,
  load: async () => {
    const [{ listOverpaymentsInput }, service] = await Promise.all([
      import("../schemas/callables"),
      import("../services/adminReportService"),
    ]);
    return { schema: listOverpaymentsInput, handler: (input) => service.listOverpayments(input) };
  },
});
