import { Change } from "firebase-functions/v2";
import { onEnrollmentWritten } from "../../src/functions/onEnrollmentWritten";
import { firestore } from "../../src/shared/admin";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import {
  chargeRefundedEvent,
  disputeEvent,
  paymentFailedEvent,
  paymentSucceededEvent,
  signEvent,
  type LocalPaymentView,
  type StripeEventJson,
} from "../../src/services/payments/local/localEvents";
import {
  call,
  countDocs,
  createCourse,
  enroll,
  fft,
  installLocalProvider,
  ledgerSum,
  postWebhook,
  providerHolds,
  readDoc,
  startPayment,
} from "../support/harness";
import { TEST_WEBHOOK_SECRET, useLocalFirestore } from "../support/localFirestore";
import { sweepParkedEvents } from "../../src/services/webhookCommandService";

const lf = useLocalFirestore();

/** The payments the test's events are about (made outside startPayment), for the provider's records. */
const made = new Map<string, LocalPaymentView>();

function pay(
  uid: string,
  id: string,
  amount: number,
  refunds: LocalPaymentView["refunds"] = [],
): LocalPaymentView {
  const view = {
    id,
    chargeId: `ch_${id}`,
    amount,
    currency: "usd",
    metadata: { uid, courseId: "c1" },
    refunds,
  };
  made.set(id, view);
  return view;
}

/** The provider holds every payment the events are about (it asks them whose an early refund concerns). */
async function providerHoldsAll(): Promise<void> {
  await Promise.all([...made.values()].map((view) => providerHolds(view)));
}

/** Deterministic shuffle (mulberry32) so failures replay. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * A refund or dispute that arrived before its payment was parked (200) and is applied when the payment's write to
 * the enrollment reaches onEnrollmentWritten (which these tests do not run) or by the sweep: run the sweep, as the
 * schedule would, and return the answers.
 */
async function settleParked<T>(replies: T[]): Promise<T[]> {
  await sweepParkedEvents();
  expect(await countDocs("parkedEvents")).toBe(0);
  // Every park's count on its enrollment was lowered again, once.
  const enrollments = await firestore().collectionGroup("courses").get();
  for (const doc of enrollments.docs) expect((doc.get("parkedEvents") as number | undefined) ?? 0).toBe(0);
  return replies;
}

beforeEach(async () => {
  installLocalProvider();
  await createCourse("c1", 100_000);
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

describe("startPayment under concurrency", () => {
  it("two tabs paying the remaining balance (different requestIds) get ONE provider payment", async () => {
    await enroll("u1", "c1");
    const [a, b] = await Promise.all([
      call(startPayment, { uid: "u1" }, { courseId: "c1", requestId: "tab-a-0001" }),
      call(startPayment, { uid: "u1" }, { courseId: "c1", requestId: "tab-b-0001" }),
    ]);
    expect(b.paymentId).toBe(a.paymentId);
    expect(b.checkoutId).toBe(a.checkoutId);
    expect(await countDocs("localProvider")).toBe(1);
    // One checkout, plus an alias naming it for the other tab's requestId.
    const checkouts = await firestore().collection("checkouts").get();
    expect(checkouts.docs.map((d) => (d.get("aliasOf") as string | undefined) ?? null).sort()).toEqual([
      a.checkoutId,
      null,
    ]);
    expect(await readDoc("users/u1/courses/c1")).toMatchObject({
      openCheckout: { checkoutId: a.checkoutId, amount: 100_000 },
    });
  });

  it("a retried requestId (5 concurrent retries) yields the same payment", async () => {
    await enroll("u1", "c1");
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        call(startPayment, { uid: "u1" }, { courseId: "c1", requestId: "retry-0001", amount: 2500 }),
      ),
    );
    expect(new Set(results.map((r) => r.paymentId)).size).toBe(1);
    expect(await countDocs("localProvider")).toBe(1);
    expect(await countDocs("checkouts")).toBe(1);
  });
});

