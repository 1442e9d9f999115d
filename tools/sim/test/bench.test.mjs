// The benchmark's rounds (median run, per-round ratios), its local Firestore and its trigger host in child
// processes, from the build (functions/lib included: the trigger host loads the built backend).
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startFirestoreProcess } from "../lib/bench/firestoreProcess.js";
import { BENCH_PROJECT } from "../lib/bench/backend.js";
import { startTriggerProcess } from "../lib/bench/triggerProcess.js";
import { medianRun } from "../lib/bench/phase.js";
import { cpuCeilingLine, roundRatios } from "../lib/bench/report.js";

const phase = (paymentsPerSecond, label) => ({ paymentsPerSecond, label });

test("medianRun keeps the round with the median payments/s and every round's payments/s in round order", () => {
  const m = medianRun([phase(300, "first"), phase(100, "second"), phase(200, "third")]);
  assert.equal(m.label, "third");
  assert.equal(m.paymentsPerSecond, 200);
  assert.deepEqual(m.runsPaymentsPerSecond, [300, 100, 200]);
  // an even count takes the lower middle one; a single round is its own median
  assert.equal(medianRun([phase(4), phase(1), phase(3), phase(2)]).paymentsPerSecond, 2);
  assert.equal(medianRun([phase(7)]).paymentsPerSecond, 7);
  assert.throws(() => medianRun([]), /no runs/);
});

test("roundRatios divides round by round (the two variants ran in the same round)", () => {
  const c = { paymentsPerSecond: 200, runsPaymentsPerSecond: [100, 200, 300] };
  const b = { paymentsPerSecond: 400, runsPaymentsPerSecond: [400, 400, 200] };
  assert.deepEqual(roundRatios(c, b), [0.25, 0.5, 1.5]);
  // results without rounds (one run) give one ratio
  assert.deepEqual(roundRatios({ paymentsPerSecond: 50 }, { paymentsPerSecond: 100 }), [0.5]);
});

test("cpuCeilingLine: what the CPU per payment allows on the machine's cores, against (b)'s measured rate", () => {
  const at = (paymentsPerSecond, bench, triggers, firestore) => ({
    paymentsPerSecond,
    cpuMsPerApplied: { bench, triggers, firestore },
  });
  const r = { machine: { cpus: 2 } };
  const b = { hot: at(500, 0.5, 0, 1.5), many: at(2000, 0.2, 0, 0.2) };
  // (c) once: 1 ms per payment on the hot enrollment, 2 ms across many; the rows delivered twice are not used
  const c = {
    hot: at(1, 9, 9, 9),
    many: at(1, 9, 9, 9),
    once: { hot: at(600, 0.5, 0.25, 0.25), many: at(700, 1, 0.5, 0.5) },
  };
  const line = cpuCeilingLine(r, c, b);
  // hot: 2000/s ceiling = 4.00× (b)'s 500/s; 0.8× (b) = 400/s needs ≤ 2000/400 = 5 ms
  assert.match(
    line,
    /hot: \(c\) 1\.00 ms vs \(b\) 2\.00 ms, ceiling of \(c\) 2000\/s = 4\.00× \(b\)'s 500\/s; 0\.8× \(b\) needs \(c\) ≤ 5\.00 ms/,
  );
  // many: 1000/s ceiling = 0.50× (b)'s 2000/s; 0.8× (b) = 1600/s needs ≤ 1.25 ms
  assert.match(
    line,
    /many: \(c\) 2\.00 ms vs \(b\) 0\.40 ms, ceiling of \(c\) 1000\/s = 0\.50× \(b\)'s 2000\/s; 0\.8× \(b\) needs \(c\) ≤ 1\.25 ms/,
  );
  // without a delivered-once row, (c)'s own rows
  assert.match(cpuCeilingLine(r, { hot: c.once.hot, many: c.once.many }, b), /many: \(c\) 2\.00 ms/);
});

test("the local Firestore in its own process: faults, counters, trigger idle and its CPU time over HTTP", async () => {
  // No trigger is registered with it: the functions emulator address only has to be well-formed.
  const server = await startFirestoreProcess({
    projectId: "demo-bench-test",
    functionsEmulator: "127.0.0.1:9",
  });
  try {
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    const cpu0 = await server.cpuMicros();
    assert.ok(cpu0 > 0, "the child reports its CPU time");
    await server.injectFaults(7, { method: "Commit", kind: "reply-lost", probability: 0.5 });
    await server.resetStats();
    const stats = await server.stats();
    assert.equal(stats.reads, 0);
    assert.equal(stats.faultsInjected, 0);
    await server.clearFaults();
    await server.clear();
    await server.triggersIdle();
    assert.ok((await server.cpuMicros()) >= cpu0);
  } finally {
    await server.close();
  }
  // closed: the port answers no more
  await assert.rejects(server.stats());
});

/**
 * A REST call to the local Firestore, in the project the backend is configured for, as the admin (`Bearer owner`,
 * as firebase-admin authenticates to emulators).
 */
async function rest(address, method, path, body) {
  const res = await globalThis.fetch(
    `http://${address}/v1/projects/${BENCH_PROJECT}/databases/(default)/documents/${path}`,
    {
      method,
      headers: { authorization: "Bearer owner", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
  );
  return { status: res.status, body: await res.json() };
}

test("the trigger host in its own process: held invocations, then the built onEnrollmentWritten writes through its own firebase-admin", async () => {
  const triggers = await startTriggerProcess(7);
  const server = await startFirestoreProcess({
    projectId: BENCH_PROJECT,
    functionsEmulator: triggers.address,
  });
  try {
    assert.match(triggers.address, /^127\.0\.0\.1:\d+$/);
    assert.ok(triggers.triggers.includes("onEnrollmentWritten"), triggers.triggers.join(", "));
    await triggers.useFirestore(server.address);
    const cpu0 = await triggers.cpuMicros();
    assert.ok(cpu0 > 0, "the child reports its CPU time");

    await triggers.hold();
    const made = await rest(server.address, "POST", "users/u1/courses?documentId=c1", {
      fields: {
        uid: { stringValue: "u1" },
        courseId: { stringValue: "c1" },
        amountPaid: { integerValue: "700" },
      },
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    // Held: the delivery does not finish, so the server is not idle.
    const idle = server.triggersIdle();
    const early = await Promise.race([idle.then(() => "idle"), sleep(300, "held")]);
    assert.equal(early, "held");
    assert.equal((await rest(server.address, "GET", "courseStats/c1")).status, 404);

    await triggers.release();
    await idle;
    while ((await server.triggersIdle()).pending > 0);
    // The trigger counted the new enrollment once, through the address it was given.
    const stats = await rest(server.address, "GET", "courseStats/c1");
    assert.equal(stats.status, 200, JSON.stringify(stats.body));
    assert.equal(stats.body.fields.enrolledCount.integerValue, "1");
    assert.equal(stats.body.fields.revenue.integerValue, "700");
    assert.ok((await triggers.cpuMicros()) > cpu0);
  } finally {
    await server.close();
    await triggers.close();
  }
  await assert.rejects(triggers.cpuMicros(), /not running/);
});
