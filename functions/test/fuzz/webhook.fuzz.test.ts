/**
 * Fuzzing paymentWebhook with fast-check, against the real onRequest handler and the local Firestore.
 *
 * 1. Arbitrary requests: any method; bodies that are real events, mutated events (wrong types, negative, zero,
 *    fractional and huge amounts, unicode and oversized strings, `__proto__` keys, deep nesting), arbitrary JSON,
 *    text, bytes, empty or over the size limit; signature headers that are missing, garbage, random hex, made with
 *    the wrong secret, made for a different body, stale, future, or a genuine header with extra elements spliced
 *    in (a current `t=` in front of a future-dated signature, random `v1`s, …). The expected answer comes from
 *    oracles written from the README and Stripe's documented signing scheme: 405 for non-POST; 400 unless the
 *    header carries a genuine signature of this very body made within ±300 s; then, for a real event, 200 with its
 *    outcome (applied, noop, ignored, parked, dead-lettered); 400 for a mutation that breaks the event's documented
 *    shape (hostile keys, nesting, bad ids, amounts that are not integer cents…); 200 or 400 for anything else. A
 *    refund or dispute about one of our payments not recorded yet (made outside startPayment, held by the
 *    provider) is `parked`, writing only its parked event; one about a payment the provider does not hold for us
 *    is `ignored`, writing only its event record. No 5xx (no fault is injected), never an exception; every
 *    non-200 or `duplicate` answer leaves the database exactly as it was, and every applied one passes the ledger
 *    audit.
 * 2. Timestamps around the tolerance: through the handler with a safety margin around ±300 s for clock ticks, and
 *    exactly at the boundary through handleWebhook with a fixed receive time.
 * 3. Replays: a random history of provider events for several enrollments (payments, failures, refunds seen as
 *    pending then settled, charge.refunded lists, disputes won and lost, irrelevant types, events that must be
 *    dead-lettered), each delivered 1–3 times, shuffled, in concurrent batches, interleaved with forged
 *    deliveries. Refunds and disputes (no metadata) may overtake their payment and are then parked; the sweep, run
 *    after everything else as the schedule would, applies those whose payment arrived; if it never arrives they
 *    stay parked and are never recorded. Afterwards each enrollment's ledger is exactly the model's (every applicable provider id once:
 *    nothing lost, nothing doubled), totals equal the ledger, dead letters are exactly the bad events, and one
 *    more delivery of every event is a duplicate costing at most one read and no writes.
 */
import fc from "fast-check";
import { createHmac } from "node:crypto";
import { paymentWebhook } from "../../src/functions/paymentWebhook";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import {
  chargeRefundedEvent,
  disputeEvent,
  paymentFailedEvent,
  paymentSucceededEvent,
  refundEvent,
  signPayload,
  type LocalPaymentView,
  type LocalRefundView,
  type StripeEventJson,
} from "../../src/services/payments/local/localEvents";
import { LocalPaymentProvider, localPaymentView } from "../../src/services/payments/local/localProvider";
import { HANDLED_EVENT_TYPES } from "../../src/schemas/webhook";
import { invokeRequestHandler, type RequestHandlerLike } from "../../src/testing/kit";
import { MAX_BODY_BYTES, handleWebhook } from "../../src/services/webhookService";
import { sweepParkedEvents } from "../../src/services/webhookCommandService";
import { firestore } from "../../src/shared/admin";
import {
  call,
  countDocs,
  createCourse,
  enroll,
  providerHolds,
  readDoc,
  startPayment,
} from "../support/harness";
import { TEST_WEBHOOK_SECRET, useLocalFirestore } from "../support/localFirestore";
import {
  FuzzDb,
  HOSTILE_NUMBERS,
  HOSTILE_STRINGS,
  MAX_AMOUNT_CENTS,
  assertFuzz,
  auditEnrollments,
  loneSurrogateString,
  nest,
  runs,
} from "./fuzzSupport";

const lf = useLocalFirestore();
const db = new FuzzDb(lf.server);
const TOLERANCE_S = 300;

// ------------------------------------------------------------------------------------------------ fixture

/** A payment of the fixture, as the provider knows it. */
interface FixturePayment {
  key: string;
  view: LocalPaymentView;
  enrollment: string;
}

let payments: FixturePayment[];
/**
 * A payment made outside startPayment (no checkout names it): its refunds and disputes, which carry no
 * metadata, find the enrollment only through its ledger entry. Held by the provider, not recorded in the fixture.
 */
let directPayment: FixturePayment;
/**
 * A payment made outside startPayment and recorded in the fixture (its succeeded event applied): the payment the
 * single-request properties refund and dispute, since refunds and disputes apply only to a payment in the ledger.
 */
let recordedPayment: FixturePayment;
/** A payment of something else on the same provider account: held by the provider without our metadata. */
let foreignPayment: LocalPaymentView;
/** Payments whose events can never apply (dead letters). */
let badPayments: { key: string; view: LocalPaymentView; reason: string }[];

/**
 * c1 (1000 usd) and c2 (500 usd); s1 in c1 and c2, s2 in c1. Four provider payments made through startPayment
 * (so each has a checkout naming it): A s1/c1 300, B s1/c1 400, C s2/c1 1000, D s1/c2 500. The provider does
 * not deliver anything: the tests decide what arrives, when and how often.
 */
