// The benchmark's rounds (median run, per-round ratios) and its local Firestore in a child process, from the build.
import assert from "node:assert/strict";
import { test } from "node:test";
import { startFirestoreProcess } from "../lib/bench/firestoreProcess.js";
import { medianRun } from "../lib/bench/phase.js";
import { roundRatios } from "../lib/bench/report.js";

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
