#!/usr/bin/env node
/**
 * `npm start`: the local stack on the default ports (Firestore 8080, functions 5001, auth 9099), seeded with a
 * demo course, a free course, a demo student and a demo admin. Prints the URLs, the demo users' ID tokens and
 * one curl line per function (each works pasted as printed, in order), then reads commands from stdin
 * (`confirm <paymentId|sessionId>`, `fail <paymentId>`, `deadlines <days>`, `tokens`, `help`) until Ctrl-C, which stops everything.
 *
 * Environment: FIRESTORE_PORT, FUNCTIONS_PORT, AUTH_PORT, DEMO_PORT override the ports (checked before the build);
 * STRIPE_WEBHOOK_SECRET chooses the webhook signing secret (else one is generated and printed); STRIPE_SECRET_KEY
 * (sk_test_… only) switches from the offline local provider to Stripe test mode; LOCAL_STACK_SKIP_BUILD=1 skips
 * the build; LOCAL_STACK_VERBOSE=1 prints the emulators' output.
 */
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { DEFAULT_DEMO_PORT, startDemoServer } from "../demo/server.mjs";
import { DEFAULT_PORTS, DEMO, HOST, startLocalStack } from "./stack.mjs";

const verbose = process.env.LOCAL_STACK_VERBOSE === "1";
/** The ports this run uses: each one's default and the environment variable that overrides it. */
const PORTS = [
  { key: "firestorePort", env: "FIRESTORE_PORT", what: "local Firestore" },
  { key: "functionsPort", env: "FUNCTIONS_PORT", what: "functions emulator" },
  { key: "authPort", env: "AUTH_PORT", what: "auth emulator" },
  { key: "demoPort", env: "DEMO_PORT", what: "demo web app" },
];
const DEFAULTS = { ...DEFAULT_PORTS, demoPort: DEFAULT_DEMO_PORT };

function chosenPorts() {
  const ports = {};
  for (const { key, env } of PORTS) {
    const value = process.env[env];
    const port = value === undefined || value === "" ? DEFAULTS[key] : Number(value);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`${env}=${value} is not a port number (1–65535)`);
    }
    ports[key] = port;
  }
  return ports;
}

/** Resolves with an error message when `port` cannot be bound on the stack's host, else undefined. */
function probePort(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (error) => resolve(error.code === "EADDRINUSE" ? "is in use" : error.message));
    server.listen(port, HOST, () => server.close(() => resolve(undefined)));
  });
}