async function buildFixture(): Promise<void> {
  const provider = new LocalPaymentProvider({ webhookSecret: () => TEST_WEBHOOK_SECRET });
  setPaymentProviderForTesting(provider);
  await createCourse("c1", 1000);
  await createCourse("c2", 500);
  await enroll("s1", "c1");
  await enroll("s1", "c2");
  await enroll("s2", "c1");
  const start = async (key: string, uid: string, courseId: string, requestId: string, amount?: number) => {
    const started = await call(
      startPayment,
      { uid },
      { courseId, requestId, ...(amount === undefined ? {} : { amount }) },
    );
    const doc = await provider.load(started.paymentId);
    return { key, view: localPaymentView(doc), enrollment: `users/${uid}/courses/${courseId}` };
  };
  payments = [
    await start("A", "s1", "c1", "req-wh-00000001", 300),
    await start("B", "s1", "c1", "req-wh-00000002", 400),
    await start("C", "s2", "c1", "req-wh-00000003"),
    await start("D", "s1", "c2", "req-wh-00000004"),
  ];
  const fake = (id: string, metadata: Record<string, string>, currency = "usd"): LocalPaymentView => ({
    id,
    chargeId: `ch_${id}`,
    amount: 700,
    currency,
    metadata,
    refunds: [],
  });
  directPayment = {
    key: "E",
    view: fake("pi_direct_E", { uid: "s2", courseId: "c1" }),
    enrollment: "users/s2/courses/c1",
  };
  recordedPayment = {
    key: "F",
    view: fake("pi_recorded_F", { uid: "s1", courseId: "c2" }),
    enrollment: "users/s1/courses/c2",
  };
  foreignPayment = fake("pi_foreign", { order: "shop-1" });
  // The provider holds every payment its events are about (the webhook asks it whose an early refund concerns).
  for (const view of [directPayment.view, recordedPayment.view, foreignPayment]) await providerHolds(view);
  const recorded = await deliver(paymentSucceededEvent(recordedPayment.view, "evt_fixture_recorded_F"));
  if (recorded.body?.outcome !== "applied") throw new Error("fixture: payment F not applied");
  badPayments = [
    { key: "ghost", view: fake("pi_ghost", { uid: "ghost", courseId: "c1" }), reason: "unknown-enrollment" },
    { key: "nometa", view: fake("pi_nometa", {}), reason: "metadata-missing" },
    { key: "badmeta", view: fake("pi_badmeta", { uid: "a/b", courseId: "c1" }), reason: "metadata-invalid" },
    {
      key: "surrogate",
      view: fake("pi_surrogate", { uid: "s1\ud800", courseId: "c1" }),
      reason: "metadata-invalid",
    },
    { key: "eur", view: fake("pi_eur", { uid: "s1", courseId: "c1" }, "eur"), reason: "currency-mismatch" },
  ];
}

beforeEach(async () => {
  await buildFixture();
  await db.saveFixture();
}, 30_000);

afterAll(async () => {
  setPaymentProviderForTesting(undefined);
  await db.close();
});

// --------------------------------------------------------------------------------------------- requests

interface Reply {
  status: number;
  body: { received?: boolean; outcome?: string; error?: string } | undefined;
}

/** Calls the deployed onRequest handler with a fake request (any method, any header value, raw bytes). */
async function post(method: string, rawBody: Buffer | undefined, signature: unknown): Promise<Reply> {
  const reply = await invokeRequestHandler(paymentWebhook as unknown as RequestHandlerLike, {
    method,
    headers: signature === undefined ? {} : { "stripe-signature": signature },
    ...(rawBody === undefined ? {} : { rawBody }),
  });
  return reply as Reply;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const sign = (body: string, timestamp: number, secret = TEST_WEBHOOK_SECRET): Promise<string> =>
  signPayload(body, secret, timestamp);

async function deliver(event: StripeEventJson): Promise<Reply> {
  const body = JSON.stringify(event);
  return post("POST", Buffer.from(body), await sign(body, nowSeconds()));
}

// ----------------------------------------------------------------------------------- events and bodies

const withId = (event: StripeEventJson, id: string): StripeEventJson => ({ ...event, id });

/** A valid event of the fixture (any handled or ignored type), with a fresh event id. */
/** README outcome of each kind of valid event against the fresh fixture. */
const OUTCOME_OF_KIND: Record<string, string> = {
  succeeded: "applied",
  failed: "noop",
  "charge.refunded": "applied",
  "refund.created": "applied",
  "dispute.created": "applied",
  "dispute.closed": "applied",
  ignored: "ignored",
  bad: "dead-lettered",
  // A signed payment naming a fixture checkout that is not its own (other amount, user or payment id).
  mismatch: "dead-lettered",
  // A refund of one of our payments (held by the provider) that is not recorded yet: parked until it is.
  waiting: "parked",
  // A refund of a payment the provider does not hold for this backend: not ours.
  foreign: "ignored",
};

type Expectation = { status: 200; outcome: string } | { status: 400 };
const expectationOf = (outcome: string): Expectation => ({ status: 200, outcome });

/** A valid event of the fixture with the outcome it must get. */
function arbValidCase(): fc.Arbitrary<{ event: StripeEventJson; outcome: string }> {
  return fc
    .record({
      which: fc.nat(),
      kind: fc.constantFrom(
        "succeeded",
        "failed",
        "charge.refunded",
        "refund.created",
        "dispute.created",
        "dispute.closed",
        "ignored",
        "bad",
        "mismatch",
        "waiting",
        "foreign",
      ),
      n: fc.integer({ min: 1, max: 999_999 }),
    })
    .map(({ which, kind, n }) => ({
      event: validEvent(which, kind, n),
      outcome: OUTCOME_OF_KIND[kind] ?? "?",
    }));
}

function validEvent(which: number, kind: string, n: number): StripeEventJson {
  // Payments and failures name a fixture checkout; refunds and disputes concern the recorded payment.
  const p =
    kind.includes("refund") || kind.includes("dispute")
      ? recordedPayment
      : (payments[which % payments.length] as FixturePayment);
  const id = `evt_fuzz_${kind.replace(/\W/g, "_")}_${n}`;
  const refund: LocalRefundView = { id: `re_fuzz_${n}`, amount: 100, status: "succeeded" };
  switch (kind) {
    case "succeeded":
      return paymentSucceededEvent(p.view, id);
    case "failed":
      return paymentFailedEvent(p.view, id);
    case "charge.refunded":
      return chargeRefundedEvent({ ...p.view, refunds: [refund] }, id);
    case "refund.created":
      return refundEvent(p.view, refund, "refund.created", id);
    case "dispute.created":
      return disputeEvent(
        p.view,
        { id: `dp_fuzz_${n}`, amount: 100, status: "needs_response" },
        "charge.dispute.created",
        id,
      );
    case "dispute.closed":
      return disputeEvent(
        p.view,
        { id: `dp_fuzz_${n}`, amount: 100, status: "lost" },
        "charge.dispute.closed",
        id,
      );
    case "mismatch": {
      const variant = n % 3;
      return paymentSucceededEvent(
        {
          ...p.view,
          id: variant === 2 ? `pi_other_${n}` : p.view.id,
          amount: variant === 0 ? p.view.amount + 1 + (n % 500) : p.view.amount,
          // Another enrolled student of c1 than the checkout's.
          metadata: {
            ...p.view.metadata,
            ...(variant === 1 ? { uid: p.view.metadata.uid === "s1" ? "s2" : "s1", courseId: "c1" } : {}),
          },
        },
        id,
      );
    }
    case "waiting":
      return refundEvent(directPayment.view, { ...refund, metadata: {} }, "refund.created", id);
    case "foreign":
      return refundEvent(foreignPayment, { ...refund, metadata: {} }, "refund.created", id);
    case "ignored":
      return {
        ...paymentSucceededEvent(p.view, id),
        type: "customer.created",
        data: { object: { id: "cus_1" } },
      };
    default: {
      const bad = badPayments[which % badPayments.length];
      return paymentSucceededEvent(bad?.view ?? p.view, id);
    }
  }
}

/** Hostile values for a field of a handled event. */
const arbHostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...HOSTILE_NUMBERS.filter(Number.isFinite)),
  fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s.length < 1000)),
  fc.constantFrom<unknown>(
    null,
    true,
    [],
    {},
    "x".repeat(300_000),
    -1,
    0,
    0.5,
    MAX_AMOUNT_CENTS + 1,
    2 ** 53 + 2,
    "100",
  ),
  loneSurrogateString,
  fc.jsonValue({ maxDepth: 2 }),
);

