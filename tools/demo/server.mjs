/**
 * Serves the demo web app (public/) for a running local stack: the Firebase web SDK and the client package
 * through the browser-tests web server, /__/config.json with the stack's emulator addresses and demo users, and
 * two endpoints that play the customer's card at the local payment provider (the same confirm/fail path as
 * `npm start`'s stdin commands: stack.confirmPayment / stack.failPayment sign the event and post it to the
 * webhook), plus the App Check token the page's App Check provider fetches (an emulator-only token). Used by `npm start` (tools/local-stack/start.mjs) and by the browser tests.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
/** The browser-tests web server, loaded when a demo server starts: `npm start` builds that package first. */
const webServer = () => require("@course-payments/browser-tests");

export const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "public");
export const DEFAULT_DEMO_PORT = 5173;

/** A local provider payment id, as startPayment returned it. */
const PAYMENT_ID = /^pi_[A-Za-z0-9_]{1,100}$/;

function paymentIdOf(body) {
  const paymentId = body?.paymentId;
  if (typeof paymentId !== "string" || !PAYMENT_ID.test(paymentId)) {
    throw new (webServer().HttpError)(400, "paymentId must be a local payment id (pi_…)");
  }
  return paymentId;
}

/** What the page needs to reach the emulators: addresses only, never a secret (the tokens are the page's own). */
export function demoConfig(stack) {
  const functions = new URL(stack.urls.functions);
  const [host, port] = stack.urls.firestore.split(":");
  return {
    projectId: stack.projectId,
    apiKey: "demo-api-key",
    appId: stack.appId,
    authEmulatorUrl: stack.urls.auth,
    firestore: { host, port: Number(port) },
    functions: {
      host: functions.hostname,
      port: Number(functions.port),
      region: functions.pathname.split("/")[2],
    },
    demoUsers: {
      student: { email: stack.users.student.email, password: stack.users.student.password },
      admin: { email: stack.users.admin.email, password: stack.users.admin.password },
    },
  };
}

/** Starts the demo app's server for `stack` (the object startStack returns). Resolves with { url, close }. */
export async function startDemoServer(stack, { host = "127.0.0.1", port = DEFAULT_DEMO_PORT } = {}) {
  const webhookReply = async (promise) => {
    const reply = await promise;
    return { webhookStatus: reply.status };
  };
  return webServer().startWebServer({
    host,
    port,
    sites: { "/": PUBLIC_DIR },
    config: demoConfig(stack),
    api: {
      confirmPayment: (body) => webhookReply(stack.confirmPayment(paymentIdOf(body))),
      failPayment: (body) => webhookReply(stack.failPayment(paymentIdOf(body))),
      // The page's App Check provider asks here (see public/common.js).
      appCheckToken: async () => stack.appCheckToken(),
    },
  });
}
