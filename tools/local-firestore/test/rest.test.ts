/**
 * The REST transport (proto3 JSON over HTTP/1.1), spoken with fetch as Firestore Lite and the
 * web SDK speak it: every unary and streamed method, the JSON value encodings, Google's error
 * shape with its HTTP status, security rules for bearer tokens, and CORS on every endpoint.
 */
import { idToken, useHttpServer } from "./support/httpTransport";

const PROJECT = "demo-rest";
const DB = `projects/${PROJECT}/databases/(default)`;
const DOCS = `${DB}/documents`;

const http = useHttpServer(
  PROJECT,
  `rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /users/{uid} {
      allow read: if request.auth != null && request.auth.uid == uid;
      allow write: if request.auth != null && request.auth.uid == uid && !('amountPaid' in request.resource.data);
    }
  }
}`,
);

interface Reply {
  status: number;
  json: unknown;
  headers: Headers;
}

async function rest(
  method: string,
  path: string,
  body?: unknown,
  auth: string | null = "owner",
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(`${http.base}${path}`, {
    method,
    headers: {
      "content-type": "text/plain",
      ...(auth ? { authorization: `Bearer ${auth}` } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
}

const errorOf = (r: Reply): { code: number; status: string; message: string } =>
  (r.json as { error: { code: number; status: string; message: string } }).error;

beforeEach(async () => {
  await http.server.clear();
});

const sample = {
  big: { integerValue: "9007199254740993" },
  neg: { integerValue: "-42" },
  pi: { doubleValue: 3.25 },
  nan: { doubleValue: "NaN" },
  inf: { doubleValue: "-Infinity" },
  bytes: { bytesValue: Buffer.from([0, 1, 254, 255]).toString("base64") },
  when: { timestampValue: "2024-02-29T23:59:58.123456Z" },
  nil: { nullValue: null },
  yes: { booleanValue: true },
  ref: { referenceValue: `${DOCS}/other/doc` },
  geo: { geoPointValue: { latitude: 48.85, longitude: 2.35 } },
  list: { arrayValue: { values: [{ stringValue: "é🙂" }, { integerValue: "1" }] } },
  map: { mapValue: { fields: { inner: { stringValue: "x" } } } },
};

describe("REST documents", () => {
  it("createDocument and get round-trip every value type in proto3 JSON", async () => {
    const created = await rest("POST", `/v1/${DOCS}/things?documentId=a`, { fields: sample });
    expect(created.status).toBe(200);
    const doc = created.json as { name: string; fields: unknown; createTime: string; updateTime: string };
    expect(doc.name).toBe(`${DOCS}/things/a`);
    expect(doc.createTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const got = await rest("GET", `/v1/${DOCS}/things/a`);
    expect(got.status).toBe(200);
    expect((got.json as { fields: unknown }).fields).toEqual(sample);
    // The value is stored exactly (int64 beyond 2^53, microseconds): read back through gRPC-shaped storage.
    const masked = await rest("GET", `/v1/${DOCS}/things/a?mask.fieldPaths=big&mask.fieldPaths=when`);
    expect((masked.json as { fields: unknown }).fields).toEqual({ big: sample.big, when: sample.when });
  });

  it("createDocument without an id picks one; on an existing id it is 409 ALREADY_EXISTS", async () => {
    const auto = await rest("POST", `/v1/${DOCS}/things`, { fields: { n: { integerValue: "1" } } });
    expect((auto.json as { name: string }).name).toMatch(
      new RegExp(`^${DOCS.replace(/[()]/g, "\\$&")}/things/\\w{20}$`),
    );
    await rest("POST", `/v1/${DOCS}/things?documentId=a`, { fields: {} });
    const again = await rest("POST", `/v1/${DOCS}/things?documentId=a`, { fields: {} });
    expect(again.status).toBe(409);
    expect(errorOf(again)).toMatchObject({ code: 409, status: "ALREADY_EXISTS" });
  });

  it("patch applies the updateMask and checks currentDocument", async () => {
    await rest("POST", `/v1/${DOCS}/things?documentId=a`, {
      fields: { keep: { stringValue: "k" }, n: { integerValue: "1" } },
    });
    const patched = await rest(
      "PATCH",
      `/v1/${DOCS}/things/a?updateMask.fieldPaths=n&updateMask.fieldPaths=gone&currentDocument.exists=true`,
      { fields: { n: { integerValue: "2" }, ignored: { stringValue: "not in mask" } } },
    );
    expect(patched.status).toBe(200);
    expect((patched.json as { fields: unknown }).fields).toEqual({
      keep: { stringValue: "k" },
      n: { integerValue: "2" },
    });
    const updateTime = (patched.json as { updateTime: string }).updateTime;

    const missing = await rest("PATCH", `/v1/${DOCS}/things/none?currentDocument.exists=true`, {
      fields: {},
    });
    expect(missing.status).toBe(404);
    expect(errorOf(missing).status).toBe("NOT_FOUND");

    const stale = await rest(
      "PATCH",
      `/v1/${DOCS}/things/a?currentDocument.updateTime=${encodeURIComponent("2020-01-01T00:00:00Z")}`,
      { fields: {} },
    );
    expect(stale.status).toBe(400);
    expect(errorOf(stale).status).toBe("FAILED_PRECONDITION");

    const exact = await rest(
      "PATCH",
      `/v1/${DOCS}/things/a?currentDocument.updateTime=${encodeURIComponent(updateTime)}`,
      { fields: { only: { booleanValue: true } } },
    );
    expect(exact.status).toBe(200);
    expect((exact.json as { fields: unknown }).fields).toEqual({ only: { booleanValue: true } });
  });

  it("delete removes the document; get then answers 404 in Google's error shape", async () => {
    await rest("POST", `/v1/${DOCS}/things?documentId=a`, { fields: {} });
    const del = await rest("DELETE", `/v1/${DOCS}/things/a`);
    expect(del.status).toBe(200);
    expect(del.json).toEqual({});
    const got = await rest("GET", `/v1/${DOCS}/things/a`);
    expect(got.status).toBe(404);
    expect(got.json).toEqual({
      error: { code: 404, status: "NOT_FOUND", message: `Document "${DOCS}/things/a" not found.` },
    });
  });

  it("listDocuments pages; listCollectionIds lists a document's sub-collections", async () => {
    for (const id of ["a", "b", "c"])
      await rest("POST", `/v1/${DOCS}/things?documentId=${id}`, { fields: {} });
    await rest("POST", `/v1/${DOCS}/things/a/subs?documentId=x`, { fields: {} });
    await rest("POST", `/v1/${DOCS}/things/a/more?documentId=y`, { fields: {} });
    const page1 = (await rest("GET", `/v1/${DOCS}/things?pageSize=2`)).json as {
      documents: Array<{ name: string }>;
      nextPageToken: string;
    };
    expect(page1.documents.map((d) => d.name.split("/").pop())).toEqual(["a", "b"]);
    const page2 = (
      await rest("GET", `/v1/${DOCS}/things?pageSize=2&pageToken=${encodeURIComponent(page1.nextPageToken)}`)
    ).json as { documents: Array<{ name: string }>; nextPageToken?: string };
    expect(page2.documents.map((d) => d.name.split("/").pop())).toEqual(["c"]);
    expect(page2.nextPageToken).toBeUndefined();
    const ids = await rest("POST", `/v1/${DOCS}/things/a:listCollectionIds`, {});
    expect(ids.json).toEqual({ collectionIds: ["more", "subs"] });
  });
});

describe("REST streamed methods answer a JSON array", () => {
  beforeEach(async () => {
    for (const [id, n] of [
      ["a", 1],
      ["b", 2],
      ["c", 3],
    ] as const) {
      await rest("POST", `/v1/${DOCS}/things?documentId=${id}`, {
        fields: { n: { integerValue: String(n) } },
      });
    }
  });

  it("batchGet: found and missing, in order, with readTime", async () => {
    const r = await rest("POST", `/v1/${DB}/documents:batchGet`, {
      documents: [`${DOCS}/things/b`, `${DOCS}/things/zz`],
    });
    expect(r.status).toBe(200);
    const out = r.json as Array<{ found?: { name: string }; missing?: string; readTime: string }>;
    expect(out).toHaveLength(2);
    expect(out[0]?.found?.name).toBe(`${DOCS}/things/b`);
    expect(out[1]?.missing).toBe(`${DOCS}/things/zz`);
    expect(typeof out[0]?.readTime).toBe("string");
  });

  it("runQuery: documents then a done marker; limit given as a bare number (Int32Value)", async () => {
    const r = await rest("POST", `/v1/${DOCS}:runQuery`, {
      structuredQuery: {
        from: [{ collectionId: "things" }],
        where: {
          fieldFilter: { field: { fieldPath: "n" }, op: "GREATER_THAN", value: { integerValue: "1" } },
        },
        orderBy: [{ field: { fieldPath: "n" }, direction: "DESCENDING" }],
        limit: 5,
      },
    });
    const out = r.json as Array<{ document?: { fields: { n: unknown } }; done?: boolean }>;
    expect(out.filter((m) => m.document).map((m) => m.document?.fields.n)).toEqual([
      { integerValue: "3" },
      { integerValue: "2" },
    ]);
    expect(out[out.length - 1]?.done).toBe(true);
  });

  it("runAggregationQuery: count and sum with int64 results as strings", async () => {
    const r = await rest("POST", `/v1/${DOCS}:runAggregationQuery`, {
      structuredAggregationQuery: {
        structuredQuery: { from: [{ collectionId: "things" }] },
        aggregations: [
          { alias: "c", count: {} },
          { alias: "s", sum: { field: { fieldPath: "n" } } },
        ],
      },
    });
    expect((r.json as Array<{ result: unknown }>)[0]?.result).toEqual({
      aggregateFields: { c: { integerValue: "3" }, s: { integerValue: "6" } },
    });
  });

  it("beginTransaction, a read in it, commit with the transaction; rollback ends another", async () => {
    const begun = await rest("POST", `/v1/${DB}/documents:beginTransaction`, {});
    const transaction = (begun.json as { transaction: string }).transaction;
    expect(Buffer.from(transaction, "base64").length).toBeGreaterThan(0);
    const read = await rest("POST", `/v1/${DB}/documents:batchGet`, {
      documents: [`${DOCS}/things/a`],
      transaction,
    });
    expect((read.json as Array<{ found?: unknown }>)[0]?.found).toBeDefined();
    const committed = await rest("POST", `/v1/${DB}/documents:commit`, {
      transaction,
      writes: [
        {
          update: { name: `${DOCS}/things/a`, fields: {} },
          updateMask: { fieldPaths: [] },
          updateTransforms: [{ fieldPath: "n", increment: { integerValue: "10" } }],
        },
      ],
    });
    expect(committed.status).toBe(200);
    const res = committed.json as {
      commitTime: string;
      writeResults: Array<{ transformResults: unknown[] }>;
    };
    expect(res.writeResults[0]?.transformResults).toEqual([{ integerValue: "11" }]);
    const reused = await rest("POST", `/v1/${DB}/documents:commit`, { transaction, writes: [] });
    expect(reused.status).toBe(400);

    const other = (
      (await rest("POST", `/v1/${DB}/documents:beginTransaction`, {})).json as { transaction: string }
    ).transaction;
    expect((await rest("POST", `/v1/${DB}/documents:rollback`, { transaction: other })).status).toBe(200);
  });
});

describe("REST errors and rules", () => {
  it("bad input: malformed JSON, unknown fields and unknown routes get INVALID_ARGUMENT / NOT_FOUND", async () => {
    const bad = await rest("POST", `/v1/${DB}/documents:commit`, "{not json");
    expect(bad.status).toBe(400);
    expect(errorOf(bad).status).toBe("INVALID_ARGUMENT");
    const unknown = await rest("POST", `/v1/${DB}/documents:commit`, { writez: [] });
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown).message).toContain("writez");
    const route = await rest("GET", `/v1/projects/${PROJECT}/nothing`);
    expect(route.status).toBe(404);
    expect(errorOf(route).status).toBe("NOT_FOUND");
    const listen = await rest("POST", `/v1/${DB}/documents:listen`, {});
    expect(listen.status).toBe(501);
  });

  it("bearer ID tokens are judged by the rules exactly as on gRPC; owner bypasses them", async () => {
    await rest("POST", `/v1/${DOCS}/users?documentId=alice`, {
      fields: { displayName: { stringValue: "A" } },
    });
    const alice = idToken("alice");
    const own = await rest("GET", `/v1/${DOCS}/users/alice`, undefined, alice);
    expect(own.status).toBe(200);
    const other = await rest("GET", `/v1/${DOCS}/users/alice`, undefined, idToken("bob"));
    expect(other.status).toBe(403);
    expect(errorOf(other).status).toBe("PERMISSION_DENIED");
    const anonymous = await rest("GET", `/v1/${DOCS}/users/alice`, undefined, null);
    expect(anonymous.status).toBe(403);

    const money = await rest(
      "POST",
      `/v1/${DB}/documents:commit`,
      {
        writes: [
          { update: { name: `${DOCS}/users/alice`, fields: { amountPaid: { integerValue: "100" } } } },
        ],
      },
      alice,
    );
    expect(money.status).toBe(403);
    expect(errorOf(money)).toMatchObject({ code: 403, status: "PERMISSION_DENIED" });
    const profile = await rest(
      "PATCH",
      `/v1/${DOCS}/users/alice?updateMask.fieldPaths=displayName`,
      { fields: { displayName: { stringValue: "Alice" } } },
      alice,
    );
    expect(profile.status).toBe(200);
    // The denied write changed nothing.
    const after = await rest("GET", `/v1/${DOCS}/users/alice`);
    expect((after.json as { fields: unknown }).fields).toEqual({ displayName: { stringValue: "Alice" } });
    // The token may also come in `$httpHeaders`, as WebChannel and ESF allow.
    const viaParam = await rest(
      "GET",
      `/v1/${DOCS}/users/alice?$httpHeaders=${encodeURIComponent(`Authorization:Bearer ${alice}\r\n`)}`,
      undefined,
      null,
    );
    expect(viaParam.status).toBe(200);
  });
});

describe("REST shares counters and faults with gRPC", () => {
  afterEach(() => {
    http.server.faults.clear();
  });

  it("counts the call; an injected UNAVAILABLE is 503 and changes nothing; reply-lost applies, then 503", async () => {
    http.server.resetStats();
    const write = (n: number): unknown => ({
      writes: [{ update: { name: `${DOCS}/things/f`, fields: { n: { integerValue: String(n) } } } }],
    });
    expect((await rest("POST", `/v1/${DB}/documents:commit`, write(1))).status).toBe(200);
    expect(http.server.stats().rpcs.Commit).toBe(1);
    expect(http.server.stats().writes).toBe(1);

    http.server.faults.inject({ method: "Commit", kind: "unavailable", times: 1 });
    const failed = await rest("POST", `/v1/${DB}/documents:commit`, write(2));
    expect(failed.status).toBe(503);
    expect(errorOf(failed).status).toBe("UNAVAILABLE");
    const read = async (): Promise<unknown> =>
      ((await rest("GET", `/v1/${DOCS}/things/f`)).json as { fields: unknown }).fields;
    expect(await read()).toEqual({ n: { integerValue: "1" } });

    http.server.faults.inject({ method: "Commit", kind: "reply-lost", times: 1, pathContains: "things/f" });
    expect((await rest("POST", `/v1/${DB}/documents:commit`, write(3))).status).toBe(503);
    expect(await read()).toEqual({ n: { integerValue: "3" } });
    expect(http.server.stats().faultsInjected).toBe(2);
  });
});

describe("CORS", () => {
  const origin = "http://localhost:5173";

  it.each([
    [`/v1/${DB}/documents:commit`, "REST"],
    ["/google.firestore.v1.Firestore/Listen/channel", "WebChannel"],
    ["/emulator/v1/stats", "control"],
  ])("answers the preflight of %s (%s) for any origin, with credentials", async (path) => {
    const res = await fetch(`${http.base}${path}`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-goog-api-client",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(origin);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-allow-headers")).toBe(
      "authorization,content-type,x-goog-api-client",
    );
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  });

  it("puts the CORS headers on answers of every kind, errors included", async () => {
    for (const [method, path] of [
      ["GET", `/v1/${DOCS}/users/nobody`],
      ["GET", "/emulator/v1/stats"],
      ["GET", "/"],
      ["POST", "/google.firestore.v1.Firestore/Listen/channel?SID=unknown&RID=1&VER=8"],
    ] as const) {
      const res = await fetch(`${http.base}${path}`, { method, headers: { origin } });
      expect([path, res.headers.get("access-control-allow-origin")]).toEqual([path, origin]);
      expect(res.headers.get("access-control-expose-headers")).toContain("X-HTTP-Session-Id");
    }
  });
});