type Path = readonly string[];
const EVENT_PATHS: readonly Path[] = [
  ["id"],
  ["object"],
  ["type"],
  ["created"],
  ["livemode"],
  ["data"],
  ["data", "object"],
  ["data", "object", "id"],
  ["data", "object", "object"],
  ["data", "object", "amount"],
  ["data", "object", "amount_received"],
  ["data", "object", "currency"],
  ["data", "object", "status"],
  ["data", "object", "metadata"],
  ["data", "object", "metadata", "uid"],
  ["data", "object", "metadata", "courseId"],
  ["data", "object", "metadata", "checkoutId"],
  ["data", "object", "payment_intent"],
  ["data", "object", "charge"],
  ["data", "object", "refunds"],
  ["data", "object", "refunds", "data"],
];

function setPath(value: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string, ...string[]];
  const base = typeof value === "object" && value !== null && !Array.isArray(value) ? { ...value } : {};
  return { ...base, [head]: setPath((base as Record<string, unknown>)[head], rest, replacement) };
}

interface Body {
  text: Buffer | undefined;
  /**
   * What a genuinely signed delivery of this body must get (README); null when either 200 or 400 is right.
   */
  expect: Expectation | null;
  label: string;
}

const isPlainObject = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v);
const isCents = (v: unknown): boolean =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= MAX_AMOUNT_CENTS;
const HANDLED: ReadonlySet<string> = new Set(HANDLED_EVENT_TYPES);

/** README: which mutations make a signed body malformed (400), whatever the rest says. */
function mutationMustFail(event: StripeEventJson, how: string, path: Path, value: unknown): boolean {
  if (how === "proto" || how === "nest") return true; // hostile keys outside metadata; nesting beyond any event's
  const at = path.join(".");
  const envelope = ["id", "object", "type", "data", "data.object"];
  if (how === "delete") return envelope.includes(at);
  if (at === "id") return typeof value !== "string" || !/^[A-Za-z0-9_]{3,128}$/.test(value);
  if (at === "object") return value !== "event";
  if (at === "type") return typeof value !== "string" || value.length === 0 || value.length > 100;
  if (at === "data") return !isPlainObject(value) || !isPlainObject((value as { object?: unknown }).object);
  if (at === "data.object") return !isPlainObject(value) && true;
  if (at === "data.object.amount") return HANDLED.has(event.type) && !isCents(value);
  if (at === "data.object.currency")
    return HANDLED.has(event.type) && !(typeof value === "string" && /^[a-z]{3}$/.test(value));
  return false;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A mutated event as JSON text: one field replaced, deleted, or a hostile key spliced in. */
function arbMutatedBody(): fc.Arbitrary<Body> {
  return fc
    .tuple(
      arbValidCase(),
      fc.constantFrom(...EVENT_PATHS),
      arbHostileValue,
      fc.constantFrom("set", "delete", "proto", "nest"),
    )
    .map(([{ event, outcome }, path, value, how]) => {
      let text: string;
      if (how === "set") text = JSON.stringify(setPath(event, path, value));
      else if (how === "delete") text = JSON.stringify(setPath(event, path, undefined));
      else if (how === "nest") text = JSON.stringify(setPath(event, path, nest(value, 40, true)));
      else {
        const key = ["__proto__", "constructor", "prototype"][path.length % 3] ?? "__proto__";
        text = JSON.stringify(event).replace(/"metadata":\{/, `"metadata":{"${key}":{"admin":true},`);
        if (!text.includes(`"${key}"`)) text = text.replace(/^\{/, `{"${key}":{"polluted":true},`);
      }
      const unchanged = text === JSON.stringify(event);
      // README: metadata keys are data — any key there is dropped unread, so a hostile key in metadata changes
      // nothing (the event is answered as without it); anywhere else it makes the body malformed (400). A metadata
      // object replaced by deep nesting loses every key but the ones read: either answer may be right.
      const intoMetadata =
        how === "proto" &&
        isJson(text) &&
        !text.startsWith('{"__proto__"') &&
        !/^\{"(constructor|prototype)"/.test(text);
      const expect: Body["expect"] =
        unchanged || intoMetadata
          ? expectationOf(outcome)
          : how === "nest" && path[path.length - 1] === "metadata"
            ? null
            : mutationMustFail(event, how, path, value)
              ? { status: 400 }
              : null;
      return { text: Buffer.from(text), expect, label: `${how} ${path.join(".")}` };
    });
}

const arbBody: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 5,
    arbitrary: arbValidCase().map(({ event, outcome }): Body => ({
      text: Buffer.from(JSON.stringify(event)),
      expect: expectationOf(outcome),
      label: `event ${event.type}`,
    })),
  },
  { weight: 5, arbitrary: arbMutatedBody() },
  {
    weight: 1,
    arbitrary: fc
      .jsonValue({ maxDepth: 4 })
      .map((v): Body => ({ text: Buffer.from(JSON.stringify(v)), expect: null, label: "json" })),
  },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: "binary", maxLength: 200 })
      .map((s): Body => ({ text: Buffer.from(s), expect: null, label: "text" })),
  },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ maxLength: 300 })
      .map((b): Body => ({ text: Buffer.from(b), expect: null, label: "bytes" })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Body>(
      { text: undefined, expect: null, label: "no body" },
      { text: Buffer.alloc(0), expect: null, label: "empty body" },
      {
        text: Buffer.from(`{"id":"evt_big","pad":"${"x".repeat(MAX_BODY_BYTES)}"}`),
        expect: { status: 400 },
        label: "over the size limit",
      },
      {
        text: Buffer.from(`${"[".repeat(100_000)}1${"]".repeat(100_000)}`),
        expect: { status: 400 },
        label: "100000 deep",
      },
      {
        text: Buffer.from(`${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`),
        expect: { status: 400 },
        label: "50000 deep",
      },
      { text: Buffer.from("\ufeff{}"), expect: null, label: "BOM" },
    ),
  },
);

