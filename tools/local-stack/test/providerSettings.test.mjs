/** How the local stack chooses its webhook secret and payment provider from the environment (no stack started). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { providerSettings } from "../stack.mjs";

const URL = "http://127.0.0.1:5001/demo-courses/us-central1/paymentWebhook";

test("without settings: a fresh random webhook secret per run and the offline local provider", () => {
  const a = providerSettings({}, URL);
  const b = providerSettings({ STRIPE_WEBHOOK_SECRET: "   " }, URL);
  assert.match(a.webhookSecret, /^whsec_local_[0-9a-f]{48}$/);
  assert.notEqual(a.webhookSecret, b.webhookSecret);
  assert.equal(b.webhookSecretSource, "generated");
  assert.equal(a.provider, "local");
  assert.deepEqual(a.envFile, { PAYMENT_PROVIDER: "local", LOCAL_PROVIDER_WEBHOOK_URL: URL });
  assert.equal(a.secretFile.STRIPE_WEBHOOK_SECRET, a.webhookSecret);
});

test("STRIPE_WEBHOOK_SECRET (e.g. from `stripe listen`) is used as given", () => {
  const s = providerSettings({ STRIPE_WEBHOOK_SECRET: " whsec_from_stripe_listen " }, URL);
  assert.equal(s.webhookSecret, "whsec_from_stripe_listen");
  assert.equal(s.webhookSecretSource, "STRIPE_WEBHOOK_SECRET");
  assert.equal(s.secretFile.STRIPE_WEBHOOK_SECRET, "whsec_from_stripe_listen");
});

test("an sk_test_ STRIPE_SECRET_KEY selects Stripe test mode; a live key is refused", () => {
  const s = providerSettings({ STRIPE_SECRET_KEY: "sk_test_abc", STRIPE_WEBHOOK_SECRET: "whsec_x" }, URL);
  assert.equal(s.provider, "stripe");
  assert.deepEqual(s.envFile, { PAYMENT_PROVIDER: "stripe", STRIPE_MODE: "test" });
  assert.equal(s.secretFile.STRIPE_SECRET_KEY, "sk_test_abc");
  assert.throws(() => providerSettings({ STRIPE_SECRET_KEY: "sk_live_abc" }, URL), /test-mode keys/);
});
