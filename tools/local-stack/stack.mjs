/**
 * The local stack: the offline local Firestore (in-process) + the Firebase CLI's functions and auth emulators,
 * seeded with demo courses and users. Used by `npm start` (start.mjs) and the end-to-end smoke (test/).
 *
 * Nothing secret is written into the repository. The CLI runs against a throwaway project directory in the OS
 * temp dir: a generated firebase.json (the requested ports) and a `functions/` folder whose `lib` and
 * `node_modules` are symlinks to the real ones, plus a `.secret.local` holding the webhook secret (STRIPE_WEBHOOK_SECRET
 * from the environment, else a random one for this run) and a `.env.local` selecting the payment provider (the
 * offline local one, or Stripe test mode with an sk_test_ STRIPE_SECRET_KEY; see providerSettings). The temp
 * directory is removed on stop().
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const FUNCTIONS_DIR = path.join(REPO_ROOT, "functions");
const requireFromRoot = createRequire(path.join(REPO_ROOT, "package.json"));

export const HOST = "127.0.0.1";
export const REGION = "us-central1";
export const DEFAULT_PORTS = Object.freeze({ firestorePort: 8080, functionsPort: 5001, authPort: 9099 });

/** What the stack seeds. Passwords are for the local auth emulator only. */
export const DEMO = Object.freeze({
  course: Object.freeze({
    courseId: "demo-course",
    title: "Demo course",
    price: 4900,
    currency: "usd",
    published: true,
    /** Pay in three parts, 30 days apart, each with 3 days of grace (`enrollInCourse({planId: "three-parts"})`). */
    plans: Object.freeze({
      "three-parts": Object.freeze({ installments: 3, intervalDays: 30, graceDays: 3 }),
    }),
  }),
  freeCourse: Object.freeze({
    courseId: "free-course",
    title: "Free intro course",
    price: 0,
    currency: "usd",
    published: true,
  }),
  /** The demo course's content: one free preview, the rest readable once the course is paid (firestore.rules). */
  lessons: Object.freeze([
    Object.freeze({
      lessonId: "welcome",
      title: "Welcome (free preview)",
      order: 1,
      preview: true,
      body: "What this course covers.",
    }),
    Object.freeze({
      lessonId: "first-steps",
      title: "First steps",
      order: 2,
      body: "The first paid lesson.",
    }),
    Object.freeze({
      lessonId: "going-further",
      title: "Going further",
      order: 3,
      mediaRef: "videos/demo-course/going-further.mp4",
    }),
  ]),
  /** Graded on the server; the answer keys (`correct`) go to quizKeys, which no client can read. */
  quizzes: Object.freeze([
    Object.freeze({
      quizId: "first-steps-check",
      title: "First steps: check your understanding",
      kind: "quiz",
      lessonId: "first-steps",
      maxAttempts: 5,
      questions: [
        {
          id: "q1",
          prompt: "Who decides what a student paid?",
          choices: [
            { id: "a", text: "The browser" },
            { id: "b", text: "The server" },
          ],
          correct: ["b"],
        },
        {
          id: "q2",
          prompt: "Which writes can a client make to its enrollment? (all that apply)",
          choices: [
            { id: "a", text: "amountPaid" },
            { id: "b", text: "accessStatus" },
            { id: "c", text: "none" },
          ],
          correct: ["c"],
          multiple: true,
          points: 2,
        },
      ],
    }),
    Object.freeze({
      quizId: "going-further-video",
      title: "Going further: questions in the video",
      kind: "video",
      lessonId: "going-further",
      questions: [
        {
          id: "q1",
          prompt: "What did the video just show?",
          choices: [
            { id: "a", text: "A refund" },
            { id: "b", text: "A payment" },
          ],
          correct: ["b"],
          atSeconds: 42,
        },
      ],
    }),
  ]),
  student: Object.freeze({ email: "student@example.com", password: "student-password" }),
  admin: Object.freeze({ email: "admin@example.com", password: "admin-password" }),
  /** The web app's Firebase app id, as App Check tokens name it (`sub`). */
  appId: "1:000000000000:web:0000000000000000",
});

const READY_LINE = "All emulators ready";
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_TAIL_LINES = 60;