// ---------------------------------------------------------------------------------------------- headers

type SignatureKind =
  | "none"
  | "garbage"
  | "random-hex"
  | "wrong-secret"
  | "other-body"
  | "stale"
  | "future"
  | "fresh"
  | "fresh-spliced"
  | "future-spliced"
  | "stale-spliced"
  | "array";

interface SignatureSpec {
  kind: SignatureKind;
  /** Seconds from now at which the genuine signature (if any) was made. */
  offset: number;
  /** For spliced headers: an element put before or after the genuine header (`NOW`: the current second). */
  splice: { where: "before" | "after"; element: string } | null;
  junk: string;
}

const arbHex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));

const arbSignatureSpec: fc.Arbitrary<SignatureSpec> = fc
  .record({
    kind: fc.oneof(
      { weight: 12, arbitrary: fc.constant<SignatureKind>("fresh") },
      {
        weight: 11,
        arbitrary: fc.constantFrom<SignatureKind>(
          "none",
          "garbage",
          "random-hex",
          "wrong-secret",
          "other-body",
          "stale",
          "future",
          "fresh-spliced",
          "future-spliced",
          "stale-spliced",
          "array",
        ),
      },
    ),
    stale: fc.integer({ min: TOLERANCE_S + 2, max: 10 ** 7 }),
    fresh: fc.integer({ min: -(TOLERANCE_S - 2), max: TOLERANCE_S - 2 }),
    spliceWhere: fc.constantFrom<"before" | "after">("before", "after"),
    spliceKind: fc.constantFrom("t-now", "t-zero", "t-junk", "v1-hex", "v0-hex", "empty", "space-t-now"),
    hex: arbHex,
    junk: fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom("t=,v1=", "t=abc,v1=", "v1=", ",,,", "t=1e3,v1=00", "x".repeat(5000)),
    ),
  })
  .map(({ kind, stale, fresh, spliceWhere, spliceKind, hex, junk }) => {
    const offset =
      kind === "stale" || kind === "stale-spliced"
        ? -stale
        : kind === "future" || kind === "future-spliced"
          ? stale
          : fresh;
    const element = {
      "t-now": "t=NOW",
      "t-zero": "t=0",
      "t-junk": "t=12abc",
      "v1-hex": `v1=${hex}`,
      "v0-hex": `v0=${hex}`,
      empty: "",
      "space-t-now": " t=NOW",
    }[spliceKind];
    const splice = kind.endsWith("-spliced") ? { where: spliceWhere, element } : null;
    return { kind, offset, splice, junk };
  });

async function header(spec: SignatureSpec, body: Buffer | undefined): Promise<unknown> {
  const text = body?.toString("utf8") ?? "";
  const at = nowSeconds() + spec.offset;
  switch (spec.kind) {
    case "none":
      return undefined;
    case "garbage":
      return spec.junk;
    case "random-hex":
      return `t=${at},v1=${spec.junk.length % 2 === 0 ? "0".repeat(64) : Buffer.from(spec.junk).toString("hex").slice(0, 64)}`;
    case "wrong-secret":
      return sign(text, at, "whsec_not_the_secret");
    case "other-body":
      return sign(`${text} `, at);
    case "array":
      return [await sign(text, at), await sign(text, at)];
    default: {
      const genuine = await sign(text, at);
      if (spec.splice === null) return genuine;
      const element = spec.splice.element.replace("NOW", String(nowSeconds()));
      return spec.splice.where === "before" ? `${element},${genuine}` : `${genuine},${element}`;
    }
  }
}

/**
 * Oracle (README + Stripe's documented scheme, re-implemented with node:crypto): the header is a list of
 * comma-separated `key=value` elements; its timestamp is the `t` element (the last one, if a forger repeats it);
 * it is accepted when one `v1` element is the HMAC-SHA256, keyed by the webhook secret, of `${t}.${body}`, and
 * `t` is within ±300 s of now. The body must be present and at most 512 KiB; the header a string of 1–4096 chars.
 */
function oracleAccepts(signature: unknown, body: Buffer | undefined): boolean {
  if (body === undefined || body.length === 0 || body.length > MAX_BODY_BYTES) return false;
  if (typeof signature !== "string" || signature.length === 0 || signature.length > 4096) return false;
  const elements = signature.split(",").map((item): [string, string] => {
    const eq = item.indexOf("=");
    return eq < 0 ? [item, ""] : [item.slice(0, eq), item.slice(eq + 1)];
  });
  const t = elements.filter(([k]) => k === "t").pop()?.[1];
  if (t === undefined || !/^\d{1,12}$/.test(t)) return false;
  const expected = createHmac("sha256", TEST_WEBHOOK_SECRET)
    .update(`${t}.${body.toString("utf8")}`)
    .digest("hex");
  if (!elements.some(([k, v]) => k === "v1" && v === expected)) return false;
  return Math.abs(Number(t) - nowSeconds()) <= TOLERANCE_S;
}

