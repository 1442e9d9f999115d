#!/usr/bin/env node
/**
 * Runs the commands the READMEs document, as a new user would: in a fresh clone of this repository (HEAD), after
 * `npm ci`, with nothing built. Each command starts from the just-installed state (every build output removed
 * first), so a command that only works after another one built something fails here. `.ci/run` runs this after
 * `npm test`, as its own step:
 *
 *   node tools/ci/readme-commands.mjs [--keep]      (--keep: leave the clone in the OS temp dir for a look)
 *
 * Checked: `npx local-firestore` (first run builds it), `npm run chaos -- --seed 5 --events …`, `npm run bench --
 * --help`, `npm run bench` (writes only git-ignored files), `npm start` (a busy port is refused before any
 * build, naming its variable; then every line it prints for pasting is pasted into bash as printed and must
 * succeed, `confirm <paymentId>` on its stdin, Ctrl-C, and no temp files or sockets left behind). Every process
 * it starts runs in its own process group and is killed on the way out.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../local-stack/stack.mjs";

const SOURCE = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const keep = process.argv.includes("--keep");
const BUILD_OUTPUTS = ["functions/lib", "tools/local-firestore/lib", "tools/sim/lib", "tools/client/dist"];
const CHAOS_EVENTS = 60;

const started = Date.now();
const children = new Set();
const results = [];
const since = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
const log = (line) => console.log(`[readme-commands] ${line}`);

/**
 * Last resort. The local stack puts the Firebase CLI in a process group of its own and stops it on SIGINT, so
 * every check ends what it started with `interrupt` first; this only catches what is left after that.
 */
function killAll() {
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Spawns `command` through bash in its own process group; collects its output. */
function launch(command, { cwd, env = {}, input = "ignore" } = {}) {
  const child = spawn("bash", ["-c", command], {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: [input, "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const listeners = new Set();
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      output += chunk;
      for (const listener of listeners) listener();
    });
  }
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    exited,
    output: () => output,
    /** Resolves when the output matches `pattern`; rejects on exit or after `timeoutMs`. */
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            cleanup();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} after ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            cleanup();
            reject(new Error(`exited before ${pattern}`));
          }
        });
        check();
      });
    },
  };
}

async function run(command, options = {}) {
  const proc = launch(command, options);
  const timer = setTimeout(() => process.kill(-proc.child.pid, "SIGKILL"), options.timeoutMs ?? 300_000);
  const { code, signal } = await proc.exited;
  clearTimeout(timer);
  return { code, signal, output: proc.output() };
}

/**
 * Ctrl-C: SIGINT to the whole process group, as a terminal sends it. npm/npx themselves may end by the signal
 * (exit 130); the program must end cleanly and leave no process of its group behind.
 */
