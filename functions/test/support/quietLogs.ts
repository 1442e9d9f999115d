/** Structured function logs are noise in test output; set DEBUG_LOGS=1 to see them. */
if (process.env.DEBUG_LOGS !== "1") {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    jest.spyOn(console, method).mockImplementation(() => undefined);
  }
}
