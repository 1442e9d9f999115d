/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.json" }] },
  // Every file loads rules into, and clears, the same emulator project
  // ("demo-courses"; firebase.json sets singleProjectMode), so files must not
  // run in parallel: one file's clearFirestore() would wipe another's seed.
  maxWorkers: 1,
  testTimeout: 30000,
  globalSetup: "<rootDir>/test/support/globalSetup.js",
  globalTeardown: "<rootDir>/test/support/globalTeardown.js",
};
