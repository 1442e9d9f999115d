/** Removes lib/ so that a file deleted from src/ cannot linger in the build. */
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

rmSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../lib"), {
  recursive: true,
  force: true,
});
