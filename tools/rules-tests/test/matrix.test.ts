/**
 * The access matrix for firestore.rules through the Node SDK (@firebase/rules-unit-testing, gRPC):
 * every cell of POLICY in support/matrix.ts is one test. matrix.browser.test.ts runs the same cells
 * through the web SDK in Chromium.
 */
import { createTestEnvironment, dbFor, emulatorFromEnv, EnvironmentHolder, ROLES } from "./support/env";
import { SEED } from "./support/fixtures";
import { CELLS, POLICY, runCell, sdkClient, TARGETS, type Target } from "./support/matrix";

// Fails the whole file, loudly, when no emulator is configured.
const emulator = emulatorFromEnv();

const holder = new EnvironmentHolder();

beforeAll(async () => {
  holder.set(await createTestEnvironment(emulator));
});

beforeEach(async () => {
  await holder.get().clearFirestore();
});

afterAll(async () => {
  await holder.cleanup();
});

describe("the policy table", () => {
  test("has exactly one row per target × role", () => {
    const expected = Object.keys(TARGETS).flatMap((target) => ROLES.map((role) => `${target}/${role}`));
    const actual = POLICY.map(([target, role]) => `${target}/${role}`);
    expect([...actual].sort()).toEqual([...expected].sort());
  });

  test("targets read and write documents that the fixtures define", () => {
    for (const target of Object.values(TARGETS) as Target[]) {
      expect(SEED[target.doc]).toBeDefined();
      for (const path of target.listReturns) {
        expect(SEED[path]).toBeDefined();
      }
    }
  });
});

describe("access matrix", () => {
  test.each(CELLS)("$name", async (cell) => {
    const testEnv = holder.get();
    await runCell(testEnv, sdkClient(dbFor(testEnv, cell.role)), cell);
  });
});
