#!/usr/bin/env node
"use strict";
// `npx local-firestore`: runs the built CLI (lib/cli.js). In a fresh checkout nothing is built yet, so the
// first run builds this package (a few seconds) instead of failing with a module-not-found stack trace.
const { existsSync } = require("node:fs");
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const packageDir = path.join(__dirname, "..");
const cli = path.join(packageDir, "lib", "cli.js");

if (!existsSync(cli)) {
  let tsc;
  try {
    tsc = require.resolve("typescript/bin/tsc", { paths: [packageDir] });
  } catch {
    tsc = undefined;
  }
  if (tsc === undefined) {
    process.stderr.write(
      "local-firestore is not built (no lib/cli.js) and TypeScript is not installed to build it.\n" +
        "From the repository root run: npm install && npm run build\n",
    );
    process.exit(1);
  }
  process.stderr.write("local-firestore is not built yet: building it (tsc -p tsconfig.build.json)…\n");
  const built = spawnSync(process.execPath, [tsc, "-p", path.join(packageDir, "tsconfig.build.json")], {
    cwd: packageDir,
    stdio: "inherit",
  });
  if (built.status !== 0 || !existsSync(cli)) {
    process.stderr.write(
      "Building local-firestore failed (output above). From the repository root: npm run build\n",
    );
    process.exit(1);
  }
}
require(cli).main(process.argv.slice(2));
