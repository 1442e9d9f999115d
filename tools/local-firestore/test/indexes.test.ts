/**
 * Index enforcement (`start({ indexes })` / `--indexes`): queries that production serves only with a
 * composite or collection-group index fail with FAILED_PRECONDITION and production's message when
 * the index is missing from the file, and succeed once it is declared. Driven through firebase-admin.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

import { deleteApp, initializeApp } from "firebase-admin/app";
import type { App } from "firebase-admin/app";
import { FieldPath, FieldValue, getFirestore } from "firebase-admin/firestore";
import type { Firestore, Query } from "firebase-admin/firestore";

import { start } from "../src";
import type { IndexesFile, LocalFirestore } from "../src";

process.env.METADATA_SERVER_DETECTION ??= "none";
const PROJECT = "demo-indexes";
const REPO_INDEXES = path.resolve(__dirname, "../../../firestore.indexes.json");

let server: LocalFirestore;
let app: App;
let db: Firestore;

beforeAll(async () => {
  server = await start({ host: "127.0.0.1", port: 0, projectId: PROJECT, indexes: { indexes: [] } });
  process.env.FIRESTORE_EMULATOR_HOST = server.address;
  app = initializeApp({ projectId: PROJECT }, "indexes-test");
  db = getFirestore(app);
  await db
    .batch()
    .set(db.doc("cities/a"), { state: "CA", n: 1, tags: ["x"], kind: "k" })
    .commit();
  await db.doc("cities/a/ledger/p").set({ providerPaymentId: "pi_1", amount: 5 });
});

afterAll(async () => {
  await db.terminate();
  await deleteApp(app);
  await server.close();
});

/** Resolves to "ok", or to the failure's gRPC code and message. */
async function outcome(q: Query): Promise<"ok" | { code: unknown; message: string }> {
  try {
    await q.get();
    return "ok";
  } catch (err) {
    const e = err as { code?: unknown; details?: string; message: string };
    return { code: e.code, message: e.details ?? e.message };
  }
}

async function expectIndexError(q: Query, definition: unknown): Promise<void> {
  const result = await outcome(q);
  expect(result).toMatchObject({ code: 9 });
  const message = (result as { message: string }).message;
  expect(message).toMatch(
    /^The query requires an index\. You can create it here: https:\/\/console\.firebase\.google\.com\/v1\/r\/project\/demo-indexes\/firestore\/indexes\?create_composite=[A-Za-z0-9+/]+ /,
  );
  expect(message).toContain(`add to "indexes" in firestore.indexes.json: ${JSON.stringify(definition)}`);
}

