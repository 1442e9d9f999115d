import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

import type { DocumentChange } from "../src/triggers";
import {
  TriggerDelivery,
  encodeEventData,
  eventKinds,
  matchDocumentPattern,
  newestKey,
  parseValidKeys,
} from "../src/triggers";
import type { Fields, StoredDocument, Value } from "../src/types";

// The decoder the functions SDK itself uses for binary-mode Firestore CloudEvents. The path is not in
// firebase-functions' package "exports", so it is loaded by file, next to the SDK's resolved entry point
// (the SDK does the same: lib/common/providers/firestore.js requires "../../../protos/compiledFirestore").
interface DecodedEvent {
  value?: { name: string; fields?: Record<string, unknown>; createTime?: unknown; updateTime?: unknown };
  oldValue?: { name: string; fields?: Record<string, unknown>; createTime?: unknown; updateTime?: unknown };
  updateMask?: { fieldPaths?: string[] };
}
interface DocumentEventDataType {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: Record<string, unknown>): DecodedEvent;
}
const compiledFirestorePath = path.join(
  path.dirname(require.resolve("firebase-functions")), // <sdk>/lib/v2/index.js
  "..",
  "..",
  "protos",
  "compiledFirestore.js",
);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const compiled = require(compiledFirestorePath) as {
  google: { events: { cloud: { firestore: { v1: { DocumentEventData: DocumentEventDataType } } } } };
};
const DocumentEventData = compiled.google.events.cloud.firestore.v1.DocumentEventData;

function decode(base64: string): DecodedEvent {
  const message = DocumentEventData.decode(Buffer.from(base64, "base64"));
  return DocumentEventData.toObject(message, { longs: String, enums: String, bytes: String });
}

const ROOT = "projects/demo-triggers/databases/(default)/documents";

function doc(relPath: string, fields: Fields, updateSeconds = 1_700_000_100): StoredDocument {
  return {
    name: `${ROOT}/${relPath}`,
    fields,
    createTime: { seconds: 1_700_000_000, nanos: 123_000 },
    updateTime: { seconds: updateSeconds, nanos: 456_000 },
  };
}

const str = (s: string): Value => ({ stringValue: s });
const int = (n: string): Value => ({ integerValue: n });

describe("matchDocumentPattern", () => {
  it("matches {x} wildcards one segment each", () => {
    expect(matchDocumentPattern("notes/{noteId}", "notes/n1")).toBe(true);
    expect(matchDocumentPattern("lists/{listId}/items/{itemId}", "lists/l1/items/i1")).toBe(true);
    expect(matchDocumentPattern("{coll}/{id}", "anything/x")).toBe(true);
  });

  it("requires literal segments to be equal", () => {
    expect(matchDocumentPattern("notes/{noteId}", "notesArchive/n1")).toBe(false);
    expect(matchDocumentPattern("lists/{listId}/items/{itemId}", "lists/l1/tasks/i1")).toBe(false);
    expect(matchDocumentPattern("notes/fixed", "notes/fixed")).toBe(true);
    expect(matchDocumentPattern("notes/fixed", "notes/other")).toBe(false);
  });

  it("rejects paths that are longer or shorter than the pattern", () => {
    expect(matchDocumentPattern("notes/{noteId}", "notes/n1/comments/c1")).toBe(false);
    expect(matchDocumentPattern("lists/{listId}/items/{itemId}", "lists/l1")).toBe(false);
    expect(matchDocumentPattern("lists/{listId}/items/{itemId}", "lists/l1/items/i1/sub/s1")).toBe(false);
  });

  it("matches {x=**} against any number of segments", () => {
    expect(matchDocumentPattern("{path=**}", "a/b")).toBe(true);
    expect(matchDocumentPattern("{path=**}", "a/b/c/d")).toBe(true);
    expect(matchDocumentPattern("users/{rest=**}", "users/u1")).toBe(true);
    expect(matchDocumentPattern("users/{rest=**}", "users/u1/courses/c1")).toBe(true);
    expect(matchDocumentPattern("users/{rest=**}", "teams/t1")).toBe(false);
    expect(matchDocumentPattern("{rest=**}/items/{itemId}", "lists/l1/items/i1")).toBe(true);
    expect(matchDocumentPattern("{rest=**}/items/{itemId}", "lists/l1/tasks/i1")).toBe(false);
  });

  it("ignores leading and trailing slashes in the pattern", () => {
    expect(matchDocumentPattern("/notes/{noteId}/", "notes/n1")).toBe(true);
  });
});

