/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.json" }] },
  testTimeout: 30000,
  // Against an emulator given in FIRESTORE_EMULATOR_HOST, the conformance files share one
  // database and clear it before each test: run the files one at a time.
  ...(process.env.FIRESTORE_EMULATOR_HOST ? { maxWorkers: 1 } : {}),
};