async function interrupt(proc) {
  process.kill(-proc.child.pid, "SIGINT");
  const { code, signal } = await proc.exited;
  assert(
    code === 0 || code === 130 || signal === "SIGINT",
    `exit ${code ?? signal} after Ctrl-C\n${tail(proc.output())}`,
  );
  const deadline = Date.now() + 10_000;
  while (groupAlive(proc.child.pid)) {
    assert(Date.now() < deadline, `processes of the group ${proc.child.pid} still running 10 s after Ctrl-C`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function tail(text, lines = 25) {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

async function check(name, fn) {
  const t = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, time: since(t) });
    log(`ok    ${name} (${since(t)})`);
  } catch (error) {
    results.push({ name, ok: false, time: since(t) });
    log(`FAIL  ${name} (${since(t)}): ${error instanceof Error ? error.message : String(error)}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const tempEntries = (prefix) => new Set(readdirSync(os.tmpdir()).filter((name) => name.startsWith(prefix)));

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), "readme-commands-"));
  const repo = path.join(work, "repo");
  const unbuilt = () => {
    for (const dir of BUILD_OUTPUTS) rmSync(path.join(repo, dir), { recursive: true, force: true });
  };
  try {
    log(`cloning ${SOURCE} (HEAD) into ${repo}`);
    execFileSync("git", ["clone", "--quiet", "--no-hardlinks", SOURCE, repo], { stdio: "inherit" });

    let installed = false;
    await check("npm install (npm ci, the reproducible form)", async () => {
      const r = await run("npm ci --no-audit --no-fund", { cwd: repo, timeoutMs: 600_000 });
      assert(r.code === 0, `exit ${r.code}\n${tail(r.output)}`);
      installed = true;
    });
    if (!installed) return;

    await check("npx local-firestore (first run builds it)", async () => {
      unbuilt();
      const proc = launch("npx local-firestore --port 0", { cwd: repo });
      try {
        await proc.waitFor(/local-firestore ready on/, 120_000); // after its signal handlers exist
      } catch (error) {
        await interrupt(proc).catch(() => {});
        throw new Error(`${error.message}\n${tail(proc.output())}`);
      }
      await interrupt(proc);
      assert(
        /shutting down/.test(proc.output()),
        `no clean shutdown
${tail(proc.output())}`,
      );
      assert(!/Cannot find module/.test(proc.output()), "printed a module-not-found error");
    });

    await check(`npm run chaos -- --seed 5 --events ${CHAOS_EVENTS}`, async () => {
      unbuilt();
      const r = await run(`npm run chaos -- --seed 5 --events ${CHAOS_EVENTS}`, { cwd: repo });
      assert(r.code === 0, `exit ${r.code}\n${tail(r.output)}`);
      assert(/chaos seed=5 .* ok$/m.test(r.output), `no "chaos seed=5 … ok" line\n${tail(r.output)}`);
    });

    await check("npm run bench (results in a git-ignored dir; no tracked file changes)", async () => {
      unbuilt();
      const r = await run("npm run bench", { cwd: repo });
      assert(r.code === 0, `exit ${r.code}\n${tail(r.output)}`);
      const json = path.join(repo, "tools/sim/out/bench-latest.json");
      assert(existsSync(json), "no tools/sim/out/bench-latest.json");
      assert(
        /Wrote tools\/sim\/out\/bench-latest\.json/.test(r.output),
        `printed path\n${tail(r.output, 3)}`,
      );
      const status = execFileSync("git", ["status", "--porcelain"], { cwd: repo, encoding: "utf8" });
      assert(status.trim() === "", `the bench changed the work tree:\n${status}`);
    });

    await check("npm run bench -- --help", async () => {
      const r = await run("npm run bench -- --help", { cwd: repo });
      assert(r.code === 0, `exit ${r.code}\n${tail(r.output)}`);
      assert(/usage: npm run bench/.test(r.output), `no usage text\n${tail(r.output)}`);
    });

    await check("npm start: a busy port is refused before the build, naming its variable", async () => {
      unbuilt();
      const busy = net.createServer();
      await new Promise((resolve) => busy.listen(0, "127.0.0.1", resolve));
      const { port } = busy.address();
      try {
        const r = await run("npm start", {
          cwd: repo,
          env: { FIRESTORE_PORT: String(port) },
          timeoutMs: 60_000,
        });
        assert(r.code !== 0, "npm start succeeded on a busy port");
        assert(
          r.output.includes(`port ${port} is in use`) && r.output.includes("FIRESTORE_PORT="),
          tail(r.output),
        );
        assert(!existsSync(path.join(repo, "functions/lib")), "it built before checking the ports");
      } finally {
        busy.close();
      }
    });

    await check(
      "npm start: every printed line pasted as printed; confirm; Ctrl-C leaves nothing",
      async () => {
        unbuilt();
        const socketsBefore = tempEntries("fire_emu_");
        const stacksBefore = tempEntries("cp-stack-");
        const env = {
          FIRESTORE_PORT: String(await freePort()),
          FUNCTIONS_PORT: String(await freePort()),
          AUTH_PORT: String(await freePort()),
        };
        const stack = launch("npm start", { cwd: repo, env, input: "pipe" });
        let failure;
        try {
          try {
            await stack.waitFor(/^Ready in .*$/m, 240_000);
          } catch (error) {
            throw new Error(`${error.message}\n${tail(stack.output())}`);
          }
          const readyLines = stack.output().match(/\bready\b/gi) ?? [];
          assert(readyLines.length === 1, `expected one "ready" line, got ${readyLines.length}`);

          // The lines meant for pasting: the exports and every curl line, in the printed order.
          const printed = stack
            .output()
            .split("\n")
            .map((line) => line.trim())
            .filter((line) => line.startsWith("export ") || line.startsWith("curl "));
          const curls = printed.filter((line) => line.startsWith("curl "));
          assert(curls.length >= 8, `expected at least 8 curl lines, got ${curls.length}`);
          const script = printed
            .map((line, i) => (line.startsWith("curl ") ? `echo; echo "@@@ ${i}"\n${line}` : line))
            .join("\n");
          const pasted = await run(script, { cwd: os.tmpdir(), timeoutMs: 120_000 });
          assert(pasted.code === 0, `pasted lines exited ${pasted.code}\n${tail(pasted.output)}`);
          const replies = pasted.output
            .split(/^@@@ \d+$/m)
            .slice(1)
            .map((s) => s.trim());
          const problems = [];
          let paymentId;
          curls.forEach((line, i) => {
            const reply = replies[i] ?? "";
            const shortLine = line.slice(0, 110);
            if (line.includes("stripe-signature: t=0,v1=bad")) {
              if (!/signature/i.test(reply))
                problems.push(`${shortLine}\n  → expected the documented 400, got ${reply}`);
              return;
            }
            if (line.includes("/emulator/v1/export")) {
              if (!reply.includes("demo-course"))
                problems.push(`${shortLine}\n  → export lacks the demo course`);
              return;
            }
            let body;
            try {
              body = JSON.parse(reply);
            } catch {
              problems.push(`${shortLine}\n  → not JSON: ${reply.slice(0, 300)}`);
              return;
            }
            if (line.includes("signInWithPassword")) {
              if (typeof body.idToken !== "string")
                problems.push(`${shortLine}\n  → no idToken: ${reply.slice(0, 300)}`);
              return;
            }
            if (body.result === undefined) problems.push(`${shortLine}\n  → ${reply.slice(0, 300)}`);
            if (line.includes("/startPayment")) paymentId = body.result?.paymentId;
            if (line.includes("/refundPayment") && body.result?.applied !== true) {
              problems.push(`${shortLine}\n  → the printed refund should apply at once: ${reply}`);
            }
          });
          assert(problems.length === 0, `printed lines that fail:\n${problems.join("\n")}`);
          assert(typeof paymentId === "string", "startPayment gave no paymentId");

          stack.child.stdin.write(`confirm ${paymentId}\n`);
          await stack.waitFor(/webhook answered 200/, 30_000);
        } catch (error) {
          failure = error;
        }
        // Ctrl-C in every case: the stack stops the CLI it started (its own process group) and cleans up.
        await interrupt(stack).catch((error) => {
          failure ??= error;
        });
        if (failure !== undefined) throw failure;
        assert(/Stopped\./.test(stack.output()), `no 'Stopped.' line\n${tail(stack.output())}`);
        const leftSockets = [...tempEntries("fire_emu_")].filter((name) => !socketsBefore.has(name));
        const leftDirs = [...tempEntries("cp-stack-")].filter((name) => !stacksBefore.has(name));
        assert(leftSockets.length === 0, `left sockets in ${os.tmpdir()}: ${leftSockets.join(", ")}`);
        assert(leftDirs.length === 0, `left stack dirs in ${os.tmpdir()}: ${leftDirs.join(", ")}`);
      },
    );
  } finally {
    killAll();
    if (keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

await main();
const failed = results.filter((r) => !r.ok);
log(`${results.length - failed.length} of ${results.length} README commands ok in ${since(started)}`);
if (failed.length > 0 || results.length === 0) process.exit(1);