describe("eventKinds", () => {
  it("maps before/after to created, updated, deleted (plus written)", () => {
    const d = doc("notes/n1", {});
    expect(eventKinds({ path: "notes/n1", before: undefined, after: d })).toEqual(["created", "written"]);
    expect(eventKinds({ path: "notes/n1", before: d, after: d })).toEqual(["updated", "written"]);
    expect(eventKinds({ path: "notes/n1", before: d, after: undefined })).toEqual(["deleted", "written"]);
    expect(eventKinds({ path: "notes/n1", before: undefined, after: undefined })).toEqual([]);
  });
});

describe("encodeEventData", () => {
  const allTypes: Fields = {
    s: str("héllo"),
    i: int("9007199254740993"), // beyond 2^53: must survive as int64
    neg: int("-9223372036854775808"),
    d: { doubleValue: 1.5 },
    b: { booleanValue: false },
    n: { nullValue: "NULL_VALUE" },
    t: { timestampValue: { seconds: "1700000000", nanos: 5000 } },
    by: { bytesValue: Uint8Array.from([0, 1, 254, 255]) },
    r: { referenceValue: `${ROOT}/notes/n2` },
    g: { geoPointValue: { latitude: 48.85, longitude: 2.35 } },
    a: { arrayValue: { values: [int("1"), str("x")] } },
    m: { mapValue: { fields: { nested: { mapValue: { fields: { deep: str("y") } } } } } },
  };

  it("encodes a create as value only, with every value type intact", () => {
    const after = doc("notes/n1", allTypes);
    const decoded = decode(encodeEventData({ path: "notes/n1", before: undefined, after }));
    expect(decoded.oldValue).toBeUndefined();
    expect(decoded.updateMask).toBeUndefined();
    expect(decoded.value?.name).toBe(`${ROOT}/notes/n1`);
    expect(decoded.value?.createTime).toEqual({ seconds: "1700000000", nanos: 123_000 });
    expect(decoded.value?.updateTime).toEqual({ seconds: "1700000100", nanos: 456_000 });
    expect(decoded.value?.fields).toEqual({
      s: { stringValue: "héllo" },
      i: { integerValue: "9007199254740993" },
      neg: { integerValue: "-9223372036854775808" },
      d: { doubleValue: 1.5 },
      b: { booleanValue: false },
      n: { nullValue: "NULL_VALUE" },
      t: { timestampValue: { seconds: "1700000000", nanos: 5000 } },
      by: { bytesValue: Buffer.from([0, 1, 254, 255]).toString("base64") },
      r: { referenceValue: `${ROOT}/notes/n2` },
      g: { geoPointValue: { latitude: 48.85, longitude: 2.35 } },
      a: { arrayValue: { values: [{ integerValue: "1" }, { stringValue: "x" }] } },
      m: { mapValue: { fields: { nested: { mapValue: { fields: { deep: { stringValue: "y" } } } } } } },
    });
  });

  it("encodes an update as value + oldValue with an updateMask of the changed fields only", () => {
    const before = doc("notes/n1", { text: str("a"), same: int("1"), gone: str("z") }, 1_700_000_100);
    const after = doc(
      "notes/n1",
      { text: str("b"), same: int("1"), added: { booleanValue: true } },
      1_700_000_200,
    );
    const decoded = decode(encodeEventData({ path: "notes/n1", before, after }));
    expect(decoded.oldValue?.fields).toEqual({
      text: { stringValue: "a" },
      same: { integerValue: "1" },
      gone: { stringValue: "z" },
    });
    expect(decoded.oldValue?.updateTime).toEqual({ seconds: "1700000100", nanos: 456_000 });
    expect(decoded.value?.fields).toEqual({
      text: { stringValue: "b" },
      same: { integerValue: "1" },
      added: { booleanValue: true },
    });
    expect(decoded.value?.updateTime).toEqual({ seconds: "1700000200", nanos: 456_000 });
    expect(decoded.updateMask?.fieldPaths).toEqual(["added", "gone", "text"]);
  });

  it("encodes a delete as oldValue only", () => {
    const before = doc("notes/n1", { text: str("b") });
    const decoded = decode(encodeEventData({ path: "notes/n1", before, after: undefined }));
    expect(decoded.value).toBeUndefined();
    expect(decoded.updateMask).toBeUndefined();
    expect(decoded.oldValue?.name).toBe(`${ROOT}/notes/n1`);
    expect(decoded.oldValue?.fields).toEqual({ text: { stringValue: "b" } });
  });

  it("does not report a map as changed when only its key order differs", () => {
    const before = doc("notes/n1", { m: { mapValue: { fields: { a: int("1"), b: int("2") } } } });
    const after = doc("notes/n1", {
      m: { mapValue: { fields: { b: int("2"), a: int("1") } } },
      text: str("new"),
    });
    expect(decode(encodeEventData({ path: "notes/n1", before, after })).updateMask?.fieldPaths).toEqual([
      "text",
    ]);
  });

  it("reports an integer replaced by the equal double as changed (values are type-exact)", () => {
    const before = doc("notes/n1", { n: int("1") });
    const after = doc("notes/n1", { n: { doubleValue: 1 } });
    expect(decode(encodeEventData({ path: "notes/n1", before, after })).updateMask?.fieldPaths).toEqual([
      "n",
    ]);
  });

  it("quotes field names that are not simple identifiers in updateMask paths", () => {
    const before = doc("notes/n1", {});
    const after = doc("notes/n1", {
      "a.b": int("1"),
      "with`tick": int("2"),
      "1st": int("3"),
      plain_1: int("4"),
    });
    expect(decode(encodeEventData({ path: "notes/n1", before, after })).updateMask?.fieldPaths).toEqual([
      "`1st`",
      "`a.b`",
      "`with\\`tick`",
      "plain_1",
    ]);
  });
});