function run(command, args, options) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${[command, ...args].join(" ")} failed:\n${stdout}${stderr}`));
      } else {
        resolve();
      }
    });
  });
}

/** A port that was free a moment ago (for the CLI emulators, whose ports must be concrete). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Builds functions/lib and the local Firestore package (in parallel). */
export async function buildAll(log = () => {}) {
  const started = Date.now();
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  await Promise.all([
    run(npm, ["--prefix", "functions", "run", "build"], { cwd: REPO_ROOT }),
    run(
      process.execPath,
      [requireFromRoot.resolve("typescript/bin/tsc"), "-p", "tools/local-firestore/tsconfig.build.json"],
      { cwd: REPO_ROOT },
    ),
    // The demo web app serves the client package's builds through the browser-tests web server.
    run(npm, ["run", "build", "-w", "tools/client"], { cwd: REPO_ROOT }),
  ]);
  // browser-tests compiles against the local Firestore's and the client's declarations: after them.
  await run(npm, ["run", "build", "-w", "tools/browser-tests"], { cwd: REPO_ROOT });
  log(
    `built functions, local-firestore, client and browser-tests in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function fetchJson(url, init = {}) {
  const response = await fetch(url, init);
  const text = await response.text();
  let body;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

function dotenv(entries) {
  return Object.entries(entries)
    .map(([key, value]) => `${key}=${value}\n`)
    .join("");
}

/**
 * How the stack's functions talk to a payment provider, from the environment it is started in:
 *
 *   STRIPE_WEBHOOK_SECRET  the webhook signing secret (e.g. the `whsec_…` that `stripe listen` prints, or one of
 *                          your own to sign events by hand); unset or blank: a random one for this run.
 *   STRIPE_SECRET_KEY      an `sk_test_…` key: startPayment and refundPayment use Stripe's test mode for real
 *                          (network needed) instead of the offline local provider. Live keys are refused.
 *
 * Returns the dotenv contents of the run's `.secret.local` and `.env.local`, and what was chosen.
 */
export function providerSettings(env = process.env, webhookUrl = "") {
  const given = env.STRIPE_WEBHOOK_SECRET?.trim();
  const webhookSecret =
    given === undefined || given === "" ? `whsec_local_${randomBytes(24).toString("hex")}` : given;
  const secretKey = env.STRIPE_SECRET_KEY?.trim() ?? "";
  if (secretKey !== "" && !secretKey.startsWith("sk_test_") && !secretKey.startsWith("rk_test_")) {
    throw new Error("the local stack only uses Stripe test-mode keys (sk_test_… or rk_test_…)");
  }
  const provider = secretKey === "" ? "local" : "stripe";
  return {
    provider,
    webhookSecret,
    webhookSecretSource: given === undefined || given === "" ? "generated" : "STRIPE_WEBHOOK_SECRET",
    secretFile: {
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      STRIPE_SECRET_KEY: secretKey || "sk_test_local_unused",
    },
    envFile:
      provider === "local"
        ? { PAYMENT_PROVIDER: "local", LOCAL_PROVIDER_WEBHOOK_URL: webhookUrl }
        : { PAYMENT_PROVIDER: "stripe", STRIPE_MODE: "test" },
  };
}

/**
 * The throwaway project directory the CLI runs in. Returns its path and the provider settings (webhook secret).
 * The real functions/.env and .env.<projectId> are copied (so other params keep their values); our
 * .env.local takes precedence over both in the emulator.
 */
async function prepareProjectDir({ projectId, functionsPort, authPort, webhookUrl, providerEnv }) {
  // A short name: the CLI puts its runtimes' unix sockets (fire_emu_<16 hex>.sock) in TMPDIR, which we point
  // inside this directory so stop() removes them too, and socket paths are limited to ~104 characters.
  const dir = await mkdtemp(path.join(os.tmpdir(), "cp-stack-"));
  await mkdir(path.join(dir, "tmp"));
  const functionsDir = path.join(dir, "functions");
  await mkdir(functionsDir);
  await copyFile(path.join(FUNCTIONS_DIR, "package.json"), path.join(functionsDir, "package.json"));
  const linkType = process.platform === "win32" ? "junction" : "dir";
  await symlink(path.join(FUNCTIONS_DIR, "lib"), path.join(functionsDir, "lib"), linkType);
  await symlink(path.join(FUNCTIONS_DIR, "node_modules"), path.join(functionsDir, "node_modules"), linkType);
  for (const name of [".env", `.env.${projectId}`]) {
    await copyFile(path.join(FUNCTIONS_DIR, name), path.join(functionsDir, name)).catch((error) => {
      if (error.code !== "ENOENT") throw error;
    });
  }
  const settings = providerSettings(providerEnv, webhookUrl);
  await writeFile(path.join(functionsDir, ".secret.local"), dotenv(settings.secretFile), { mode: 0o600 });
  await writeFile(path.join(functionsDir, ".env.local"), dotenv(settings.envFile));
  // The runtime comes from the real firebase.json, so the emulator runs what a deploy would.
  const { functions: deployed } = JSON.parse(await readFile(path.join(REPO_ROOT, "firebase.json"), "utf8"));
  const firebaseJson = {
    functions: [
      {
        source: "functions",
        codebase: "default",
        runtime: deployed[0].runtime,
        ignore: ["node_modules", ".git", "firebase-debug.log", "firebase-debug.*.log", "*.local"],
      },
    ],
    emulators: {
      singleProjectMode: true,
      functions: { host: HOST, port: functionsPort },
      auth: { host: HOST, port: authPort },
      ui: { enabled: false },
    },
  };
  await writeFile(path.join(dir, "firebase.json"), JSON.stringify(firebaseJson, null, 2));
  return { dir, ...settings };
}

/** Spawns `firebase emulators:start` in its own process group and resolves once it reports ready. */
function spawnEmulators({ dir, projectId, firestoreAddress, log }) {
  const firebaseBin = path.join(
    path.dirname(requireFromRoot.resolve("firebase-tools/package.json")),
    "lib/bin/firebase.js",
  );
  const args = [
    firebaseBin,
    "emulators:start",
    "--only",
    "functions,auth",
    "--project",
    projectId,
    "--config",
    path.join(dir, "firebase.json"),
  ];
  const child = spawn(process.execPath, args, {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      FIRESTORE_EMULATOR_HOST: firestoreAddress,
      // The CLI and its function runtimes create their sockets in os.tmpdir(): keep them in the project dir.
      TMPDIR: path.join(dir, "tmp"),
      FIREBASE_CLI_DISABLE_UPDATE_CHECK: "true",
      NO_UPDATE_NOTIFIER: "1",
      NO_COLOR: "1",
    },
  });
  const tail = [];
  let ready = false;
  const readyPromise = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`emulators not ready after ${READY_TIMEOUT_MS / 1000} s:\n${tail.join("\n")}`));
    }, READY_TIMEOUT_MS);
    const onLine = (raw) => {
      // eslint-disable-next-line no-control-regex
      const line = raw.replace(/\u001b\[[0-9;]*m/g, "");
      tail.push(line);
      if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
      log(`[firebase] ${line}`);
      if (!ready && line.includes(READY_LINE)) {
        ready = true;
        clearTimeout(timer);
        resolve();
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) if (line.trim() !== "") onLine(line.trimEnd());
      });
    }
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code, signal) => {
      if (!ready) {
        clearTimeout(timer);
        const reason = tail.findLast((l) => l.startsWith("Error:")) ?? tail.at(-1) ?? "no output";
        reject(
          new Error(
            `firebase emulators exited (${signal ?? code}) before ready: ${reason}\n` +
              `--- recent output ---\n${tail.join("\n")}`,
          ),
        );
      }
    });
  });
  const exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return { child, readyPromise, exited, tail };
}

