/**
 * The README's webhook section is what an operator configures the Stripe endpoint from: its table and its
 * `stripe listen --events` line must list exactly the event types the webhook handles.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { HANDLED_EVENT_TYPES } from "../../src/schemas/webhook";

const readme = readFileSync(path.join(__dirname, "../../../README.md"), "utf8");
const handled = [...HANDLED_EVENT_TYPES].sort();

it("the README's webhook table lists exactly the handled event types", () => {
  const table = readme.slice(readme.indexOf("| event | what it does |"));
  const rows = table.slice(0, table.indexOf("\n\n")).split("\n").slice(2);
  const listed = rows.flatMap((row) =>
    [...(row.split("|")[1] ?? "").matchAll(/`([a-z_.]+)`/g)].map((m) => m[1]),
  );
  expect(listed.sort()).toEqual(handled);
});

it("the README's `stripe listen --events` line subscribes to exactly the handled event types", () => {
  const events = /--events ([a-z_.,]+)/.exec(readme)?.[1]?.split(",") ?? [];
  expect(events.sort()).toEqual(handled);
});
