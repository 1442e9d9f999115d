/**
 * Fault injection (local server only; defined through ctx.localIt, listed as excluded when
 * FIRESTORE_EMULATOR_HOST points elsewhere).
 *
 * What firebase-admin 13 (@google-cloud/firestore 7, google-gax) does with failed RPCs matters
 * as much as what the server does, so these tests pin both down:
 * - Commit is retried by gax on UNAVAILABLE and RESOURCE_EXHAUSTED (service config
 *   "resource_exhausted_unavailable": 100 ms initial delay, x1.3, for up to 600 s), and a
 *   non-transactional WriteBatch.commit() / set() / update() also on ABORTED. A finite run of
 *   such faults is therefore invisible to the caller.
 * - DEADLINE_EXCEEDED on Commit is not retried: the caller sees code 4.
 * - runTransaction() retries the whole callback on ABORTED (and UNAVAILABLE, etc.) that
 *   reaches it, with its own backoff (1 s, x1.5).
 */
import { FieldValue } from "firebase-admin/firestore";
import type { DocumentReference } from "firebase-admin/firestore";

import { PREFER_REST, codeOf, httpRequest, useFirestore } from "./support";

const ctx = useFirestore("faults");

const DEADLINE_EXCEEDED = 4;
const ALREADY_EXISTS = 6;

/** The payment-style step: create an idempotency marker and credit a balance, once. */
async function creditOnce(marker: DocumentReference, account: DocumentReference): Promise<number> {
  let attempts = 0;
  await ctx.db.runTransaction(async (tx) => {
    attempts++;
    const [m, a] = await tx.getAll(marker, account);
    if (m?.exists) return;
    tx.create(marker, { at: FieldValue.serverTimestamp() });
    tx.update(account, { balance: (a?.get("balance") as number) + 100 });
  });
  return attempts;
}

