/**
 * The Stripe adapter against a local stand-in for Stripe's HTTP API (the official `stripe` package makes the
 * requests; the stand-in answers as Stripe's API reference documents): the calls the webhook and the checkout
 * paths rely on, including Stripe's error answers.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { StripePaymentProvider } from "../../src/services/payments/stripeProvider";

interface Seen {
  method: string;
  path: string;
  body: string;
  idempotencyKey: string | undefined;
}

const seen: Seen[] = [];
let answer: (req: Seen) => { status: number; body: unknown } = () => ({ status: 500, body: {} });
let server: http.Server;
let provider: StripePaymentProvider;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const r: Seen = {
        method: req.method ?? "",
        path: req.url ?? "",
        body: decodeURIComponent(body),
        idempotencyKey: req.headers["idempotency-key"] as string | undefined,
      };
      seen.push(r);
      const { status, body: out } = answer(r);
      res.writeHead(status, { "content-type": "application/json", "request-id": "req_test" });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  provider = new StripePaymentProvider(() => "sk_test_standin", {
    host: "127.0.0.1",
    port,
    protocol: "http",
  });
});
afterAll(async () => {
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});
beforeEach(() => {
  seen.length = 0;
});

const missing = (param: string) => ({
  status: 404,
  body: {
    error: { type: "invalid_request_error", code: "resource_missing", param, message: "No such object" },
  },
});

describe("findPayment", () => {
  it("a payment intent: its metadata; a missing one (another account): null", async () => {
    answer = (r) =>
      r.path === "/v1/payment_intents/pi_ours"
        ? {
            status: 200,
            body: { id: "pi_ours", object: "payment_intent", metadata: { uid: "u1", courseId: "c1" } },
          }
        : missing("intent");
    expect(await provider.findPayment("pi_ours")).toEqual({
      paymentId: "pi_ours",
      metadata: { uid: "u1", courseId: "c1" },
    });
    expect(await provider.findPayment("pi_elsewhere")).toBeNull();
  });

  it("a charge id: the charge's payment intent and its metadata (the charge's own when it has none)", async () => {
    answer = (r) => {
      if (r.path === "/v1/charges/ch_1")
        return { status: 200, body: { id: "ch_1", object: "charge", payment_intent: "pi_1", metadata: {} } };
      if (r.path === "/v1/charges/ch_2")
        return {
          status: 200,
          body: { id: "ch_2", object: "charge", payment_intent: null, metadata: { uid: "u2" } },
        };
      if (r.path === "/v1/payment_intents/pi_1")
        return {
          status: 200,
          body: { id: "pi_1", object: "payment_intent", metadata: { uid: "u1", courseId: "c1" } },
        };
      return missing("id");
    };
    expect(await provider.findPayment("ch_1")).toEqual({
      paymentId: "pi_1",
      metadata: { uid: "u1", courseId: "c1" },
    });
    expect(await provider.findPayment("ch_2")).toEqual({ paymentId: "ch_2", metadata: { uid: "u2" } });
    expect(seen.map((r) => r.path)).toEqual([
      "/v1/charges/ch_1",
      "/v1/payment_intents/pi_1",
      "/v1/charges/ch_2",
    ]);
  });

  it("a Stripe outage is a transient provider error (the webhook answers 500 and Stripe retries)", async () => {
    answer = () => ({ status: 500, body: { error: { type: "api_error", message: "boom" } } });
    await expect(provider.findPayment("pi_x")).rejects.toMatchObject({
      name: "ProviderError",
      transient: true,
    });
  });
});

describe("listEvents", () => {
  it("GET /v1/events with the types, the creation range (seconds) and the cursor; has_more names the next cursor", async () => {
    const page = (ids: string[], hasMore: boolean) => ({
      status: 200,
      body: {
        object: "list",
        url: "/v1/events",
        has_more: hasMore,
        data: ids.map((id) => ({ id, object: "event" })),
      },
    });
    answer = (r) =>
      r.path.includes("starting_after=evt_2") ? page(["evt_1"], false) : page(["evt_3", "evt_2"], true);
    const params = {
      types: ["payment_intent.succeeded", "refund.updated"],
      createdFromMs: 1_760_000_000_500,
      createdToMs: 1_760_003_600_500,
      limit: 2,
    };
    const first = await provider.listEvents({ ...params, startingAfter: null });
    expect(first).toEqual({
      events: [
        { id: "evt_3", object: "event" },
        { id: "evt_2", object: "event" },
      ],
      nextCursor: "evt_2",
    });
    const second = await provider.listEvents({ ...params, startingAfter: "evt_2" });
    expect(second.nextCursor).toBeNull();
    const query = new URLSearchParams(decodeURIComponent(seen[0]?.path.split("?")[1] ?? ""));
    expect(seen[0]?.method).toBe("GET");
    // The stripe package sends an array as types[0]=…&types[1]=…
    expect([...query].filter(([key]) => /^types\[\d*\]$/.test(key)).map(([, value]) => value)).toEqual(
      params.types,
    );
    expect(query.get("created[gte]")).toBe("1760000000");
    expect(query.get("created[lt]")).toBe("1760003601");
    expect(query.get("limit")).toBe("2");
    expect(query.has("starting_after")).toBe(false);
    expect(seen[1]?.path).toContain("starting_after=evt_2");
  });
});

describe("retrieveEvent", () => {
  it("GET /v1/events/{id}: the event as Stripe holds it; past its 30-day retention (resource_missing): null", async () => {
    const event = { id: "evt_1", object: "event", type: "payment_intent.succeeded", data: { object: {} } };
    answer = (r) => (r.path === "/v1/events/evt_1" ? { status: 200, body: event } : missing("id"));
    expect(await provider.retrieveEvent("evt_1")).toMatchObject(event);
    expect(await provider.retrieveEvent("evt_expired")).toBeNull();
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /v1/events/evt_1",
      "GET /v1/events/evt_expired",
    ]);
  });

  it("a Stripe outage is a transient provider error", async () => {
    answer = () => ({ status: 500, body: { error: { type: "api_error", message: "boom" } } });
    await expect(provider.retrieveEvent("evt_1")).rejects.toMatchObject({
      name: "ProviderError",
      transient: true,
    });
  });
});

describe("Checkout Sessions", () => {
  it("creates a payment-mode session with the metadata on the session and its payment intent, once per key", async () => {
    answer = () => ({
      status: 200,
      body: {
        id: "cs_test_1",
        object: "checkout.session",
        url: "https://checkout.stripe.com/c/pay/cs_test_1",
        expires_at: 1_800_000_000,
      },
    });
    const created = await provider.createCheckoutSession({
      amount: 4900,
      currency: "usd",
      idempotencyKey: "chk_1",
      metadata: { uid: "u1", courseId: "c1", checkoutId: "chk_1" },
      successUrl: "https://app.example.com/paid",
      cancelUrl: "https://app.example.com/c1",
      description: "Intro",
    });
    expect(created).toEqual({
      sessionId: "cs_test_1",
      url: "https://checkout.stripe.com/c/pay/cs_test_1",
      expiresAtMs: 1_800_000_000_000,
    });
    const [request] = seen;
    expect(request).toMatchObject({ method: "POST", path: "/v1/checkout/sessions", idempotencyKey: "chk_1" });
    for (const field of [
      "mode=payment",
      "line_items[0][price_data][unit_amount]=4900",
      "line_items[0][price_data][currency]=usd",
      "payment_intent_data[metadata][checkoutId]=chk_1",
      "metadata[uid]=u1",
      "client_reference_id=chk_1",
      "success_url=https://app.example.com/paid",
    ])
      expect(request?.body).toContain(field);
  });

  it("expire: canceled; a session already completed is not (Stripe refuses and the session says complete)", async () => {
    answer = (r) =>
      r.path === "/v1/checkout/sessions/cs_open/expire"
        ? { status: 200, body: { id: "cs_open", object: "checkout.session", status: "expired" } }
        : r.path === "/v1/checkout/sessions/cs_done/expire"
          ? {
              status: 400,
              body: {
                error: {
                  type: "invalid_request_error",
                  message: "Only Checkout Sessions with a status of open can be expired.",
                },
              },
            }
          : { status: 200, body: { id: "cs_done", object: "checkout.session", status: "complete" } };
    expect(await provider.expireCheckoutSession({ sessionId: "cs_open", idempotencyKey: "k1" })).toEqual({
      canceled: true,
    });
    expect(await provider.expireCheckoutSession({ sessionId: "cs_done", idempotencyKey: "k2" })).toEqual({
      canceled: false,
      status: "complete",
    });
  });
});
