/**
 * Cold-load time of the functions entry point against a minimal function module: each is `require`d in a fresh
 * `node` process. Measured: spawn → loaded (the parent's clock before spawning against the child's clock right
 * after the require; both `performance.timeOrigin + performance.now()`, so the same epoch), Node's own
 * `performance.now()` after the require (its time origin is set during Node's start-up), and the require call
 * alone. Runs alternate between the two modules; a first unrecorded run of each warms the OS file cache.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { FUNCTIONS_DIR, FUNCTIONS_LIB } from "./backend";
import { percentile, round } from "./util";

export interface ColdLoadSample {
  /** Spawn of the process → module loaded (ms): the headline figure. */
  spawnToLoadedMs: number;
  /** Node's time origin → module loaded (ms). */
  loadedMs: number;
  /** The require call alone (ms). */
  requireMs: number;
}

interface ModuleSummary {
  module: string;
  medianSpawnToLoadedMs: number;
  medianLoadedMs: number;
  medianRequireMs: number;
  samples: ColdLoadSample[];
}

export interface ColdLoadResult {
  runs: number;
  entryPoint: ModuleSummary;
  minimal: ModuleSummary;
  /** entry point ÷ minimal, medians of spawn → loaded (the target is ≤ 1.5). */
  ratio: number;
  /** Same, from Node's time origin. */
  nodeOriginRatio: number;
  /** Same, for the require call alone (excludes Node's own start-up, common to both). */
  requireRatio: number;
}

const PROBE = `const t = performance.now();
require(process.argv[2]);
const end = performance.now();
process.stdout.write(JSON.stringify({ loadedAt: performance.timeOrigin + end, loadedMs: end, requireMs: end - t }));
`;

function minimalModule(): string {
  const https = createRequire(path.join(FUNCTIONS_DIR, "package.json")).resolve(
    "firebase-functions/v2/https",
  );
  return `const { onCall } = require(${JSON.stringify(https)});
exports.hello = onCall((request) => ({ hello: request.auth ? request.auth.uid : "anonymous" }));
`;
}

function runProbe(probe: string, modulePath: string): ColdLoadSample {
  const spawnAt = performance.timeOrigin + performance.now();
  const out = execFileSync(process.execPath, [probe, modulePath], {
    cwd: FUNCTIONS_DIR,
    env: { PATH: process.env.PATH ?? "", GCLOUD_PROJECT: "demo-bench" },
    encoding: "utf8",
  });
  const child = JSON.parse(out) as { loadedAt: number; loadedMs: number; requireMs: number };
  return { spawnToLoadedMs: child.loadedAt - spawnAt, loadedMs: child.loadedMs, requireMs: child.requireMs };
}

export function measureColdLoad(runs: number): ColdLoadResult {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-coldload-"));
  try {
    const probe = path.join(dir, "probe.js");
    const minimal = path.join(dir, "minimal-function.js");
    writeFileSync(probe, PROBE);
    writeFileSync(minimal, minimalModule());
    const entry = path.join(FUNCTIONS_LIB, "index.js");
    runProbe(probe, entry);
    runProbe(probe, minimal);
    const entrySamples: ColdLoadSample[] = [];
    const minimalSamples: ColdLoadSample[] = [];
    for (let i = 0; i < runs; i++) {
      entrySamples.push(runProbe(probe, entry));
      minimalSamples.push(runProbe(probe, minimal));
    }
    const summary = (samples: ColdLoadSample[]) => ({
      medianSpawnToLoadedMs: round(
        percentile(
          samples.map((s) => s.spawnToLoadedMs),
          50,
        ),
      ),
      medianLoadedMs: round(
        percentile(
          samples.map((s) => s.loadedMs),
          50,
        ),
      ),
      medianRequireMs: round(
        percentile(
          samples.map((s) => s.requireMs),
          50,
        ),
      ),
      samples: samples.map((s) => ({
        spawnToLoadedMs: round(s.spawnToLoadedMs),
        loadedMs: round(s.loadedMs),
        requireMs: round(s.requireMs),
      })),
    });
    const e = summary(entrySamples);
    const m = summary(minimalSamples);
    return {
      runs,
      entryPoint: { module: "functions/lib/index.js", ...e },
      minimal: { module: "one onCall (firebase-functions/v2/https only)", ...m },
      ratio: round(e.medianSpawnToLoadedMs / m.medianSpawnToLoadedMs, 2),
      nodeOriginRatio: round(e.medianLoadedMs / m.medianLoadedMs, 2),
      requireRatio: round(e.medianRequireMs / m.medianRequireMs, 2),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