describe("webhook under concurrency and faults", () => {
  it("100 concurrent deliveries of 20 distinct events (each 5×) → exact totals, one ledger entry per provider id", async () => {
    await enroll("u1", "c1");
    const events: StripeEventJson[] = [];
    let expected = 0;
    for (let i = 0; i < 14; i++) {
      const amount = 1000 + i * 37;
      expected += amount;
      events.push(paymentSucceededEvent(pay("u1", `pi_c${i}`, amount), `evt_pay_${i}`));
    }
    for (let i = 0; i < 6; i++) {
      const refund = { id: `re_c${i}`, amount: 100 + i, status: "succeeded" };
      expected -= refund.amount;
      events.push(chargeRefundedEvent(pay("u1", `pi_c${i}`, 1000 + i * 37, [refund]), `evt_ref_${i}`));
    }
    const signed = await Promise.all(events.map((e) => signEvent(e, TEST_WEBHOOK_SECRET)));
    const deliveries = shuffle(
      signed.flatMap((s) => [s, s, s, s, s]),
      7,
    );
    expect(deliveries).toHaveLength(100);
    await providerHoldsAll();
    const replies = await settleParked(
      await Promise.all(deliveries.map((d) => postWebhook(d.rawBody, d.signature))),
    );
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 100 }, () => 200));
    const ledger = await ledgerSum("u1", "c1");
    expect(ledger.ids).toHaveLength(20);
    expect(ledger.sum).toBe(expected);
    expect(await readDoc("users/u1/courses/c1")).toMatchObject({
      amountPaid: expected,
      ledgerCount: 20,
      refundCount: 6,
    });
    expect(await countDocs("webhookEvents")).toBe(20);
    // Each event applied once: by one of its deliveries, or (a refund that overtook its payment: parked) by the sweep.
    const byEvent = new Map<string, string[]>();
    deliveries.forEach((d, i) => {
      const outcome = (replies[i]?.body as { outcome?: string } | undefined)?.outcome ?? "none";
      byEvent.set(d.rawBody, [...(byEvent.get(d.rawBody) ?? []), outcome]);
    });
    for (const outcomes of byEvent.values()) {
      const applied = outcomes.filter((o) => o === "applied").length;
      expect(applied === 1 || (applied === 0 && outcomes.includes("parked"))).toBe(true);
    }
    const recorded = await firestore().collection("webhookEvents").get();
    expect(recorded.docs.map((d) => d.get("outcome") as string)).toEqual(recorded.docs.map(() => "applied"));
  }, 120_000);

  it("a lost reply on the Commit of a payment application still applies it exactly once", async () => {
    await enroll("u1", "c1");
    const event = await signEvent(
      paymentSucceededEvent(pay("u1", "pi_lost", 4000), "evt_lost"),
      TEST_WEBHOOK_SECRET,
    );
    lf.server().resetStats();
    lf.server().faults.inject({ method: "Commit", kind: "reply-lost", times: 1 });
    const first = await postWebhook(event.rawBody, event.signature);
    expect(lf.server().stats().faultsInjected).toBe(1);
    const second = await postWebhook(event.rawBody, event.signature);
    expect(first.status).toBe(200);
    expect(second).toEqual({ status: 200, body: { received: true, outcome: "duplicate" } });
    expect(await ledgerSum("u1", "c1")).toEqual({ sum: 4000, ids: ["pi_lost"] });
    expect(await readDoc("users/u1/courses/c1")).toMatchObject({ amountPaid: 4000, ledgerCount: 1 });
  });

  it("concurrent deliveries share reads and commits (group commit): exact totals and derived fields, dead letters apart, despite lost replies", async () => {
    await createCourse("c2", 1000);
    await Promise.all(["u1", "u2", "u3"].map((uid) => enroll(uid, "c2")));
    const pays = (uid: string, n: number, amount: number): StripeEventJson[] =>
      Array.from({ length: n }, (_, i) =>
        paymentSucceededEvent(
          { ...pay(uid, `pi_g_${uid}_${i}`, amount), metadata: { uid, courseId: "c2" } },
          `evt_g_${uid}_${i}`,
        ),
      );
    // u1 pays exactly the price in 20 parts, u2 pays half of it in 10; u9 is not enrolled: dead letters.
    const events = [...pays("u1", 20, 50), ...pays("u2", 10, 50), ...pays("u9", 5, 50)];
    const signed = await Promise.all(events.map((e) => signEvent(e, TEST_WEBHOOK_SECRET)));
    lf.server().resetStats();
    lf.server().faults.inject({ method: "Commit", kind: "reply-lost", times: 2 });
    const replies = await Promise.all(
      shuffle([...signed, ...signed], 11).map((d) => postWebhook(d.rawBody, d.signature)),
    );
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    const stats = lf.server().stats();
    expect(stats.faultsInjected).toBe(2);
    // 35 events delivered twice, yet far fewer commits than events: concurrent requests were committed together.
    expect(stats.rpcs.Commit ?? 0).toBeLessThan(35);
    const outcomes = replies.map((r) => (r.body as { outcome?: string }).outcome);
    // An event whose commit reply was lost is answered "duplicate" by the rerun that finds it applied.
    expect(new Set(outcomes)).toEqual(new Set(["applied", "dead-lettered", "duplicate"]));
    const applied = outcomes.filter((o) => o === "applied").length;
    const deadLettered = outcomes.filter((o) => o === "dead-lettered").length;
    expect(applied).toBeGreaterThanOrEqual(28);
    expect(applied + deadLettered).toBeGreaterThanOrEqual(33);
    expect(applied + deadLettered).toBeLessThanOrEqual(35);

    expect(await ledgerSum("u1", "c2")).toMatchObject({ sum: 1000 });
    expect((await ledgerSum("u1", "c2")).ids).toHaveLength(20);
    expect(await readDoc("users/u1/courses/c2")).toMatchObject({
      amountPaid: 1000,
      amountDue: 0,
      paymentStatus: "paid",
      accessStatus: "active",
      ledgerCount: 20,
    });
    expect(await readDoc("users/u2/courses/c2")).toMatchObject({
      amountPaid: 500,
      amountDue: 500,
      paymentStatus: "partial",
      ledgerCount: 10,
    });
    expect(await countDocs("deadLetters")).toBe(5);
    expect(await readDoc("deadLetters/evt_g_u9_0")).toMatchObject({ reason: "unknown-enrollment" });
    expect(await countDocs("webhookEvents")).toBe(35);
  }, 120_000);

  it("one member whose stored enrollment is corrupt fails alone: the payments grouped with it are applied", async () => {
    await createCourse("c3", 1000);
    const students = ["g1", "g2", "g3", "g4", "g5", "bad"];
    await Promise.all(students.map((uid) => enroll(uid, "c3")));
    // A hand edit that breaks the enrollment's schema (what an admin console slip could do).
    await firestore().doc("users/bad/courses/c3").update({ amountPaid: "lots" });
    const events = students.map((uid) =>
      paymentSucceededEvent(
        { ...pay(uid, `pi_corrupt_${uid}`, 300), metadata: { uid, courseId: "c3" } },
        `evt_corrupt_${uid}`,
      ),
    );
    const signed = await Promise.all(events.map((e) => signEvent(e, TEST_WEBHOOK_SECRET)));
    const replies = await Promise.all(signed.map((d) => postWebhook(d.rawBody, d.signature)));
    expect(replies.map((r) => (r.body as { outcome?: string }).outcome)).toEqual([
      "applied",
      "applied",
      "applied",
      "applied",
      "applied",
      "dead-lettered",
    ]);
    for (const uid of students.slice(0, 5))
      expect(await readDoc(`users/${uid}/courses/c3`)).toMatchObject({ amountPaid: 300 });
    expect(await readDoc("deadLetters/evt_corrupt_bad")).toMatchObject({ reason: "internal-error" });
  });

  it("a lost reply on startPayment's commits still yields one checkout and one provider payment", async () => {
    await enroll("u1", "c1");
    lf.server().resetStats();
    lf.server().faults.inject({ method: "Commit", kind: "reply-lost", times: 3 });
    const a = await call(startPayment, { uid: "u1" }, { courseId: "c1", requestId: "lost-0001" });
    // startPayment's own two transactions and the local provider's create: three commits, each reply lost.
    expect(lf.server().stats().faultsInjected).toBe(3);
    const b = await call(startPayment, { uid: "u1" }, { courseId: "c1", requestId: "lost-0001" });
    expect(b.paymentId).toBe(a.paymentId);
    expect(await countDocs("localProvider")).toBe(1);
    expect(await countDocs("checkouts")).toBe(1);
  });
});