describe("fault injection", () => {
  it("control (runs everywhere): without faults every write applies exactly once", async () => {
    const counter = ctx.col("counters").doc("c");
    await counter.set({ n: 0 });
    for (let i = 0; i < 3; i++) await counter.update({ n: FieldValue.increment(1) });
    expect((await counter.get()).get("n")).toBe(3);

    const account = ctx.col("accounts").doc("a");
    await account.set({ balance: 0 });
    const marker = ctx.col("markers").doc("payment-1");
    expect(await creditOnce(marker, account)).toBe(1);
    expect(await creditOnce(marker, account)).toBe(1);
    expect((await account.get()).get("balance")).toBe(100);
  });

  ctx.localIt("UNAVAILABLE on Commit is retried by the SDK: the write applies once", async () => {
    const ref = ctx.col("docs").doc("u");
    ctx.server.faults.inject({ method: "Commit", kind: "unavailable", times: 2 });
    await ref.set({ n: FieldValue.increment(1) }, { merge: true });
    expect((await ref.get()).get("n")).toBe(1);
    const stats = ctx.stats();
    expect(stats.faultsInjected).toBe(2);
    expect(stats.rpcs.Commit).toBe(3);
    expect(stats.writes).toBe(1);
  });

  ctx.localIt("DEADLINE_EXCEEDED on Commit reaches the caller (code 4) and nothing is applied", async () => {
    const ref = ctx.col("docs").doc("d");
    ctx.server.faults.inject({ method: "Commit", kind: "deadline-exceeded", times: 1 });
    expect(await codeOf(ref.set({ n: 1 }))).toBe(DEADLINE_EXCEEDED);
    expect((await ref.get()).exists).toBe(false);
    // The rule is used up: the next write goes through.
    await ref.set({ n: 2 });
    expect((await ref.get()).get("n")).toBe(2);
  });

  ctx.localIt("ABORTED on a non-transactional Commit is retried by the SDK", async () => {
    const ref = ctx.col("docs").doc("a");
    await ref.set({ n: 0 });
    ctx.server.faults.inject({ method: "Commit", kind: "aborted", times: 1 });
    await ref.update({ n: FieldValue.increment(1) });
    expect((await ref.get()).get("n")).toBe(1);
    expect(ctx.stats().faultsInjected).toBe(1);
  });

  ctx.localIt(
    "reply-lost on a non-transactional increment: the SDK re-sends the commit and the increment is applied TWICE",
    async () => {
      // This is the double-apply a payment backend must not be exposed to: the first Commit is
      // applied, its reply is lost (answered UNAVAILABLE), gax retries the identical Commit, and
      // FieldValue.increment() is not idempotent. The caller sees success, once.
      const ref = ctx.col("docs").doc("r");
      await ref.set({ n: 0 });
      ctx.server.faults.inject({ method: "Commit", kind: "reply-lost", times: 1 });
      await ref.update({ n: FieldValue.increment(1) });
      expect((await ref.get()).get("n")).toBe(2);
      expect(ctx.stats().rpcs.Commit).toBe(3);
    },
  );

  (PREFER_REST ? ctx.exactCodeIt : ctx.localIt)(
    "reply-lost on a non-transactional create(): the caller gets ALREADY_EXISTS for its own write",
    async () => {
      const ref = ctx.col("docs").doc("created");
      ctx.server.faults.inject({ method: "Commit", kind: "reply-lost", times: 1 });
      expect(await codeOf(ref.create({ by: "me" }))).toBe(ALREADY_EXISTS);
      expect((await ref.get()).data()).toEqual({ by: "me" });
    },
  );

  ctx.localIt(
    "reply-lost on a transaction's Commit: the marker and the credit are applied exactly once",
    async () => {
      const account = ctx.col("accounts").doc("a");
      await account.set({ balance: 0 });
      const marker = ctx.col("markers").doc("payment-1");
      ctx.server.faults.inject({ method: "Commit", kind: "reply-lost", times: 1 });

      // gax re-sends the lost Commit with the same transaction id. The transaction is already
      // committed, so the server answers INVALID_ARGUMENT "The referenced transaction has expired
      // or is no longer valid." (production's wording), which runTransaction retries as a whole:
      // the second attempt finds the marker and changes nothing.
      expect(await creditOnce(marker, account)).toBe(2);
      expect((await account.get()).get("balance")).toBe(100);
      expect((await marker.get()).exists).toBe(true);
      expect(ctx.stats().faultsInjected).toBe(1);
    },
  );

  ctx.localIt("ABORTED on a transaction's Commit makes runTransaction retry the whole callback", async () => {
    const account = ctx.col("accounts").doc("a");
    await account.set({ balance: 0 });
    const marker = ctx.col("markers").doc("payment-2");
    ctx.server.faults.inject({ method: "Commit", kind: "aborted", times: 1 });
    expect(await creditOnce(marker, account)).toBe(2);
    expect((await account.get()).get("balance")).toBe(100);
    expect((await marker.get()).exists).toBe(true);
  });

  ctx.localIt(
    "UNAVAILABLE on a transaction's Commit is retried by gax with the same transaction",
    async () => {
      const account = ctx.col("accounts").doc("a");
      await account.set({ balance: 0 });
      const marker = ctx.col("markers").doc("payment-3");
      ctx.server.faults.inject({ method: "Commit", kind: "unavailable", times: 1 });
      expect(await creditOnce(marker, account)).toBe(1);
      expect((await account.get()).get("balance")).toBe(100);
    },
  );

  ctx.localIt("latency rules delay only the matching method and documents", async () => {
    const slow = ctx.col("docs").doc("slow-1");
    const fast = ctx.col("docs").doc("fast-1");
    await ctx.db.batch().set(slow, { n: 1 }).set(fast, { n: 2 }).commit();
    ctx.server.faults.inject({
      method: "BatchGetDocuments",
      kind: "latency",
      latencyMs: 400,
      pathContains: "slow-",
    });

    let started = Date.now();
    expect((await slow.get()).get("n")).toBe(1);
    const slowMs = Date.now() - started;
    expect(slowMs).toBeGreaterThanOrEqual(390);

    // Requests that don't match the rule are not delayed: two of them take less than the one
    // delayed request (a relative bound, so a loaded machine does not make it flaky).
    started = Date.now();
    expect((await fast.get()).get("n")).toBe(2);
    await fast.update({ n: 3 });
    expect(Date.now() - started).toBeLessThan(slowMs);
  });

  ctx.localIt("rules can be managed over HTTP: POST, GET and DELETE /emulator/v1/faults", async () => {
    const ref = ctx.col("docs").doc("h");
    const posted = await httpRequest(ctx.host, "POST", "/emulator/v1/faults", {
      rules: [
        { method: "Commit", kind: "deadline-exceeded", times: 1 },
        { method: "RunQuery", kind: "latency", latencyMs: 1 },
      ],
      seed: 7,
    });
    expect(posted.status).toBe(200);
    const listed = JSON.parse((await httpRequest(ctx.host, "GET", "/emulator/v1/faults")).body) as {
      rules: Array<{ method: string; kind: string }>;
    };
    expect(listed.rules.map((r) => `${r.method}:${r.kind}`)).toEqual([
      "Commit:deadline-exceeded",
      "RunQuery:latency",
    ]);

    expect(await codeOf(ref.set({ n: 1 }))).toBe(DEADLINE_EXCEEDED);
    expect((await httpRequest(ctx.host, "DELETE", "/emulator/v1/faults")).status).toBe(200);
    const after = JSON.parse((await httpRequest(ctx.host, "GET", "/emulator/v1/faults")).body) as {
      rules: unknown[];
    };
    expect(after.rules).toEqual([]);
    await ref.set({ n: 2 });
    expect((await ref.get()).get("n")).toBe(2);

    const bad = await httpRequest(ctx.host, "POST", "/emulator/v1/faults", {
      rules: [{ method: "Commit", kind: "explode" }],
    });
    expect(bad.status).toBe(400);
  });

  ctx.localIt("a seeded probability rule fails some commits; every acknowledged write is there", async () => {
    ctx.server.faults.seed(42);
    ctx.server.faults.inject({ method: "Commit", kind: "deadline-exceeded", probability: 0.5 });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        try {
          await ctx.col("prob").doc(`d${i}`).set({ i });
          return "ok";
        } catch (err) {
          return (err as { code?: unknown }).code === DEADLINE_EXCEEDED ? "failed" : "unexpected";
        }
      }),
    );
    ctx.server.faults.clear();
    const failed = outcomes.filter((o) => o === "failed").length;
    expect(outcomes.filter((o) => o === "unexpected")).toEqual([]);
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(20);
    // Exactly the acknowledged writes are stored.
    const stored = (await ctx.col("prob").get()).docs.map((d) => d.id).sort();
    const acknowledged = outcomes.flatMap((o, i) => (o === "ok" ? [`d${i}`] : [])).sort();
    expect(stored).toEqual(acknowledged);
    expect(ctx.stats().faultsInjected).toBe(failed);
  });
});