/** Fails fast, before the build, when a port is taken, naming the variable that moves it. */
async function checkPorts(ports) {
  const problems = [];
  for (const { key, env, what } of PORTS) {
    const problem = await probePort(ports[key]);
    if (problem !== undefined) {
      problems.push(`  ${what}: port ${ports[key]} ${problem}; choose another with ${env}=<port>`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `Cannot start the local stack:\n${problems.join("\n")}\n` +
        `e.g. FIRESTORE_PORT=8180 FUNCTIONS_PORT=5101 AUTH_PORT=9199 DEMO_PORT=5273 npm start`,
    );
  }
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function printUsage(stack, demo) {
  const { urls, users } = stack;
  const exportFile = path.join(os.tmpdir(), `local-stack-${stack.projectId}.json`);
  const callable = (name, token, data) =>
    `curl -s -X POST ${urls.callable(name)} -H 'content-type: application/json' ` +
    `-H "authorization: Bearer $${token}" -H "x-firebase-appcheck: $APP_CHECK_TOKEN" ` +
    `-d '${JSON.stringify({ data })}'`;
  const lines = [
    "",
    "Local stack is up (project " + stack.projectId + ").",
    "",
    `  Firestore (local-firestore)  FIRESTORE_EMULATOR_HOST=${urls.firestore}`,
    `  Functions emulator           ${urls.functions}/<name>`,
    `  Auth emulator                FIREBASE_AUTH_EMULATOR_HOST=${urls.auth.replace("http://", "")}`,
    `  Payment webhook              ${urls.webhook}`,
    `  Webhook signing secret       ${stack.webhookSecret}   (${
      stack.webhookSecretSource === "generated"
        ? "generated for this run; set STRIPE_WEBHOOK_SECRET to choose it"
        : "from STRIPE_WEBHOOK_SECRET"
    })`,
    `  Payment provider             ${
      stack.provider === "local"
        ? "local (offline; set STRIPE_SECRET_KEY=sk_test_… for Stripe test mode)"
        : "Stripe test mode (STRIPE_SECRET_KEY)"
    }`,
    "",
    "Forward Stripe's test-mode events here with the Stripe CLI (start this stack with the whsec_… it prints as",
    "STRIPE_WEBHOOK_SECRET):",
    `  stripe listen --forward-to ${urls.webhook}`,
    "",
    `Demo web app (open in a browser): student ${demo.url}/   admin ${demo.url}/admin.html`,
    "",
    "Demo users (auth emulator; the tokens are unsigned emulator tokens, valid for 1 hour):",
    `  student ${users.student.email} / ${users.student.password}  uid ${users.student.uid}`,
    `  admin   ${users.admin.email} / ${users.admin.password}  uid ${users.admin.uid}  (claim admin: true)`,
    "",
    "Paste into another shell:",
    `  export STUDENT_TOKEN=${stack.tokens.student}`,
    `  export ADMIN_TOKEN=${stack.tokens.admin}`,
    `  export APP_CHECK_TOKEN=${stack.appCheckToken().token}`,
    "",
    "Every callable enforces App Check: a call without x-firebase-appcheck answers 401 UNAUTHENTICATED. The",
    "App Check token above is unsigned (valid for 1 hour): only the functions emulator accepts it.",
    "",
    "Courses: demo-course (4900 usd, published; installment plan three-parts: 3 parts 30 days apart, 3 days",
    "of grace — enroll with {courseId, planId: 'three-parts'} instead of the first line below), free-course",
    "(free, published).",
    "",
    "One call per function:",
    `  ${callable("enrollInCourse", "STUDENT_TOKEN", { courseId: DEMO.course.courseId })}`,
    `  ${callable("startPayment", "STUDENT_TOKEN", { courseId: DEMO.course.courseId, requestId: "req-0001-demo" })}`,
    `  ${callable("upsertCourse", "ADMIN_TOKEN", { courseId: "new-course", title: "New course", price: 1999, currency: "usd", published: true })}`,
    `  ${callable("checkInstallmentDeadlines", "ADMIN_TOKEN", {})}`,
    `  ${callable("recordManualPayment", "ADMIN_TOKEN", { uid: users.student.uid, courseId: DEMO.course.courseId, amount: 1000, reference: "cash-0001" })}`,
    `  ${callable("refundPayment", "ADMIN_TOKEN", { uid: users.student.uid, courseId: DEMO.course.courseId, paymentId: "manual_cash-0001", amount: 500, requestId: "refund-0001-demo" })}`,
    `  curl -s -X POST ${urls.webhook} -H 'content-type: application/json' -H 'stripe-signature: t=0,v1=bad' -d '{}'   # 400: signed events come from "confirm"`,
    "  onEnrollmentWritten runs on every enrollment write; see courseStats/demo-course.",
    "",
    "The refund above is of the manual payment (ledger id manual_<reference>), so it applies at once",
    "(applied: true). A refund of a card payment (paymentId pi_…) answers applied: false with the provider's",
    "status: the money moves when the provider's refund event reaches the webhook (the local provider sends",
    "it right away), exactly once, as in production.",
    "",
    "Look at the data (every document of the local Firestore, as JSON):",
    `  curl -s -X POST http://${urls.firestore}/emulator/v1/export -d '{"path":"${exportFile}"}' && cat ${exportFile}`,
    "",
    "Confirm a local payment (what the customer's card would do): type here",
    "  confirm <paymentId>     sends a signed payment_intent.succeeded to the webhook (a cs_… id: pays that",
    "                          hosted page: checkout.session.completed, then payment_intent.succeeded)",
    "  fail <paymentId>        sends a signed payment_intent.payment_failed",
    "  deadlines <days>        runs the installment deadline job as if <days> days had passed (the simulated",
    "                          clock): an unpaid overdue installment suspends access; paying it restores it",
    "  tokens                  prints fresh ID and App Check tokens",
    "A new token from another shell:",
    `  curl -s -X POST '${urls.auth}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=fake' ` +
      `-H 'content-type: application/json' -d '{"email":"${users.student.email}","password":"${users.student.password}","returnSecureToken":true}'`,
    "",
    "Ctrl-C stops everything.",
    "",
  ];
  console.log(lines.join("\n"));
}

async function main() {
  const started = Date.now();
  const ports = chosenPorts();
  await checkPorts(ports);
  console.log("Starting the local stack (build, local Firestore, functions + auth emulators)…");
  const { demoPort, ...stackPorts } = ports;
  const stack = await startLocalStack({
    ...stackPorts,
    build: process.env.LOCAL_STACK_SKIP_BUILD !== "1",
    handleSignals: false,
    log: (line) => {
      if (verbose || !line.startsWith("[firebase]")) console.log(line);
    },
  });
  let demo;
  try {
    demo = await startDemoServer(stack, { port: demoPort });
  } catch (error) {
    await stack.stop();
    throw error;
  }
  printUsage(stack, demo);
  const { buildMs, emulatorsReadyMs, readyMs } = stack.timings;
  console.log(
    `Ready in ${seconds(Date.now() - started)} (build ${seconds(buildMs)}, emulators ${seconds(emulatorsReadyMs)}, ` +
      `seeding ${seconds(readyMs - emulatorsReadyMs)}).`,
  );

  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: false });
  let stopping = false;
  const shutdown = async (reason) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${reason}: stopping the local stack…`);
    rl.close();
    await demo.close();
    await stack.stop();
    console.log("Stopped.");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  rl.on("line", (input) => {
    const [command, arg] = input.trim().split(/\s+/);
    const report = (promise) =>
      promise.then(
        (reply) => console.log(`webhook answered ${reply.status} ${JSON.stringify(reply.body)}`),
        (error) => console.log(`failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    if (command === "confirm" && arg) void report(stack.confirmPayment(arg));
    else if (command === "fail" && arg) void report(stack.failPayment(arg));
    else if (command === "deadlines" && /^\d+$/.test(arg ?? "")) {
      void stack.runInstallmentDeadlines({ aheadDays: Number(arg) }).then(
        (result) => console.log(`deadline job (clock +${arg} days): ${JSON.stringify(result)}`),
        (error) => console.log(`failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    } else if (command === "tokens") {
      void Promise.all([stack.signIn(DEMO.student), stack.signIn(DEMO.admin)]).then(([s, a]) => {
        console.log(
          `export STUDENT_TOKEN=${s.idToken}\nexport ADMIN_TOKEN=${a.idToken}\n` +
            `export APP_CHECK_TOKEN=${stack.appCheckToken().token}`,
        );
      });
    } else if (command) {
      console.log(
        "commands: confirm <paymentId> | fail <paymentId> | deadlines <days> | tokens   (Ctrl-C stops)",
      );
    }
  });
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