describe("order independence", () => {
  const FIELDS = [
    "amountPaid",
    "amountDue",
    "amountOverpaid",
    "paymentStatus",
    "accessStatus",
    "ledgerCount",
    "refundCount",
    "refundedByPayment",
    "openDisputes",
    "disputes",
  ];
  const DERIVED = ["amountDue", "amountOverpaid", "paymentStatus", "accessStatus"];

  function eventsFor(uid: string): StripeEventJson[] {
    const p1 = pay(uid, `pi_${uid}_1`, 60_000);
    const p2 = pay(uid, `pi_${uid}_2`, 40_000);
    return [
      paymentSucceededEvent(p1, `evt_${uid}_s1`),
      paymentSucceededEvent(p2, `evt_${uid}_s2`),
      chargeRefundedEvent(
        { ...p1, refunds: [{ id: `re_${uid}_1`, amount: 10_000, status: "succeeded" }] },
        `evt_${uid}_r1`,
      ),
      paymentFailedEvent(p2, `evt_${uid}_f2`),
      disputeEvent(
        p2,
        { id: `dp_${uid}`, amount: 40_000, status: "needs_response" },
        "charge.dispute.created",
        `evt_${uid}_dc`,
      ),
      disputeEvent(
        p2,
        { id: `dp_${uid}`, amount: 40_000, status: "lost" },
        "charge.dispute.closed",
        `evt_${uid}_dl`,
      ),
    ].map((e) => {
      // Give disputes the enrollment's metadata (these payments were not created through startPayment).
      if (e.type.startsWith("charge.dispute"))
        (e.data.object as { metadata: Record<string, string> }).metadata = { uid, courseId: "c1" };
      return e;
    });
  }

  async function finalState(uid: string, order: number[]): Promise<Record<string, unknown>> {
    await enroll(uid, "c1");
    const events = eventsFor(uid);
    await providerHoldsAll();
    const signed = [];
    const replies = [];
    for (const i of order) {
      const e = events[i];
      if (e === undefined) throw new Error("bad index");
      const delivery = await signEvent(e, TEST_WEBHOOK_SECRET);
      signed.push(delivery);
      replies.push(await postWebhook(delivery.rawBody, delivery.signature));
    }
    expect((await settleParked(replies)).map((r) => r.status)).toEqual(order.map(() => 200));
    const doc = await readDoc(`users/${uid}/courses/c1`);
    const state: Record<string, unknown> = {};
    for (const f of FIELDS) state[f] = doc?.[f];
    // Ids differ per user: normalise them.
    return JSON.parse(JSON.stringify(state).replaceAll(uid, "U")) as Record<string, unknown>;
  }

  it("refund-before-success, failure-after-success, dispute closed-before-created and shuffled orders converge", async () => {
    const natural = await finalState("natural", [0, 1, 2, 3, 4, 5]);
    expect(natural).toMatchObject({
      amountPaid: 60_000 + 40_000 - 10_000 - 40_000,
      paymentStatus: "partial",
      accessStatus: "locked",
      openDisputes: 0,
      ledgerCount: 4,
    });
    const orders = [
      [2, 0, 1, 3, 4, 5], // refund before its payment
      [0, 1, 3, 2, 4, 5], // failure after success
      [5, 4, 3, 2, 1, 0], // everything reversed: dispute closed before created
      ...Array.from({ length: 6 }, (_, seed) => shuffle([0, 1, 2, 3, 4, 5], seed + 11)),
    ];
    for (const [n, order] of orders.entries()) {
      expect(await finalState(`perm${n}`, order)).toEqual(natural);
    }
  }, 120_000);

  it("concurrent delivery of the same mixed events converges to the natural result", async () => {
    const natural = await finalState("serial", [0, 1, 2, 3, 4, 5]);
    await enroll("parallel", "c1");
    const signed = await Promise.all(eventsFor("parallel").map((e) => signEvent(e, TEST_WEBHOOK_SECRET)));
    const deliveries = shuffle([...signed, ...signed], 3);
    await providerHoldsAll();
    const replies = await settleParked(
      await Promise.all(deliveries.map((s) => postWebhook(s.rawBody, s.signature))),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const normalised = (doc: Record<string, unknown> | undefined, fields: readonly string[]): unknown =>
      JSON.parse(
        JSON.stringify(
          Object.fromEntries(Object.entries(doc ?? {}).filter(([k]) => fields.includes(k))),
        ).replaceAll("parallel", "U"),
      );
    // The totals are exact at once: every movement is an increment that commutes with the others.
    const TOTALS = FIELDS.filter((f) => !DERIVED.includes(f));
    expect(normalised(await readDoc("users/parallel/courses/c1"), TOTALS)).toEqual(
      normalised(natural, TOTALS),
    );
    // The derived fields may trail them until the trigger of the last write has run: deliver that event.
    const last = await firestore().doc("users/parallel/courses/c1").get();
    await fft.wrap(onEnrollmentWritten)({
      id: "ce-last-write",
      params: { uid: "parallel", courseId: "c1" },
      data: new Change(last, last),
    });
    expect(normalised(await readDoc("users/parallel/courses/c1"), FIELDS)).toEqual(natural);
    expect((await firestore().collection("users/parallel/courses/c1/ledger").get()).size).toBe(4);
  }, 60_000);
});