describe("composite indexes", () => {
  beforeEach(() => {
    server.setIndexes({ indexes: [] });
  });

  it("are not needed for equality filters on several fields, one range or order field, or none", async () => {
    expect(await outcome(db.collection("cities").where("state", "==", "CA").where("kind", "==", "k"))).toBe(
      "ok",
    );
    expect(
      await outcome(db.collection("cities").where("tags", "array-contains", "x").where("state", "==", "CA")),
    ).toBe("ok");
    expect(await outcome(db.collection("cities").where("n", ">", 0).orderBy("n", "desc"))).toBe("ok");
    expect(await outcome(db.collection("cities").orderBy("n", "desc").limit(1))).toBe("ok");
    expect(await outcome(db.collection("cities").where("state", "in", ["CA", "NY"]))).toBe("ok");
    expect(
      await outcome(db.collection("cities").where("state", "==", "CA").orderBy(FieldPath.documentId())),
    ).toBe("ok");
    expect(await outcome(db.collectionGroup("ledger"))).toBe("ok");
  });

  it("are needed for an equality plus an order on another field", async () => {
    const q = db.collection("cities").where("state", "==", "CA").orderBy("n", "desc");
    await expectIndexError(q, {
      collectionGroup: "cities",
      queryScope: "COLLECTION",
      fields: [
        { fieldPath: "state", order: "ASCENDING" },
        { fieldPath: "n", order: "DESCENDING" },
      ],
    });
    server.setIndexes({
      indexes: [
        {
          collectionGroup: "cities",
          queryScope: "COLLECTION",
          fields: [
            { fieldPath: "state", order: "ASCENDING" },
            { fieldPath: "n", order: "DESCENDING" },
          ],
        },
      ],
    });
    expect(await outcome(q)).toBe("ok");
    // The direction matters.
    await expectIndexError(db.collection("cities").where("state", "==", "CA").orderBy("n"), {
      collectionGroup: "cities",
      queryScope: "COLLECTION",
      fields: [
        { fieldPath: "state", order: "ASCENDING" },
        { fieldPath: "n", order: "ASCENDING" },
      ],
    });
  });

  it("are needed for ranges or orders on several fields, != and not-in included", async () => {
    await expectIndexError(db.collection("cities").where("n", ">", 0).orderBy("kind"), {
      collectionGroup: "cities",
      queryScope: "COLLECTION",
      fields: [
        { fieldPath: "kind", order: "ASCENDING" },
        { fieldPath: "n", order: "ASCENDING" },
      ],
    });
    await expectIndexError(db.collection("cities").where("n", ">", 0).where("kind", "<", "z"), {
      collectionGroup: "cities",
      queryScope: "COLLECTION",
      fields: [
        { fieldPath: "kind", order: "ASCENDING" },
        { fieldPath: "n", order: "ASCENDING" },
      ],
    });
    await expectIndexError(db.collection("cities").where("state", "!=", "NY").orderBy("n"), {
      collectionGroup: "cities",
      queryScope: "COLLECTION",
      fields: [
        { fieldPath: "n", order: "ASCENDING" },
        { fieldPath: "state", order: "ASCENDING" },
      ],
    });
    await expectIndexError(
      db.collection("cities").where("state", "not-in", ["NY"]).where("kind", "==", "k"),
      {
        collectionGroup: "cities",
        queryScope: "COLLECTION",
        fields: [
          { fieldPath: "kind", order: "ASCENDING" },
          { fieldPath: "state", order: "ASCENDING" },
        ],
      },
    );
  });

  it("are needed for array-contains with a range, and count for aggregations too", async () => {
    const q = db.collection("cities").where("tags", "array-contains", "x").where("n", ">=", 1);
    const definition = {
      collectionGroup: "cities",
      queryScope: "COLLECTION",
      fields: [
        { fieldPath: "tags", arrayConfig: "CONTAINS" },
        { fieldPath: "n", order: "ASCENDING" },
      ],
    };
    await expectIndexError(q, definition);
    await expect(q.count().get()).rejects.toMatchObject({ code: 9 });
    server.setIndexes({ indexes: [definition as NonNullable<IndexesFile["indexes"]>[number]] });
    expect(await outcome(q)).toBe("ok");
    expect((await q.count().get()).data().count).toBe(1);
  });

  it("with the same order part are merged to cover several equality fields", async () => {
    const q = db.collection("cities").where("state", "==", "CA").where("kind", "==", "k").orderBy("n");
    server.setIndexes({
      indexes: [
        {
          collectionGroup: "cities",
          fields: [
            { fieldPath: "state", order: "ASCENDING" },
            { fieldPath: "n", order: "ASCENDING" },
          ],
        },
      ],
    });
    expect(await outcome(q)).toMatchObject({ code: 9 });
    server.setIndexes({
      indexes: [
        {
          collectionGroup: "cities",
          fields: [
            { fieldPath: "state", order: "ASCENDING" },
            { fieldPath: "n", order: "ASCENDING" },
          ],
        },
        {
          collectionGroup: "cities",
          fields: [
            { fieldPath: "kind", order: "ASCENDING" },
            { fieldPath: "n", order: "ASCENDING" },
          ],
        },
      ],
    });
    expect(await outcome(q)).toBe("ok");
  });
});