// --------------------------------------------------------------------------------- property 1: requests

/**
 * What an accepted answer that moves no money writes: an ignored event of a handled type (a payment that is not
 * ours) its record; a parked event itself and, when its owner's enrollment exists, that enrollment's
 * `parkedEvents` count (nothing else of it: checked by the caller). Null: nothing at all (a duplicate, an
 * unhandled type). Undefined: the answer may move money (checked by the ledger audit instead).
 */
async function onlyWrites(
  outcome: string | undefined,
  text: Buffer | undefined,
): Promise<string[] | null | undefined> {
  if (outcome === "duplicate") return null;
  if (outcome !== "ignored" && outcome !== "parked") return undefined;
  const event = JSON.parse(text?.toString("utf8") ?? "{}") as { id?: unknown; type?: unknown };
  if (outcome === "ignored")
    return typeof event.type === "string" && HANDLED.has(event.type)
      ? [`created webhookEvents/${String(event.id)}`]
      : null;
  const parked = await readDoc(`parkedEvents/${String(event.id)}`);
  const owner = parked?.owner as { uid: string; courseId: string } | undefined;
  if (owner === undefined) return [`created parkedEvents/${String(event.id)}`];
  const enrollment = `users/${owner.uid}/courses/${owner.courseId}`;
  // The count is raised exactly when the owner's enrollment exists (it is never created by a park).
  if ((parked?.counted === true) !== ((await readDoc(enrollment)) !== undefined))
    throw new Error(
      `parkedEvents/${String(event.id)}: counted = ${String(parked?.counted)} for ${enrollment}`,
    );
  return [
    `created parkedEvents/${String(event.id)}`,
    ...(parked?.counted === true ? [`changed ${enrollment}`] : []),
  ];
}

async function checkRequest(method: string, body: Body, spec: SignatureSpec): Promise<string> {
  await db.restoreFixture();
  const before = await db.mark();
  const signature = await header(spec, body.text);
  const reply = await post(method, body.text, signature);
  const context = `${method} ${body.label} with ${spec.kind}${spec.splice ? ` (${spec.splice.where} "${spec.splice.element}")` : ""} offset ${spec.offset}s → ${reply.status} ${JSON.stringify(reply.body)}`;

  let expected: string;
  if (method !== "POST") expected = "405";
  else if (!oracleAccepts(signature, body.text)) expected = "400";
  else if (body.expect === null) expected = "200 or 400";
  else expected = body.expect.status === 200 ? `200 ${body.expect.outcome}` : "400";
  const outcome = reply.body?.outcome;
  const got = reply.status === 200 ? `200 ${outcome ?? ""}` : String(reply.status);
  const ok = expected === "200 or 400" ? reply.status === 200 || reply.status === 400 : got === expected;
  if (!ok) throw new Error(`${context}; expected ${expected}`);

  const only = reply.status === 200 ? await onlyWrites(outcome, body.text) : null;
  if (only === null) {
    await db.expectUnchangedSince(before, context);
  } else if (only !== undefined) {
    await db.expectOnlySince(before, only, context);
    const enrollment = only.find((change) => change.startsWith("changed users/"));
    if (enrollment !== undefined) {
      const path = enrollment.slice("changed ".length);
      expect(await db.fieldsChangedSince(before, path)).toEqual(["parkedEvents"]);
      expect(await readDoc(path)).toMatchObject({ parkedEvents: 1 });
    }
  } else {
    expect(["applied", "noop", "dead-lettered"]).toContain(outcome);
    await auditEnrollments(db);
  }
  return reply.status === 200 ? `200 ${outcome ?? ""}` : String(reply.status);
}

describe("arbitrary requests", () => {
  it("405 for non-POST, 400 unless genuinely signed within ±300 s and well-formed, 200 otherwise", async () => {
    const tally = new Map<string, number>();
    const arbMethod = fc.oneof(
      { weight: 9, arbitrary: fc.constant("POST") },
      {
        weight: 1,
        arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "post", ""),
      },
    );
    await assertFuzz(
      "webhook requests",
      fc.asyncProperty(arbMethod, arbBody, arbSignatureSpec, async (method, body, spec) => {
        const kind = await checkRequest(method, body, spec);
        tally.set(kind, (tally.get(kind) ?? 0) + 1);
      }),
      runs(200),
    );
    process.stdout.write(
      `[fuzz] webhook requests: ${[...tally]
        .sort()
        .map(([k, n]) => `${k} ×${n}`)
        .join(", ")}\n`,
    );
    for (const kind of ["405", "400", "200 applied", "200 ignored", "200 dead-lettered"]) {
      expect({ kind, seen: tally.has(kind) }).toEqual({ kind, seen: true });
    }
  }, 120_000);
});

// -------------------------------------------------------------------------------- property 2: timestamps

