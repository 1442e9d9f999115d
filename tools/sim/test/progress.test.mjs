// The progress line of chaos and bench (src/shared/progress.ts, from the build).
import assert from "node:assert/strict";
import { test } from "node:test";
import { PhaseCounter, ProgressBoard } from "../lib/shared/progress.js";

/** A stand-in terminal that records what is written. */
function terminal(isTTY) {
  const writes = [];
  return { writes, stream: { isTTY, columns: 80, write: (s) => writes.push(s) } };
}

test("shows each task's phase, done/total, percentage and rate on one line", () => {
  let now = 0;
  const { stream } = terminal(true);
  const board = new ProgressBoard(stream, true, () => now);
  board.update({ task: "seed 1", phase: "deliveries", done: 0, total: 400 });
  board.update({ task: "seed 2", phase: "setup", done: 0, total: 50 });
  now = 2000;
  board.update({ task: "seed 1", phase: "deliveries", done: 100, total: 400 });
  board.update({ task: "seed 2", phase: "setup", done: 5, total: 50 });
  assert.equal(board.line(), "seed 1 deliveries 100/400 25% 50/s · seed 2 setup 5/50 10% 2.5/s");
  // A new phase starts its own clock; a finished task leaves the line.
  board.update({ task: "seed 2", phase: "startPayment", done: 0, total: 10 });
  now = 3000;
  board.update({ task: "seed 2", phase: "startPayment", done: 4, total: 10 });
  board.remove("seed 1");
  assert.equal(board.line(), "seed 2 startPayment 4/10 40% 4.0/s");
});

test("redraws in place at most every 200 ms, and clears the line", () => {
  let now = 0;
  const { stream, writes } = terminal(true);
  const board = new ProgressBoard(stream, true, () => now);
  for (let i = 1; i <= 50; i++) {
    now += 10;
    board.update({ task: "t", phase: "p", done: i, total: 100 });
  }
  assert.equal(writes.length, 2); // 50 updates over 500 ms: drawn at 200 and 400 ms only
  assert.ok(writes.every((w) => w.startsWith("\r\x1b[2K")));
  board.clear();
  assert.equal(writes.at(-1), "\r\x1b[2K");
});

test("writes nothing off a terminal", () => {
  const { stream, writes } = terminal(false);
  const board = new ProgressBoard(stream);
  board.update({ task: "t", phase: "p", done: 1, total: 1 });
  board.clear();
  assert.equal(board.active, false);
  assert.deepEqual(writes, []);
});

test("a phase counter reports about 200 times per phase and always the last item", () => {
  const updates = [];
  const counter = new PhaseCounter((u) => updates.push(u), "seed 1", "deliveries", 1000);
  for (let i = 0; i < 1000; i++) counter.tick();
  assert.equal(updates[0].done, 0);
  assert.equal(updates.at(-1).done, 1000);
  assert.ok(updates.length > 150 && updates.length <= 202, String(updates.length));
});
