// Runs the suite against this repo's local Firestore unless FIRESTORE_EMULATOR_HOST already
// points at another emulator (e.g. the official one under `firebase emulators:exec`).
// The address is exported before jest starts its workers, which inherit it.
module.exports = async function globalSetup() {
  if (process.env.FIRESTORE_EMULATOR_HOST) return;
  const { start } = require("@course-payments/local-firestore");
  // Indexes enforced as in production: a query needing an index missing from the repo's file fails.
  const indexes = require("node:path").resolve(__dirname, "../../../../firestore.indexes.json");
  const server = await start({ host: "127.0.0.1", port: 0, indexes });
  process.env.FIRESTORE_EMULATOR_HOST = server.address;
  globalThis.__LOCAL_FIRESTORE__ = server;
};
