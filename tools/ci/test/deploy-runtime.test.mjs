/**
 * The pinned Firebase CLI's own deploy-time runtime check, run offline on this repo's firebase.json: the same
 * steps `firebase deploy` takes in firebase-tools' lib/deploy/functions/prepare.js (normalise and validate the
 * `functions` config, pick the runtime delegate for each codebase, then `guardVersionSupport`, which refuses a
 * decommissioned runtime). The check uses today's date, as a deploy would.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const require = createRequire(path.join(root, "package.json"));
const toolsLib = path.join(path.dirname(require.resolve("firebase-tools/package.json")), "lib");
const projectConfig = require(path.join(toolsLib, "functions/projectConfig.js"));
const runtimes = require(path.join(toolsLib, "deploy/functions/runtimes/index.js"));
const supported = require(path.join(toolsLib, "deploy/functions/runtimes/supported/index.js"));

const firebaseJson = JSON.parse(readFileSync(path.join(root, "firebase.json"), "utf8"));

/** What prepare.js does per codebase before building it; resolves with the runtime it would deploy. */
async function deployRuntimeCheck(functionsConfig) {
  const config = projectConfig.normalizeAndValidate(functionsConfig);
  const checked = [];
  for (const codebase of config.map((c) => c.codebase)) {
    const { source, runtime } = projectConfig.configForCodebase(config, codebase);
    if (runtime && !supported.isRuntime(runtime)) throw new Error(`invalid runtime ${runtime}`);
    const delegate = await runtimes.getRuntimeDelegate({
      projectId: "demo-courses",
      projectDir: root,
      sourceDir: path.join(root, source),
      runtime,
    });
    supported.guardVersionSupport(delegate.runtime);
    checked.push(delegate.runtime);
  }
  return checked;
}

describe("firebase deploy's runtime check (pinned firebase-tools, offline)", () => {
  it("passes for this repo's firebase.json (nodejs22)", async () => {
    assert.deepEqual(await deployRuntimeCheck(firebaseJson.functions), ["nodejs22"]);
  });

  it("refuses nodejs20, which the CLI reports decommissioned", async () => {
    const nodejs20 = firebaseJson.functions.map((c) => ({ ...c, runtime: "nodejs20" }));
    await assert.rejects(
      deployRuntimeCheck(nodejs20),
      /Runtime Node\.js 20 was decommissioned on 2026-10-30/,
    );
  });

  it("derives the same runtime from functions/package.json engines when firebase.json names none", async () => {
    const withoutRuntime = firebaseJson.functions.map(({ runtime: _omitted, ...c }) => c);
    assert.deepEqual(await deployRuntimeCheck(withoutRuntime), ["nodejs22"]);
  });
});