describe("signature timestamps", () => {
  it("accepts −300…+300 s and refuses anything older or newer, exactly at the boundary", async () => {
    const arbOffset = fc.oneof(
      fc.integer({ min: -TOLERANCE_S - 3, max: -TOLERANCE_S + 3 }),
      fc.integer({ min: TOLERANCE_S - 3, max: TOLERANCE_S + 3 }),
      fc.integer({ min: -(10 ** 6), max: 10 ** 6 }),
      fc.constantFrom(0, -TOLERANCE_S, TOLERANCE_S, -TOLERANCE_S - 1, TOLERANCE_S + 1),
    );
    await assertFuzz(
      "webhook timestamps",
      fc.asyncProperty(
        arbValidCase(),
        arbOffset,
        fc.integer({ min: 0, max: 999 }),
        fc.boolean(),
        async ({ event, outcome }, offset, ms, viaHandler) => {
          await db.restoreFixture();
          const before = await db.mark();
          const body = JSON.stringify(event);
          const accepted = offset >= -TOLERANCE_S && offset <= TOLERANCE_S;
          let status: number;
          if (viaHandler) {
            // The deployed handler reads the clock itself: keep 2 s away from the boundary for clock ticks.
            if (Math.abs(Math.abs(offset) - TOLERANCE_S) < 2) return;
            status = (await post("POST", Buffer.from(body), await sign(body, nowSeconds() + offset))).status;
          } else {
            // The same logic with a fixed receive time: exact at the boundary, at any millisecond of the second.
            const t0 = nowSeconds();
            const reply = await handleWebhook(
              { method: "POST", rawBody: Buffer.from(body), signature: await sign(body, t0 + offset) },
              { secrets: [TEST_WEBHOOK_SECRET], source: "local", livemode: false, nowMs: t0 * 1000 + ms },
            );
            status = reply.status;
          }
          const context = `offset ${offset}s (+${ms} ms, ${viaHandler ? "handler" : "fixed clock"}) → ${status}`;
          const want = accepted ? expectationOf(outcome).status : 400;
          if (status !== want) throw new Error(`${context}; expected ${want}`);
          if (status !== 200) await db.expectUnchangedSince(before, context);
        },
      ),
      runs(80),
    );
  }, 120_000);
});

// ----------------------------------------------------------------------------------- property 3: replays

interface Happening {
  event: StripeEventJson;
  /** The dead letter's reason, for events that can never apply. */
  deadLetterReason?: string;
  /** What it does to the ledger, per the README: entries it applies (id → [enrollment, amount]). */
  entries: { id: string; enrollment: string; amount: number }[];
  deadLetter: boolean;
  ignored: boolean;
  /** Answered `ignored` and recorded (a refund of a payment that is not ours). */
  foreign?: boolean;
  /** Finds its enrollment only through its payment's ledger entry: parked while that is not recorded. */
  waitsForPayment?: boolean;
  /** Its payment is never recorded: parked every time, never recorded, nothing else written. */
  neverAccepted?: boolean;
}

interface RefundPlan {
  amount: number;
  first: "pending" | "succeeded";
  final: "pending" | "succeeded" | "failed" | "canceled";
  viaList: boolean;
}

interface PaymentPlan {
  succeededEvents: number;
  failed: boolean;
  refunds: RefundPlan[];
  dispute: { created: boolean; closed: "won" | "lost" | null } | null;
}

/**
 * Refunds (at most 3 × 50) plus a lost dispute (100) stay within the smallest fixture payment (300), so every
 * delivery order gives the same entries; what exceeds a payment is tested in test/security.
 */
const DISPUTE_CENTS = 100;

const arbRefundPlan: fc.Arbitrary<RefundPlan> = fc.record({
  amount: fc.integer({ min: 1, max: 50 }),
  first: fc.constantFrom<"pending" | "succeeded">("pending", "succeeded"),
  final: fc.constantFrom<RefundPlan["final"]>("pending", "succeeded", "succeeded", "failed", "canceled"),
  viaList: fc.boolean(),
});

const arbPaymentPlan: fc.Arbitrary<PaymentPlan> = fc.record({
  succeededEvents: fc.integer({ min: 0, max: 2 }),
  failed: fc.boolean(),
  refunds: fc.array(arbRefundPlan, { maxLength: 3 }),
  dispute: fc.option(
    fc.record({ created: fc.boolean(), closed: fc.constantFrom<"won" | "lost" | null>("won", "lost", null) }),
    { nil: null },
  ),
});

/** The events a plan produces, and (README model) the ledger entries they must leave. */
function happeningsOf(p: FixturePayment, plan: PaymentPlan): Happening[] {
  const out: Happening[] = happeningsOfPlan(p, plan);
  // Refunds that move money and disputes find their enrollment only through the payment's own ledger entry
  // (never through metadata or a checkout): parked until the payment is recorded, and for ever if it never is.
  const needsLookup = (h: Happening): boolean => {
    const o = h.event.data.object;
    const list = (o.refunds as { data?: LocalRefundView[] } | undefined)?.data ?? [];
    return (
      h.event.type.startsWith("charge.dispute.") ||
      (h.event.type.startsWith("refund.") && (o.status === "succeeded" || o.status === "failed")) ||
      (h.event.type === "charge.refunded" &&
        list.some((r) => (r.status === "succeeded" || r.status === "failed") && r.amount > 0))
    );
  };
  const recorded = plan.succeededEvents > 0;
  return out.map((h) => {
    if (!needsLookup(h)) return h;
    return recorded
      ? { ...h, waitsForPayment: true }
      : { ...h, entries: [], waitsForPayment: true, neverAccepted: true };
  });
}

