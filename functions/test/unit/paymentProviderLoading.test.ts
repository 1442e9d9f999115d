/**
 * The offline provider is not part of a production cold start: services/payments loads everything under
 * services/payments/local/ (with a dynamic import) only when PAYMENT_PROVIDER=local.
 */
const LOCAL_MODULES = [
  "../../src/services/payments/local",
  "../../src/services/payments/local/documents",
  "../../src/services/payments/local/localProvider",
  "../../src/services/payments/local/localEvents",
];

type PaymentsModule = typeof import("../../src/services/payments");

/** Loads services/payments in a fresh module registry, recording which offline modules get loaded. */
function loadPayments(): { payments: PaymentsModule; loaded: string[] } {
  const loaded: string[] = [];
  let payments: PaymentsModule | undefined;
  jest.isolateModules(() => {
    for (const path of LOCAL_MODULES) {
      jest.doMock(path, () => {
        loaded.push(path.split("/").pop() ?? path);
        return jest.requireActual<object>(path);
      });
    }
    payments = jest.requireActual<PaymentsModule>("../../src/services/payments");
  });
  if (payments === undefined) throw new Error("services/payments did not load");
  return { payments, loaded };
}

describe("payment provider loading", () => {
  const saved = process.env.PAYMENT_PROVIDER;
  afterEach(() => {
    if (saved === undefined) delete process.env.PAYMENT_PROVIDER;
    else process.env.PAYMENT_PROVIDER = saved;
    for (const path of LOCAL_MODULES) jest.dontMock(path);
  });

  it("with the Stripe provider, never loads the local provider's modules", async () => {
    process.env.PAYMENT_PROVIDER = "stripe";
    const { payments, loaded } = loadPayments();
    expect(loaded).toEqual([]);
    expect((await payments.getPaymentProvider()).name).toBe("stripe");
    expect(payments.paymentProviderSource()).toBe("stripe");
    expect(loaded).toEqual([]);
  });

  it("with PAYMENT_PROVIDER=local, loads them on first use", async () => {
    process.env.PAYMENT_PROVIDER = "local";
    const { payments, loaded } = loadPayments();
    expect(loaded).toEqual([]);
    expect(payments.paymentProviderSource()).toBe("local");
    expect((await payments.getPaymentProvider()).name).toBe("local");
    expect(loaded.sort()).toEqual(["documents", "local", "localEvents", "localProvider"]);
  });
});