describe("vector indexes", () => {
  it("findNearest needs a vector index of the query's dimension, with the pre-filter's fields", async () => {
    server.setIndexes({ indexes: [] });
    await db.doc("cities/v").set({ state: "CA", embedding: FieldValue.vector([1, 2]) });
    const nearest = db
      .collection("cities")
      .where("state", "==", "CA")
      .findNearest({ vectorField: "embedding", queryVector: [1, 1], limit: 1, distanceMeasure: "EUCLIDEAN" });
    const result = await outcome(nearest as unknown as Query);
    expect(result).toMatchObject({ code: 9 });
    expect((result as { message: string }).message).toContain(
      "Missing vector index configuration. Please create the required index with the following gcloud command: " +
        "gcloud firestore indexes composite create --project=demo-indexes --collection-group=cities --query-scope=COLLECTION " +
        "--field-config=order=ASCENDING,field-path=state " +
        `--field-config=vector-config='{"dimension":"2","flat": "{}"}',field-path=embedding`,
    );
    const vectorIndex = (dimension: number): IndexesFile => ({
      indexes: [
        {
          collectionGroup: "cities",
          queryScope: "COLLECTION",
          fields: [
            { fieldPath: "state", order: "ASCENDING" },
            { fieldPath: "embedding", vectorConfig: { dimension, flat: {} } },
          ],
        },
      ],
    });
    server.setIndexes(vectorIndex(3));
    expect(await outcome(nearest as unknown as Query)).toMatchObject({ code: 9 });
    server.setIndexes(vectorIndex(2));
    expect((await nearest.get()).docs.map((d) => d.id)).toEqual(["v"]);
  });
});

describe("listeners", () => {
  it("a snapshot listener on a query that needs a missing index gets FAILED_PRECONDITION", async () => {
    server.setIndexes({ indexes: [] });
    const error = await new Promise<Error>((resolve, reject) => {
      const unsubscribe = db
        .collection("cities")
        .where("state", "==", "CA")
        .orderBy("n")
        .onSnapshot(
          () => {
            unsubscribe();
            reject(new Error("the listener got a snapshot"));
          },
          (err) => {
            resolve(err);
          },
        );
    });
    // firebase-admin's listener reports the target's cause as "Error <code>: <message>".
    expect(error.message).toMatch(/^Error 9: The query requires an index\. You can create it here: /);
  });
});

describe("single-field indexes", () => {
  it("have collection-group scope only where fieldOverrides ask for it", async () => {
    server.setIndexes({ indexes: [] });
    const q = db.collectionGroup("ledger").where("providerPaymentId", "==", "pi_1");
    const result = await outcome(q);
    expect(result).toMatchObject({ code: 9 });
    const message = (result as { message: string }).message;
    expect(message).toMatch(
      /^The query requires a COLLECTION_GROUP_ASC index for collection ledger and field providerPaymentId\. You can create it here: https:\/\/console\.firebase\.google\.com\/v1\/r\/project\/demo-indexes\/firestore\/indexes\?create_exemption=/,
    );
    expect(message).toContain('add to "fieldOverrides" in firestore.indexes.json');
    server.setIndexes({
      fieldOverrides: [
        {
          collectionGroup: "ledger",
          fieldPath: "providerPaymentId",
          indexes: [{ order: "ASCENDING", queryScope: "COLLECTION_GROUP" }],
        },
      ],
    });
    expect(await outcome(q)).toBe("ok");
  });

  it("are disabled by a fieldOverrides exemption (indexes: [])", async () => {
    server.setIndexes({ fieldOverrides: [{ collectionGroup: "cities", fieldPath: "state", indexes: [] }] });
    expect(await outcome(db.collection("cities").where("state", "==", "CA"))).toMatchObject({
      code: 9,
      message: expect.stringMatching(
        /^The query requires a COLLECTION_ASC index for collection cities and field state\./,
      ) as unknown,
    });
    expect(await outcome(db.collection("cities").where("kind", "==", "k"))).toBe("ok");
  });
});

describe("the repo's firestore.indexes.json", () => {
  it("serves the ledger lookup by providerPaymentId; without its fieldOverrides entry the lookup fails", async () => {
    const lookup = db.collectionGroup("ledger").where("providerPaymentId", "==", "pi_1").limit(1);
    server.setIndexes(REPO_INDEXES);
    const snap = await lookup.get();
    expect(snap.docs.map((d) => d.ref.path)).toEqual(["cities/a/ledger/p"]);

    const file = JSON.parse(readFileSync(REPO_INDEXES, "utf8")) as IndexesFile;
    const withoutOverride: IndexesFile = {
      ...file,
      fieldOverrides: (file.fieldOverrides ?? []).filter((o) => o.fieldPath !== "providerPaymentId"),
    };
    server.setIndexes(withoutOverride);
    expect(await outcome(lookup)).toMatchObject({ code: 9 });
  });
});
