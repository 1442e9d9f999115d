module.exports = async function globalTeardown() {
  const server = globalThis.__LOCAL_FIRESTORE__;
  if (server) await server.close();
};
