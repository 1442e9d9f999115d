/**
 * Marks each build folder with its module format, so Node and bundlers read lib/esm/*.js as ES modules and
 * lib/cjs/*.js as CommonJS whatever the package's own "type" says.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const lib = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../lib");
for (const [folder, type] of [
  ["esm", "module"],
  ["cjs", "commonjs"],
]) {
  writeFileSync(path.join(lib, folder, "package.json"), `${JSON.stringify({ type })}\n`);
}
