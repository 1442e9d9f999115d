// Runs the suite against this repo's local Firestore unless FIRESTORE_EMULATOR_HOST already
// points at another emulator (e.g. the official one under `firebase emulators:exec`).
// The address is exported before jest starts its workers, which inherit it.
module.exports = async function globalSetup() {
  if (process.env.FIRESTORE_EMULATOR_HOST) return;
  const { start } = require("@course-payments/local-firestore");
  const server = await start({ host: "127.0.0.1", port: 0 });
  process.env.FIRESTORE_EMULATOR_HOST = server.address;
  globalThis.__LOCAL_FIRESTORE__ = server;
};