function happeningsOfPlan(p: FixturePayment, plan: PaymentPlan): Happening[] {
  const out: Happening[] = [];
  const none = { entries: [], deadLetter: false, ignored: false };
  for (let i = 0; i < plan.succeededEvents; i++) {
    out.push({
      event: paymentSucceededEvent(p.view, `evt_${p.key}_succeeded_${i}`),
      entries: [{ id: p.view.id, enrollment: p.enrollment, amount: p.view.amount }],
      deadLetter: false,
      ignored: false,
    });
  }
  if (plan.failed) out.push({ event: paymentFailedEvent(p.view, `evt_${p.key}_failed`), ...none });
  const refunds: LocalRefundView[] = plan.refunds.map((r, i) => ({
    id: `re_${p.key}_${i}`,
    amount: r.amount,
    status: r.final,
  }));
  // README: a succeeded refund takes its amount; a failed one took it and gave it back (its entry and a reversal).
  const refundEntriesOf = (x: { id: string; amount: number; status: string }) =>
    x.status === "succeeded"
      ? [{ id: x.id, enrollment: p.enrollment, amount: -x.amount }]
      : x.status === "failed"
        ? [
            { id: x.id, enrollment: p.enrollment, amount: -x.amount },
            { id: `${x.id}_reversal`, enrollment: p.enrollment, amount: x.amount },
          ]
        : [];
  plan.refunds.forEach((r, i) => {
    const id = `re_${p.key}_${i}`;
    const createdView: LocalRefundView = { id, amount: r.amount, status: r.first, metadata: {} };
    out.push({
      event: refundEvent(p.view, createdView, "refund.created", `evt_${id}_created`),
      entries: refundEntriesOf(createdView),
      deadLetter: false,
      ignored: false,
    });
    if (r.final !== r.first) {
      out.push({
        event: refundEvent(
          p.view,
          { ...createdView, status: r.final },
          "refund.updated",
          `evt_${id}_updated`,
        ),
        entries: refundEntriesOf({ ...createdView, status: r.final }),
        deadLetter: false,
        ignored: false,
      });
    }
    if (r.viaList) {
      // A legacy charge.refunded listing every refund so far, in its final state.
      const listed = refunds.slice(0, i + 1);
      out.push({
        event: chargeRefundedEvent({ ...p.view, refunds: listed }, `evt_${id}_charge_refunded`),
        entries: listed.flatMap(refundEntriesOf),
        deadLetter: false,
        ignored: false,
      });
    }
  });
  if (plan.dispute !== null) {
    const id = `dp_${p.key}`;
    if (plan.dispute.created) {
      out.push({
        event: disputeEvent(
          p.view,
          { id, amount: DISPUTE_CENTS, status: "needs_response" },
          "charge.dispute.created",
          `evt_${id}_created`,
        ),
        ...none,
      });
    }
    if (plan.dispute.closed !== null) {
      out.push({
        event: disputeEvent(
          p.view,
          { id, amount: DISPUTE_CENTS, status: plan.dispute.closed },
          "charge.dispute.closed",
          `evt_${id}_closed`,
        ),
        entries:
          plan.dispute.closed === "lost" ? [{ id, enrollment: p.enrollment, amount: -DISPUTE_CENTS }] : [],
        deadLetter: false,
        ignored: false,
      });
    }
  }
  return out;
}

type ForgeKind = "tampered" | "wrong-secret" | "stale" | "future" | "future-behind-fresh-t";

interface Scenario {
  /** One per fixture payment, then one for the direct payment. */
  plans: PaymentPlan[];
  bad: boolean[];
  /** A refund of a payment the provider does not hold: not ours, ignored (and recorded). */
  foreignUnknown: boolean;
  ignored: number;
  copies: number[];
  order: number[];
  batches: number[];
  forged: { pick: number; kind: ForgeKind; at: number }[];
}

const arbScenario: fc.Arbitrary<Scenario> = fc.record({
  plans: fc.array(arbPaymentPlan, { minLength: 5, maxLength: 5 }),
  bad: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  foreignUnknown: fc.boolean(),
  ignored: fc.integer({ min: 0, max: 2 }),
  copies: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 40 }),
  order: fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
  batches: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 20 }),
  forged: fc.array(
    fc.record({
      pick: fc.nat(),
      kind: fc.constantFrom<ForgeKind>(
        "tampered",
        "wrong-secret",
        "stale",
        "future",
        "future-behind-fresh-t",
      ),
      at: fc.nat(),
    }),
    { maxLength: 4 },
  ),
});

