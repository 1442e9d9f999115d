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
  indexes?: Array<{ collectionGroup: string; fields: Array<{ fieldPath: string }> }>;
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
      .doc(`enrollments/e1/${COLLECTIONS.ledger}/pi_1`)
      .set({ providerPaymentId: "pi_1", amountCents: 100 });
    const found = await ledgerEntriesByProviderPaymentId("pi_1").get();
    expect(found.docs.map((d) => d.ref.path)).toEqual([`enrollments/e1/${COLLECTIONS.ledger}/pi_1`]);

    // The copy drops every index entry (single-field override or composite) on providerPaymentId.
    const file = JSON.parse(readFileSync(INDEXES_PATH, "utf8")) as IndexesFile;
    const copy: IndexesFile = {
      ...file,
      indexes: (file.indexes ?? []).filter((i) => !i.fields.some((f) => f.fieldPath === "providerPaymentId")),
      fieldOverrides: (file.fieldOverrides ?? []).filter((o) => o.fieldPath !== "providerPaymentId"),
    };
    const entries = (f: IndexesFile): number => (f.indexes?.length ?? 0) + (f.fieldOverrides?.length ?? 0);
    expect(entries(copy)).toBeLessThan(entries(file));
    const copyPath = path.join(dir, "firestore.indexes.json");
    writeFileSync(copyPath, JSON.stringify(copy));
    server().setIndexes(copyPath);

    await expect(ledgerEntriesByProviderPaymentId("pi_1").get()).rejects.toMatchObject({
      code: 9,
      // Production's wording for a missing collection-group single-field index (or, had the lookup
      // grown an order, for a missing composite index).
      message: expect.stringMatching(
        new RegExp(
          `The query requires (a COLLECTION_GROUP_ASC index for collection ${COLLECTIONS.ledger} and field providerPaymentId|an index)\\. You can create it here: https://console\\.firebase\\.google\\.com/`,
        ),
      ) as unknown,
    });
  });
});
