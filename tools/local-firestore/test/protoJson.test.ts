/** The proto3 JSON codec the REST and WebChannel transports share. */
import { status } from "@grpc/grpc-js";
import { RpcError } from "../src/errors";
import { formatRfc3339, fromProto3Json, parseRfc3339, toProto3Json } from "../src/protoJson";

describe("proto3 JSON", () => {
  it("parses RFC 3339 with any offset and up to nanoseconds; prints 0, 3, 6 or 9 digits in UTC", () => {
    expect(parseRfc3339("2024-01-02T03:04:05Z")).toEqual({ seconds: "1704164645", nanos: 0 });
    expect(parseRfc3339("2024-01-02T05:04:05.5+02:00")).toEqual({
      seconds: "1704164645",
      nanos: 500_000_000,
    });
    expect(parseRfc3339("2024-01-02T03:04:05.000000001Z").nanos).toBe(1);
    expect(() => parseRfc3339("2024-01-02 03:04:05")).toThrow(RpcError);
    expect(formatRfc3339({ seconds: "1704164645", nanos: 0 })).toBe("2024-01-02T03:04:05Z");
    expect(formatRfc3339({ seconds: 1704164645, nanos: 120_000_000 })).toBe("2024-01-02T03:04:05.120Z");
    expect(formatRfc3339({ seconds: 1704164645, nanos: 123_456_000 })).toBe("2024-01-02T03:04:05.123456Z");
    expect(formatRfc3339({ seconds: 1704164645, nanos: 123_456_789 })).toBe("2024-01-02T03:04:05.123456789Z");
  });

  it("decodes a request into the shapes the operations use (int64 strings, Buffers, wrappers, enums)", () => {
    const req = fromProto3Json("RunQueryRequest", {
      parent: "projects/p/databases/(default)/documents",
      transaction: Buffer.from("txn").toString("base64url"),
      structured_query: {
        from: [{ collectionId: "c", allDescendants: "true" }],
        where: { fieldFilter: { field: { fieldPath: "n" }, op: 5, value: { integerValue: 12 } } },
        limit: { value: "7" },
        offset: "2",
      },
    });
    expect(req).toEqual({
      parent: "projects/p/databases/(default)/documents",
      transaction: Buffer.from("txn"),
      structuredQuery: {
        from: [{ collectionId: "c", allDescendants: true }],
        where: { fieldFilter: { field: { fieldPath: "n" }, op: "EQUAL", value: { integerValue: "12" } } },
        limit: { value: 7 },
        offset: 2,
      },
    });
  });

  it("rejects unknown fields and ill-typed values with INVALID_ARGUMENT", () => {
    const codeOf = (f: () => unknown): number | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof RpcError ? err.code : undefined;
      }
      return undefined;
    };
    expect(codeOf(() => fromProto3Json("CommitRequest", { writez: [] }))).toBe(status.INVALID_ARGUMENT);
    expect(codeOf(() => fromProto3Json("Value", { integerValue: "1.5" }))).toBe(status.INVALID_ARGUMENT);
    expect(codeOf(() => fromProto3Json("Value", { booleanValue: "yes" }))).toBe(status.INVALID_ARGUMENT);
    expect(codeOf(() => fromProto3Json("StructuredQuery", { limit: "ten" }))).toBe(status.INVALID_ARGUMENT);
  });

  it("encodes responses: defaults and nulls omitted, NaN and infinities as strings, Empty as {}", () => {
    expect(
      toProto3Json("Value", {
        mapValue: { fields: { a: { doubleValue: Number.NaN }, b: { doubleValue: -Infinity } } },
      }),
    ).toEqual({ mapValue: { fields: { a: { doubleValue: "NaN" }, b: { doubleValue: "-Infinity" } } } });
    expect(toProto3Json("Value", { bytesValue: Buffer.from([255]) })).toEqual({ bytesValue: "/w==" });
    expect(toProto3Json("google.protobuf.Empty", {})).toEqual({});
    expect(toProto3Json("BeginTransactionResponse", { transaction: Buffer.from("t"), ignored: 1 })).toEqual({
      transaction: "dA==",
    });
  });
});