describe("trigger keys from the functions emulator's 404 text", () => {
  const text =
    "Function nope does not exist, valid functions are: us-central1-onNoteWritten-0, us-central1-api, " +
    "us-central1-onNoteWritten-1, us-central1-onNoteWrittenToo-7, us-central1-group-onNoteWritten-9";

  it("parses the listed keys, not the key that was asked for", () => {
    expect(parseValidKeys(text)).toEqual([
      "us-central1-onNoteWritten-0",
      "us-central1-api",
      "us-central1-onNoteWritten-1",
      "us-central1-onNoteWrittenToo-7",
      "us-central1-group-onNoteWritten-9",
    ]);
    expect(parseValidKeys("Not Found")).toEqual([]);
  });

  it("picks the newest generation of exactly that trigger id", () => {
    const keys = parseValidKeys(text);
    expect(newestKey("us-central1-onNoteWritten", keys)).toBe("us-central1-onNoteWritten-1");
    expect(newestKey("us-central1-onNoteWrittenToo", keys)).toBe("us-central1-onNoteWrittenToo-7");
    expect(newestKey("us-central1-onItemCreated", keys)).toBeUndefined();
  });
});

/** A stand-in for the Firebase CLI's functions emulator: `/backends` and the trigger endpoint. */
class FakeFunctionsEmulator {
  readonly deliveries: Array<{ key: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  backendsRequests = 0;
  posts = 0;
  /** Generations each event trigger is registered under (the CLI keeps old, disabled ones). */
  generations = [0];
  /** Generations whose keys answer 204 "Background triggers are currently disabled." */
  disabled = new Set<number>();
  /** Answer every POST with 404 (as after the function was removed), listing only the other keys. */
  forgetTriggers = false;
  /** Delay before answering GET /backends, to widen races. */
  backendsDelayMs = 0;
  private server: http.Server;

  constructor(private readonly triggers: Array<Record<string, unknown>>) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        if (req.method === "GET" && req.url === "/backends") {
          this.backendsRequests++;
          setTimeout(() => {
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ backends: [{ functionTriggers: this.triggers }] }));
          }, this.backendsDelayMs);
          return;
        }
        const m = /^\/functions\/projects\/([^/]+)\/triggers\/(.+)$/.exec(req.url ?? "");
        const keys = this.forgetTriggers
          ? ["us-central1-api"]
          : this.triggers.flatMap((t) =>
              t.httpsTrigger ? [String(t.id)] : this.generations.map((g) => `${String(t.id)}-${g}`),
            );
        const key = m?.[2] ?? "";
        if (req.method === "POST") this.posts++;
        const generation = Number(/-(\d+)$/.exec(key)?.[1] ?? NaN);
        if (req.method === "POST" && keys.includes(key) && this.disabled.has(generation)) {
          res.writeHead(204);
          res.end();
          return;
        }
        if (req.method === "POST" && keys.includes(key)) {
          this.deliveries.push({ key, headers: req.headers, body });
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ status: "acknowledged" }));
          return;
        }
        res.writeHead(404, { "content-type": "text/html" });
        res.end(`Function ${key} does not exist, valid functions are: ${keys.join(", ")}`);
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

