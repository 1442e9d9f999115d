/**
 * The local Firestore enforces firestore.indexes.json as production does (test/support/localFirestore.ts
 * starts it with the repo's file), so a query added without its index fails here, not after deploy. This
 * proves it for the backend's own collection-group lookup of ledger entries by provider payment id: served
 * with the repo's file, refused (FAILED_PRECONDITION, naming the index to add) with a copy lacking its entry.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { COLLECTIONS, ledgerEntriesByProviderPaymentId } from "../../src/services/firestore/refs";
import { firestore } from "../../src/shared/admin";
import { INDEXES_PATH, useLocalFirestore } from "../support/localFirestore";

const { server } = useLocalFirestore();

interface IndexesFile {
  indexes?: unknown[];
  fieldOverrides?: Array<{ collectionGroup: string; fieldPath: string }>;
}

describe("firestore.indexes.json", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "indexes-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    server().setIndexes(INDEXES_PATH);
  });

  it("serves the ledger lookup by providerPaymentId; a copy without its index makes the lookup fail", async () => {
    await firestore()
      .doc(`enrollments/e1/${COLLECTIONS.payments}/pi_1`)
      .set({ providerPaymentId: "pi_1", amountCents: 100 });
    const found = await ledgerEntriesByProviderPaymentId("pi_1").get();
    expect(found.docs.map((d) => d.ref.path)).toEqual([`enrollments/e1/${COLLECTIONS.payments}/pi_1`]);

    const file = JSON.parse(readFileSync(INDEXES_PATH, "utf8")) as IndexesFile;
    const copy: IndexesFile = {
      ...file,
      fieldOverrides: (file.fieldOverrides ?? []).filter((o) => o.fieldPath !== "providerPaymentId"),
    };
    expect(copy.fieldOverrides?.length).toBeLessThan(file.fieldOverrides?.length ?? 0);
    const copyPath = path.join(dir, "firestore.indexes.json");
    writeFileSync(copyPath, JSON.stringify(copy));
    server().setIndexes(copyPath);

    await expect(ledgerEntriesByProviderPaymentId("pi_1").get()).rejects.toMatchObject({
      code: 9,
      message: expect.stringContaining(
        `The query requires a COLLECTION_GROUP_ASC index for collection ${COLLECTIONS.payments} and field providerPaymentId.`,
      ) as unknown,
    });
  });
});