async function forgedDelivery(event: StripeEventJson, kind: ForgeKind): Promise<() => Promise<Reply>> {
  const body = JSON.stringify(event);
  const now = nowSeconds();
  let text = body;
  let signature: string;
  switch (kind) {
    case "tampered":
      signature = await sign(body, now);
      text = body.replace(/"amount":(\d+)/, (_m, a: string) => `"amount":${String(Number(a) * 10 + 1)}`);
      if (text === body) text = body.replace(/"id":"evt_/, '"id":"evt_forged_');
      break;
    case "wrong-secret":
      signature = await sign(body, now, "whsec_attacker");
      break;
    case "stale":
      signature = await sign(body, now - TOLERANCE_S - 100);
      break;
    case "future":
      signature = await sign(body, now + TOLERANCE_S + 100);
      break;
    case "future-behind-fresh-t":
      signature = `t=${now},${await sign(body, now + TOLERANCE_S + 100)}`;
      break;
  }
  return () => post("POST", Buffer.from(text), signature);
}

describe("replayed, reordered and concurrent deliveries", () => {
  it("every applicable provider id is in its ledger exactly once, whatever arrives how often and in what order", async () => {
    const waitTally = new Map<string, number>();
    await assertFuzz(
      "webhook replays",
      fc.asyncProperty(arbScenario, async (s) => {
        await db.restoreFixture();
        const happenings: Happening[] = [
          ...payments.flatMap((p, i) => happeningsOf(p, s.plans[i] as PaymentPlan)),
          ...happeningsOf(directPayment, s.plans[payments.length] as PaymentPlan),
        ];
        if (s.foreignUnknown) {
          const never = { ...directPayment.view, id: "pi_never", chargeId: "ch_never" };
          happenings.push({
            event: refundEvent(
              never,
              { id: "re_never", amount: 100, status: "succeeded", metadata: {} },
              "refund.created",
              "evt_foreign_unknown",
            ),
            entries: [],
            deadLetter: false,
            ignored: false,
            foreign: true,
          });
        }
        badPayments.forEach((b, i) => {
          if (s.bad[i] === true) {
            happenings.push({
              event: paymentSucceededEvent(b.view, `evt_bad_${b.key}`),
              entries: [],
              deadLetter: true,
              deadLetterReason: b.reason,
              ignored: false,
            });
          }
        });
        for (let i = 0; i < s.ignored; i++) {
          const p = payments[i % payments.length] as FixturePayment;
          happenings.push({
            event: {
              ...withId(paymentSucceededEvent(p.view), `evt_ignored_${i}`),
              type: ["charge.succeeded", "payment_intent.created"][i % 2] ?? "",
            },
            entries: [],
            deadLetter: false,
            ignored: true,
          });
        }
        if (happenings.length === 0) return;

        // Deliveries: each event 1–3 times, shuffled, forged ones spliced in; run in concurrent batches.
        type Delivery = { run: () => Promise<Reply>; genuine: Happening | null; label: string };
        const deliveries: Delivery[] = happenings.flatMap((h, i) =>
          Array.from({ length: s.copies[i % s.copies.length] ?? 1 }, () => ({
            run: () => deliver(h.event),
            genuine: h,
            label: h.event.id,
          })),
        );
        for (let i = deliveries.length - 1; i > 0; i--) {
          const j = (s.order[i % s.order.length] ?? 0) % (i + 1);
          [deliveries[i], deliveries[j]] = [deliveries[j] as Delivery, deliveries[i] as Delivery];
        }
        for (const f of s.forged) {
          const target = happenings[f.pick % happenings.length] as Happening;
          deliveries.splice(f.at % (deliveries.length + 1), 0, {
            run: await forgedDelivery(target.event, f.kind),
            genuine: null,
            label: `forged ${f.kind} ${target.event.id}`,
          });
        }
        // Parked while their payment is unknown; the sweep, after the rest, applies those whose payment arrived.
        const parked = new Set<Happening>();
        const check = (d: Delivery, r: Reply): void => {
          const want = d.genuine === null ? 400 : 200;
          if (r.status !== want)
            throw new Error(`${d.label} → ${r.status} ${JSON.stringify(r.body)}; expected ${want}`);
          const outcome = r.body?.outcome;
          if (d.genuine?.ignored === true) expect(outcome).toBe("ignored");
          // Recorded: its second delivery is a duplicate.
          if (d.genuine?.foreign === true) expect(["ignored", "duplicate"]).toContain(outcome);
          if (d.genuine?.neverAccepted === true) expect(outcome).toBe("parked");
          if (outcome === "parked") {
            expect({ id: d.label, waits: d.genuine?.waitsForPayment }).toEqual({ id: d.label, waits: true });
            parked.add(d.genuine as Happening);
          }
        };
        let next = 0;
        for (let b = 0; next < deliveries.length; b++) {
          const batch = deliveries.slice(next, next + (s.batches[b % s.batches.length] ?? 1));
          next += batch.length;
          const replies = await Promise.all(batch.map((d) => d.run()));
          replies.forEach((r, i) => {
            check(batch[i] as Delivery, r);
          });
        }
        await sweepParkedEvents();
        for (const h of happenings.filter((x) => x.waitsForPayment === true)) {
          const kind =
            h.neverAccepted === true ? "still parked" : parked.has(h) ? "parked, then applied" : "applied";
          waitTally.set(kind, (waitTally.get(kind) ?? 0) + 1);
        }
        // Exactly the events whose payment never arrives are still parked.
        expect((await firestore().collection("parkedEvents").get()).docs.map((d) => d.id).sort()).toEqual(
          happenings
            .filter((h) => h.neverAccepted === true)
            .map((h) => h.event.id)
            .sort(),
        );
        // Each enrollment counts exactly the events still parked for it (every park raised it once, every
        // handled one lowered it once, whatever the redeliveries and concurrent replays).
        const stillParked = new Map<string, number>();
        for (const doc of (await firestore().collection("parkedEvents").get()).docs) {
          const owner = doc.get("owner") as { uid: string; courseId: string };
          if (doc.get("counted") !== true) continue;
          const key = `users/${owner.uid}/courses/${owner.courseId}`;
          stillParked.set(key, (stillParked.get(key) ?? 0) + 1);
        }
        for (const doc of (await firestore().collectionGroup("courses").get()).docs) {
          if (!doc.ref.path.startsWith("users/")) continue;
          expect([doc.ref.path, (doc.get("parkedEvents") as number | undefined) ?? 0]).toEqual([
            doc.ref.path,
            stillParked.get(doc.ref.path) ?? 0,
          ]);
        }

        // The model: exactly these entries, per enrollment; dead letters exactly for the bad events.
        const expected = new Map<string, number>([
          [`${recordedPayment.enrollment}/ledger/${recordedPayment.view.id}`, recordedPayment.view.amount],
        ]);
        for (const h of happenings)
          for (const e of h.entries) expected.set(`${e.enrollment}/ledger/${e.id}`, e.amount);
        const audits = await auditEnrollments(db);
        const actual = new Map(
          audits.flatMap((a) =>
            a.ledger.map((e): [string, number] => [`${a.path}/ledger/${e.id}`, e.amount]),
          ),
        );
        expect(Object.fromEntries([...actual].sort())).toEqual(Object.fromEntries([...expected].sort()));
        const deadLetters = (await db.documents()).keys();
        expect([...deadLetters].filter((k) => k.startsWith("deadLetters/")).sort()).toEqual(
          happenings
            .filter((h) => h.deadLetter)
            .map((h) => `deadLetters/${h.event.id}`)
            .sort(),
        );
        expect(await countDocs("webhookEvents")).toBe(
          1 + happenings.filter((h) => !h.ignored && h.neverAccepted !== true).length,
        );
        for (const h of happenings.filter((x) => x.deadLetter)) {
          expect(await readDoc(`deadLetters/${h.event.id}`)).toMatchObject({ reason: h.deadLetterReason });
        }

        // One more delivery of everything: duplicates (or ignored), at most one RPC each, no writes; events whose
        // payment never arrived are still parked, writing nothing.
        for (const h of happenings) {
          const mark = await db.mark();
          if (h.neverAccepted === true) {
            const reply = await deliver(h.event);
            expect({ id: h.event.id, outcome: reply.body?.outcome }).toEqual({
              id: h.event.id,
              outcome: "parked",
            });
            await db.expectUnchangedSince(mark, `redelivery of ${h.event.id}`);
            continue;
          }
          const rpcs = (): number => Object.values(lf.server().stats().rpcs).reduce((sum, n) => sum + n, 0);
          const rpcsBefore = rpcs();
          const reply = await deliver(h.event);
          expect({ id: h.event.id, reply }).toEqual({
            id: h.event.id,
            reply: { status: 200, body: { received: true, outcome: h.ignored ? "ignored" : "duplicate" } },
          });
          expect(rpcs() - rpcsBefore).toBeLessThanOrEqual(1);
          await db.expectUnchangedSince(mark, `redelivery of ${h.event.id}`);
        }
      }),
      runs(12),
    );
    process.stdout.write(
      `[fuzz] webhook replays, events of the direct payment: ${[...waitTally]
        .sort()
        .map(([k, n]) => `${k} ×${n}`)
        .join(", ")}\n`,
    );
  }, 120_000);
});