/** Signals the CLI's process group (the CLI and the function runtimes it spawned). */
function killGroup(child, signal, { evenIfLeaderExited = false } = {}) {
  if (child.pid === undefined) return;
  if (!evenIfLeaderExited && (child.exitCode !== null || child.signalCode !== null)) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if (error.code !== "ESRCH") throw error;
  }
}

/** Resolves with the snapshot once `predicate(data)` holds for the document; rejects after `timeoutMs`. */
export function waitForDoc(db, docPath, predicate, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    let last;
    let unsubscribe = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(
        new Error(`timed out after ${timeoutMs} ms waiting for ${docPath}; last: ${JSON.stringify(last)}`),
      );
    }, timeoutMs);
    unsubscribe = db.doc(docPath).onSnapshot(
      (snap) => {
        last = snap.data();
        if (snap.exists && predicate(last)) {
          clearTimeout(timer);
          unsubscribe();
          resolve(snap);
        }
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Starts the stack. Options: firestorePort, functionsPort, authPort (0 = any free port), projectId (a demo- id), log (line sink), build (default true: build functions and
 * the local Firestore first), firestoreLogLevel ("silent" | "info" | "debug"), handleSignals (default true:
 * on SIGINT/SIGTERM kill the emulators at once and re-raise; pass false when the caller handles the signals and
 * calls stop() itself, as start.mjs does). The returned `timings` are in ms: buildMs, then emulatorsReadyMs and
 * readyMs (seeded) counted from the end of the build.
 */
export async function startLocalStack({
  firestorePort = DEFAULT_PORTS.firestorePort,
  functionsPort = DEFAULT_PORTS.functionsPort,
  authPort = DEFAULT_PORTS.authPort,
  projectId = "demo-courses",
  log = () => {},
  build = true,
  firestoreLogLevel = "silent",
  handleSignals = true,
  /** Where STRIPE_WEBHOOK_SECRET and STRIPE_SECRET_KEY are read from (see providerSettings). */
  providerEnv = process.env,
} = {}) {
  if (!projectId.startsWith("demo-")) throw new Error("the local stack only runs demo- projects");
  // The CLI needs concrete ports: 0 means "any free one" for them too.
  if (functionsPort === 0) functionsPort = await freePort();
  if (authPort === 0) authPort = await freePort();
  // The stack only talks to local emulators: skip google-auth's GCE metadata-server probe (offline it warns or
  // waits). The functions emulator sets the same for its runtimes.
  process.env.METADATA_SERVER_DETECTION ??= "none";
  let startedAt = Date.now();
  const functionsBase = `http://${HOST}:${functionsPort}/${projectId}/${REGION}`;
  const authBase = `http://${HOST}:${authPort}/identitytoolkit.googleapis.com/v1`;
  const webhookUrl = `${functionsBase}/paymentWebhook`;

  let buildMs = 0;
  if (build) {
    await buildAll(log);
    buildMs = Date.now() - startedAt;
    startedAt = Date.now();
  }

  const cleanups = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (error) {
        log(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };

  try {
    const { start } = requireFromRoot("@course-payments/local-firestore");
    const firestoreServer = await start({
      host: HOST,
      port: firestorePort,
      functionsEmulator: `${HOST}:${functionsPort}`,
      projectId,
      logLevel: firestoreLogLevel,
      // Queries needing an index missing from firestore.indexes.json fail, as after deploy.
      indexes: path.join(REPO_ROOT, "firestore.indexes.json"),
    });
    cleanups.push(() => firestoreServer.close());
    log(`local Firestore on ${firestoreServer.address}`);
    try {
      const rules = await readFile(path.join(REPO_ROOT, "firestore.rules"), "utf8");
      firestoreServer.loadRules(projectId, rules);
    } catch (error) {
      log(`firestore.rules not loaded (${error instanceof Error ? error.message : String(error)})`);
    }

    const { Firestore } = requireFromRoot("@google-cloud/firestore");
    const db = new Firestore({ projectId, host: firestoreServer.address, ssl: false });
    cleanups.push(() => db.terminate());

    const project = await prepareProjectDir({ projectId, functionsPort, authPort, webhookUrl, providerEnv });
    cleanups.push(() => rm(project.dir, { recursive: true, force: true }));

    const emulators = spawnEmulators({
      dir: project.dir,
      projectId,
      firestoreAddress: firestoreServer.address,
      log,
    });
    // Last resort if this process ends without stop() (an uncaught error, or a signal with no handler — e.g.
    // Ctrl-C during `node --test`): never leave the detached CLI, its runtimes or the secret behind.
    const emergencyCleanup = () => {
      killGroup(emulators.child, "SIGKILL", { evenIfLeaderExited: true });
      rmSync(project.dir, { recursive: true, force: true });
    };
    const onSignal = (signal) => {
      emergencyCleanup();
      removeSafetyNets();
      // Re-raise so the default action (exit) happens, unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    const removeSafetyNets = () => {
      process.off("exit", emergencyCleanup);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
    process.on("exit", emergencyCleanup);
    if (handleSignals) {
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    }
    cleanups.push(async () => {
      removeSafetyNets();
      killGroup(emulators.child, "SIGINT");
      const timer = setTimeout(() => killGroup(emulators.child, "SIGKILL"), STOP_TIMEOUT_MS);
      await emulators.exited;
      clearTimeout(timer);
      // Anything the CLI left behind in its group goes too.
      killGroup(emulators.child, "SIGKILL", { evenIfLeaderExited: true });
    });
    await emulators.readyPromise;
    const emulatorsReadyMs = Date.now() - startedAt;

    // The local provider's event builders and its payment view, from the freshly built functions code.
    const requireBuilt = createRequire(import.meta.url);
    const localEvents = requireBuilt(path.join(FUNCTIONS_DIR, "lib/services/payments/local/localEvents.js"));
    const { localPaymentView } = requireBuilt(
      path.join(FUNCTIONS_DIR, "lib/services/payments/local/localProvider.js"),
    );

    // Every callable enforces App Check. The functions emulator decodes App Check tokens without verifying them,
    // so the stack mints unsigned ones (the test kit's); deployed functions would refuse them.
    const { emulatorAppCheckToken } = requireBuilt(path.join(FUNCTIONS_DIR, "lib/testing/kit.js"));
    const appCheckToken = () => ({
      token: emulatorAppCheckToken(projectId, DEMO.appId),
      expireTimeMillis: Date.now() + 3_600_000,
    });

    /** POSTs a callable request; `appCheck: false` leaves the App Check token out. */
    const callFunction = async (name, data, token, { appCheck = true } = {}) => {
      const headers = { "content-type": "application/json" };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (appCheck) headers["x-firebase-appcheck"] = appCheckToken().token;
      const { status, body } = await fetchJson(`${functionsBase}/${name}`, {
        method: "POST",
        headers,
        body: JSON.stringify({ data }),
      });
      return { status, body, result: body?.result, error: body?.error };
    };

    const postWebhook = async (rawBody, signatureHeader) => {
      const headers = { "content-type": "application/json" };
      if (signatureHeader !== undefined) headers["stripe-signature"] = signatureHeader;
      return fetchJson(webhookUrl, { method: "POST", headers, body: rawBody });
    };

    /** A local payment by its id, or by the id of the hosted page (`cs_…`) that pays it. */
    const loadLocalPayment = async (id, markStatus) => {
      const paymentId = id.startsWith("cs_")
        ? ((await db.collection("localProvider").where("session.id", "==", id).limit(1).get()).docs[0]?.id ??
          id)
        : id;
      const ref = db.collection("localProvider").doc(paymentId);
      return db.runTransaction(async (tx) => {
        const snap = await tx.get(ref);
        if (!snap.exists) throw new Error(`no local payment ${paymentId}`);
        const doc = snap.data();
        if (markStatus !== undefined && doc.status !== markStatus) tx.update(ref, { status: markStatus });
        return doc;
      });
    };

    const sendEvent = async (event) => {
      const { rawBody, signature } = await localEvents.signEvent(event, project.webhookSecret);
      const reply = await postWebhook(rawBody, signature);
      return { ...reply, event };
    };

    /**
     * What the customer's card and Stripe would do: mark the payment succeeded, send the signed event — for a hosted
     * page's payment (`cs_…`), `checkout.session.completed` first, as Stripe sends both.
     */
    const confirmPayment = async (id) => {
      const doc = await loadLocalPayment(id, "succeeded");
      const view = localPaymentView(doc);
      if (doc.session) {
        await db.collection("localProvider").doc(doc.id).update({ "session.status": "complete" });
        await sendEvent(localEvents.checkoutSessionEvent(view, doc.session.id, "checkout.session.completed"));
      }
      return sendEvent(localEvents.paymentSucceededEvent(view));
    };

    /**
     * The simulated clock: runs the installment deadline job (the deployed code, services/installmentService, which
     * markInstallmentDeadlines runs every hour) as if `aheadDays` days had passed, against this stack's Firestore.
     * The functions emulator does not run schedules, so this is also how the job runs at all here.
     */
    const runInstallmentDeadlines = async ({ aheadDays = 0, limit } = {}) => {
      // The backend's firebase-admin (loaded lazily by the service) finds the local Firestore as in the emulator.
      process.env.FIRESTORE_EMULATOR_HOST = firestoreServer.address;
      process.env.GCLOUD_PROJECT = projectId;
      const { markPassedDeadlines } = requireBuilt(
        path.join(FUNCTIONS_DIR, "lib/services/installmentService.js"),
      );
      return markPassedDeadlines({ nowMs: Date.now() + aheadDays * 24 * 3600 * 1000, limit });
    };

    /** A declined card: sends a signed `payment_intent.payment_failed`. */
    const failPayment = async (paymentId) =>
      sendEvent(localEvents.paymentFailedEvent(localPaymentView(await loadLocalPayment(paymentId))));

    const authCall = async (pathAndQuery, body, headers = {}) => {
      const reply = await fetchJson(`${authBase}/${pathAndQuery}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
      if (reply.status !== 200) {
        throw new Error(`auth emulator ${pathAndQuery}: ${reply.status} ${JSON.stringify(reply.body)}`);
      }
      return reply.body;
    };
    const signUp = (user) => authCall("accounts:signUp?key=fake", { ...user, returnSecureToken: true });
    const signIn = (user) =>
      authCall("accounts:signInWithPassword?key=fake", { ...user, returnSecureToken: true });

    // Seed: two users; the admin gets its claim (what the Admin SDK's setCustomUserClaims sends), then signs in
    // again so its ID token carries the claim.
    // Both addresses are marked verified (as after the user clicked the verification link): the backend stores a
    // token's email on the profile only when it is verified.
    const [studentAccount, adminAccount] = await Promise.all([signUp(DEMO.student), signUp(DEMO.admin)]);
    await Promise.all(
      [
        { localId: studentAccount.localId, emailVerified: true },
        {
          localId: adminAccount.localId,
          emailVerified: true,
          customAttributes: JSON.stringify({ admin: true }),
        },
      ].map((update) =>
        authCall(`projects/${projectId}/accounts:update`, update, { authorization: "Bearer owner" }),
      ),
    );
    const [student, admin] = await Promise.all([signIn(DEMO.student), signIn(DEMO.admin)]);
    const tokens = { student: student.idToken, admin: admin.idToken };

    await Promise.all(
      [DEMO.course, DEMO.freeCourse].map(async (course) => {
        const reply = await callFunction("upsertCourse", course, tokens.admin);
        if (reply.status !== 200) {
          throw new Error(
            `seeding ${course.courseId} via upsertCourse: ${reply.status} ${JSON.stringify(reply.body)}`,
          );
        }
      }),
    );
    for (const lesson of DEMO.lessons) {
      const reply = await callFunction(
        "upsertLesson",
        { courseId: DEMO.course.courseId, ...lesson },
        tokens.admin,
      );
      if (reply.status !== 200) {
        throw new Error(
          `seeding lesson ${lesson.lessonId} via upsertLesson: ${reply.status} ${JSON.stringify(reply.body)}`,
        );
      }
    }
    for (const quiz of DEMO.quizzes) {
      const reply = await callFunction(
        "upsertQuiz",
        { courseId: DEMO.course.courseId, ...quiz },
        tokens.admin,
      );
      if (reply.status !== 200) {
        throw new Error(
          `seeding quiz ${quiz.quizId} via upsertQuiz: ${reply.status} ${JSON.stringify(reply.body)}`,
        );
      }
    }
    const readyMs = Date.now() - startedAt;

    let stopping;
    return {
      projectId,
      appId: DEMO.appId,
      /** The webhook signing secret of this run, and where it came from ("STRIPE_WEBHOOK_SECRET" or "generated"). */
      webhookSecret: project.webhookSecret,
      webhookSecretSource: project.webhookSecretSource,
      /** "local" (offline) or "stripe" (Stripe test mode, when STRIPE_SECRET_KEY is an sk_test_ key). */
      provider: project.provider,
      urls: {
        firestore: firestoreServer.address,
        functions: functionsBase,
        auth: `http://${HOST}:${authPort}`,
        webhook: webhookUrl,
        callable: (name) => `${functionsBase}/${name}`,
      },
      users: {
        student: { uid: student.localId, email: DEMO.student.email, password: DEMO.student.password },
        admin: { uid: admin.localId, email: DEMO.admin.email, password: DEMO.admin.password },
      },
      tokens,
      timings: { buildMs, emulatorsReadyMs, readyMs },
      db,
      firestoreServer,
      callFunction,
      appCheckToken,
      postWebhook,
      /** Signs a Stripe-format event (the backend's local event builders: `stack.localEvents`) and posts it. */
      sendEvent,
      localEvents,
      confirmPayment,
      failPayment,
      runInstallmentDeadlines,
      signIn,
      waitForDoc: (docPath, predicate, timeoutMs) => waitForDoc(db, docPath, predicate, timeoutMs),
      stop: () => {
        stopping ??= cleanup();
        return stopping;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