function firestoreTrigger(name: string, eventType: string, document: string): Record<string, unknown> {
  return {
    id: `us-central1-${name}`,
    name,
    platform: "gcfv2",
    eventTrigger: {
      eventType: `google.cloud.firestore.document.v1.${eventType}`,
      eventFilters: { database: "(default)", namespace: "(default)" },
      eventFilterPathPatterns: { document },
    },
  };
}

const silent = { info: () => undefined, debug: () => undefined };

describe("TriggerDelivery against a fake functions emulator", () => {
  let fake: FakeFunctionsEmulator;
  let delivery: TriggerDelivery;

  beforeEach(async () => {
    fake = new FakeFunctionsEmulator([
      firestoreTrigger("onNoteWritten", "written", "notes/{noteId}"),
      firestoreTrigger("onNoteDeleted", "deleted", "notes/{noteId}"),
      firestoreTrigger("onItemCreated", "created", "lists/{listId}/items/{itemId}"),
      { id: "us-central1-api", httpsTrigger: {} },
    ]);
    const address = await fake.listen();
    delivery = new TriggerDelivery({ functionsEmulator: address, projectId: "demo-triggers", log: silent });
  });

  afterEach(async () => {
    await delivery.idle();
    await fake.close();
  });

  const created = (p: string, fields: Fields): DocumentChange => ({
    path: p,
    before: undefined,
    after: doc(p, fields),
  });

  it("sends a binary-mode CloudEvent with the official emulator's headers", async () => {
    delivery.onCommit([created("notes/n1", { text: str("a") })]);
    await delivery.idle();
    expect(fake.deliveries).toHaveLength(1);
    const [d] = fake.deliveries;
    expect(d?.key).toBe("us-central1-onNoteWritten-0");
    expect(d?.headers).toMatchObject({
      "content-type": "application/protobuf",
      "ce-specversion": "1.0",
      "ce-type": "google.cloud.firestore.document.v1.written",
      "ce-source": "//firestore.googleapis.com/projects/demo-triggers/databases/(default)",
      "ce-subject": "documents/notes/n1",
      "ce-project": "demo-triggers",
      "ce-database": "(default)",
      "ce-namespace": "(default)",
      "ce-document": "notes/n1",
      "ce-location": "us-central1",
    });
    expect(d?.headers["ce-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(decode(d?.body ?? "").value?.fields).toEqual({ text: { stringValue: "a" } });
    expect(delivery.stats).toEqual({ delivered: 1, failed: 0, pending: 0 });
  });

  it("delivers only to triggers whose event type and pattern match", async () => {
    const before = doc("notes/n1", { text: str("a") });
    delivery.onCommit([
      { path: "notes/n1", before, after: undefined }, // written + deleted
      created("lists/l1/items/i1", { text: str("x") }), // created
      created("lists/l1", {}), // parent of the items pattern: nothing
      created("notes/n1/comments/c1", {}), // deeper than notes/{noteId}: nothing
    ]);
    await delivery.idle();
    expect(fake.deliveries.map((d) => `${d.key} ${String(d.headers["ce-document"])}`).sort()).toEqual([
      "us-central1-onItemCreated-0 lists/l1/items/i1",
      "us-central1-onNoteDeleted-0 notes/n1",
      "us-central1-onNoteWritten-0 notes/n1",
    ]);
  });

  it("does not drop events of commits made while the first /backends fetch is in flight", async () => {
    fake.backendsDelayMs = 200;
    delivery.onCommit([created("notes/a", { text: str("1") })]);
    delivery.onCommit([created("notes/b", { text: str("2") })]);
    delivery.onCommit([created("notes/c", { text: str("3") })]);
    await delivery.idle();
    expect(fake.deliveries.map((d) => d.headers["ce-document"]).sort()).toEqual([
      "notes/a",
      "notes/b",
      "notes/c",
    ]);
    expect(fake.backendsRequests).toBe(1);
  });

  it("learns the trigger generation from the 404 text when the guess is wrong", async () => {
    fake.generations = [3];
    delivery.onCommit([created("notes/n1", { text: str("a") })]);
    await delivery.idle();
    expect(fake.deliveries.map((d) => d.key)).toEqual(["us-central1-onNoteWritten-3"]);
    expect(delivery.stats).toEqual({ delivered: 1, failed: 0, pending: 0 });
  });

  it("follows triggers to the next generation after they were disabled and re-enabled", async () => {
    delivery.onCommit([created("notes/n1", { text: str("a") })]);
    await delivery.idle();
    expect(fake.deliveries.map((d) => d.key)).toEqual(["us-central1-onNoteWritten-0"]);

    // The hub's disableBackgroundTriggers: the current generation answers 204, events are dropped.
    fake.disabled.add(0);
    delivery.onCommit([created("notes/n2", { text: str("b") })]);
    await delivery.idle();
    expect(fake.deliveries).toHaveLength(1);
    expect(delivery.stats).toEqual({ delivered: 1, failed: 0, pending: 0 });

    // enableBackgroundTriggers: every trigger is registered again under generation 1; 0 stays disabled.
    fake.generations = [0, 1];
    delivery.onCommit([created("notes/n3", { text: str("c") })]);
    await delivery.idle();
    expect(fake.deliveries.map((d) => `${d.key} ${String(d.headers["ce-document"])}`)).toEqual([
      "us-central1-onNoteWritten-0 notes/n1",
      "us-central1-onNoteWritten-1 notes/n3",
    ]);
    expect(delivery.stats).toEqual({ delivered: 2, failed: 0, pending: 0 });
  });

  it("counts an event for a trigger the emulator no longer knows as failed, after one lookup", async () => {
    fake.forgetTriggers = true;
    delivery.onCommit([created("notes/n1", { text: str("a") })]);
    await delivery.idle();
    expect(fake.deliveries).toHaveLength(0);
    expect(fake.posts).toBe(1);
    expect(delivery.stats).toEqual({ delivered: 0, failed: 1, pending: 0 });
  });
});
