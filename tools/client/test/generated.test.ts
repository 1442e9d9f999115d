/**
 * src/generated/api.ts must be the current copy of functions/src/api.ts (the backend's callable names and
 * request/response types, kept equal to its zod schemas and result types by functions/test/api.types.test.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const SCRIPT = path.resolve(__dirname, "../scripts/gen-api.mjs");

function check(...args: string[]): number {
  try {
    execFileSync(process.execPath, [SCRIPT, "--check", ...args], { stdio: "pipe" });
    return 0;
  } catch (error) {
    return (error as { status: number }).status;
  }
}

describe("src/generated/api.ts", () => {
  it("is up to date with functions/src/api.ts (else: npm run gen -w tools/client)", () => {
    expect(check()).toBe(0);
  });

  it("the check notices a stale or missing copy", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "client-gen-"));
    try {
      const source = path.join(dir, "api.ts");
      const target = path.join(dir, "copy.ts");
      writeFileSync(source, "export type A = 1;\n");
      expect(check("--source", source, "--target", target)).toBe(1);
      execFileSync(process.execPath, [SCRIPT, "--source", source, "--target", target]);
      expect(check("--source", source, "--target", target)).toBe(0);
      writeFileSync(source, "export type A = 2;\n");
      expect(check("--source", source, "--target", target)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
