/**
 * The built package as consumers load it (`npm run build` first): the ESM and CJS entry points through the
 * `exports` map, their module-type stamps, and the promise that nothing outside the package is referenced
 * (types) and nothing but firebase is loaded (run time).
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const lib = path.join(packageDir, "lib");
const require = createRequire(import.meta.url);

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

test("ESM import and CJS require expose the same API, each from its own build", async () => {
  const esm = await import("@course-payments/client");
  const cjs = require("@course-payments/client");
  assert.deepEqual(Object.keys(esm).sort(), Object.keys(cjs).sort());
  assert.equal(require.resolve("@course-payments/client"), path.join(lib, "cjs/index.js"));
  assert.notEqual(esm.RetryHandler, cjs.RetryHandler);
  for (const api of [esm, cjs]) {
    const retry = new api.RetryHandler({ random: () => 0.5 });
    assert.equal(retry.delayFor(2), 200);
    assert.deepEqual(api.CALLABLE_NAMES, [
      "checkInstallmentDeadlines",
      "checkLedgerIntegrity",
      "completeLesson",
      "dismissDeadLetter",
      "enrollInCourse",
      "ensureProfile",
      "getDeadLetter",
      "getOpsSummary",
      "listDeadLetters",
      "listOverpayments",
      "reconcilePayments",
      "recordManualPayment",
      "refundPayment",
      "replayDeadLetter",
      "startCheckoutSession",
      "startPayment",
      "submitQuizAttempt",
      "upsertCourse",
      "upsertLesson",
      "upsertQuiz",
    ]);
    assert.equal(api.errorCodeOf({ code: "functions/unavailable" }), "unavailable");
  }
  assert.deepEqual(JSON.parse(readFileSync(path.join(lib, "esm/package.json"), "utf8")), { type: "module" });
  assert.deepEqual(JSON.parse(readFileSync(path.join(lib, "cjs/package.json"), "utf8")), {
    type: "commonjs",
  });
});

test("built files import only each other and firebase/functions (types and code)", () => {
  const files = filesUnder(lib).filter((f) => /\.(js|d\.ts)$/.test(f));
  assert.ok(files.length >= 12, `expected both builds in ${lib}`);
  const specifier = /(?:from\s+|require\(|import\()\s*["']([^"']+)["']/g;
  const external = new Set();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const [, spec] of text.matchAll(specifier)) {
      if (spec.startsWith(".")) {
        const target = path.resolve(path.dirname(file), spec);
        const build = path.join(lib, path.relative(lib, file).split(path.sep)[0]);
        assert.ok(target.startsWith(build + path.sep), `${file} imports ${spec}, outside its build`);
      } else {
        external.add(spec);
      }
    }
  }
  assert.deepEqual([...external], ["firebase/functions"]);
  const manifest = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8"));
  assert.equal(manifest.dependencies, undefined);
  assert.deepEqual(Object.keys(manifest.peerDependencies), ["firebase"]);
});
