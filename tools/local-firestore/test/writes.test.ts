import { status } from "@grpc/grpc-js";

import { RpcError } from "../src/errors";
import type { StoredDocument, Ts, Value } from "../src/types";
import type { FieldTransform, Write } from "../src/writes";
import { parseFieldPath } from "../src/fieldPath";
import { applyWrite, validateWrite, writeTarget } from "../src/writes";

const NAME = "projects/demo-test/databases/(default)/documents/courses/c1";
const CREATED: Ts = { seconds: 1_700_000_000, nanos: 123_000 };
const UPDATED: Ts = { seconds: 1_700_000_100, nanos: 456_000 };
const COMMIT: Ts = { seconds: 1_700_000_200, nanos: 789_000 };

const int = (n: string | number): Value => ({ integerValue: String(n) });
const dbl = (n: number): Value => ({ doubleValue: n });
const str = (s: string): Value => ({ stringValue: s });
const arr = (...values: Value[]): Value => ({ arrayValue: { values } });
const map = (fields: Record<string, Value>): Value => ({ mapValue: { fields } });
const NULL: Value = { nullValue: "NULL_VALUE" };
const INT64_MAX = "9223372036854775807";
const INT64_MIN = "-9223372036854775808";

function stored(fields: Record<string, Value>): StoredDocument {
  return { name: NAME, fields, createTime: { ...CREATED }, updateTime: { ...UPDATED } };
}

/** The document a successful non-delete write produces. */
function expected(fields: Record<string, Value>, createTime: Ts = CREATED): StoredDocument {
  return { name: NAME, fields, createTime, updateTime: COMMIT };
}

function errorOf(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error("expected an RpcError, but nothing was thrown");
}

function expectCode(fn: () => unknown, code: status, message?: string | RegExp): void {
  const error = errorOf(fn);
  expect(status[error.code]).toBe(status[code]);
  if (message !== undefined) expect(error.message).toMatch(message);
}

function transformWrite(fieldTransforms: FieldTransform[], current?: Write["currentDocument"]): Write {
  const write: Write = {
    update: { name: NAME, fields: {} },
    updateMask: {},
    updateTransforms: fieldTransforms,
  };
  if (current !== undefined) write.currentDocument = current;
  return write;
}

/** Applies transforms (empty mask, so other fields untouched) and returns the fields and results. */
function transformed(fields: Record<string, Value> | undefined, ...fieldTransforms: FieldTransform[]) {
  const result = applyWrite(
    transformWrite(fieldTransforms),
    fields === undefined ? undefined : stored(fields),
    COMMIT,
  );
  return { fields: result.after?.fields, results: result.transformResults };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

describe("preconditions", () => {
  const set: Write = { update: { name: NAME, fields: { a: int(1) } } };

  it("exists: true on a missing document is NOT_FOUND", () => {
    expectCode(
      () => applyWrite({ ...set, currentDocument: { exists: true } }, undefined, COMMIT),
      status.NOT_FOUND,
      `No document to update: ${NAME}`,
    );
  });

  it("exists: true on an existing document applies the write", () => {
    const result = applyWrite({ ...set, currentDocument: { exists: true } }, stored({ b: int(2) }), COMMIT);
    expect(result).toStrictEqual({ after: expected({ a: int(1) }), transformResults: [] });
  });

  it("exists: false on an existing document is ALREADY_EXISTS", () => {
    expectCode(
      () => applyWrite({ ...set, currentDocument: { exists: false } }, stored({}), COMMIT),
      status.ALREADY_EXISTS,
      `Document already exists: ${NAME}`,
    );
  });

  it("exists: false on a missing document creates it", () => {
    const result = applyWrite({ ...set, currentDocument: { exists: false } }, undefined, COMMIT);
    expect(result).toStrictEqual({ after: expected({ a: int(1) }, COMMIT), transformResults: [] });
  });

  it("updateTime on a missing document is FAILED_PRECONDITION", () => {
    const write: Write = {
      ...set,
      currentDocument: { updateTime: { seconds: "1700000100", nanos: 456_000 } },
    };
    expectCode(() => applyWrite(write, undefined, COMMIT), status.FAILED_PRECONDITION);
  });

  it("updateTime that differs from the stored one is FAILED_PRECONDITION", () => {
    const write: Write = {
      ...set,
      currentDocument: { updateTime: { seconds: "1700000100", nanos: 457_000 } },
    };
    expectCode(
      () => applyWrite(write, stored({}), COMMIT),
      status.FAILED_PRECONDITION,
      "the stored version (1700000100000456) does not match the required base version (1700000100000457)",
    );
    const older: Write = {
      ...set,
      currentDocument: { updateTime: { seconds: "1700000000", nanos: 123_000 } },
    };
    expectCode(() => applyWrite(older, stored({}), COMMIT), status.FAILED_PRECONDITION);
  });

  it("updateTime equal to the stored one (int64 as string or number) applies the write", () => {
    for (const seconds of ["1700000100", 1_700_000_100]) {
      const write: Write = { ...set, currentDocument: { updateTime: { seconds, nanos: 456_000 } } };
      expect(applyWrite(write, stored({}), COMMIT).after).toStrictEqual(expected({ a: int(1) }));
    }
  });

  it("an empty precondition is no precondition", () => {
    expect(applyWrite({ ...set, currentDocument: {} }, undefined, COMMIT).after).toStrictEqual(
      expected({ a: int(1) }, COMMIT),
    );
  });

  it("applies to deletes: exists: true on a missing document is NOT_FOUND", () => {
    expectCode(
      () => applyWrite({ delete: NAME, currentDocument: { exists: true } }, undefined, COMMIT),
      status.NOT_FOUND,
    );
    expectCode(
      () =>
        applyWrite({ delete: NAME, currentDocument: { updateTime: { seconds: "1" } } }, stored({}), COMMIT),
      status.FAILED_PRECONDITION,
    );
  });

  it("applies to legacy transform writes", () => {
    const write: Write = {
      transform: { document: NAME, fieldTransforms: [{ fieldPath: "n", increment: int(1) }] },
      currentDocument: { exists: false },
    };
    expectCode(() => applyWrite(write, stored({}), COMMIT), status.ALREADY_EXISTS);
  });

  it("a malformed write is INVALID_ARGUMENT even when its precondition would fail", () => {
    const write: Write = { delete: NAME, updateMask: {}, currentDocument: { exists: true } };
    expectCode(() => applyWrite(write, undefined, COMMIT), status.INVALID_ARGUMENT);
  });
});

describe("delete", () => {
  it("deletes an existing document", () => {
    expect(applyWrite({ delete: NAME }, stored({ a: int(1) }), COMMIT)).toStrictEqual({
      after: undefined,
      transformResults: [],
    });
  });

  it("deleting a missing document without a precondition succeeds", () => {
    expect(applyWrite({ delete: NAME }, undefined, COMMIT)).toStrictEqual({
      after: undefined,
      transformResults: [],
    });
  });

  it("deleting with a matching precondition succeeds", () => {
    const write: Write = {
      delete: NAME,
      currentDocument: { updateTime: { seconds: "1700000100", nanos: 456_000 } },
    };
    expect(applyWrite(write, stored({}), COMMIT).after).toBeUndefined();
  });
});

describe("update without a mask (set)", () => {
  it("replaces all fields, keeps createTime and sets updateTime to the commit time", () => {
    const current = stored({ old: str("x"), a: map({ b: int(1), c: int(2) }) });
    const write: Write = { update: { name: NAME, fields: { a: map({ d: int(4) }), s: str("y") } } };
    expect(applyWrite(write, current, COMMIT)).toStrictEqual({
      after: {
        name: NAME,
        fields: { a: map({ d: int(4) }), s: str("y") },
        createTime: CREATED,
        updateTime: COMMIT,
      },
      transformResults: [],
    });
  });

  it("creates a missing document with createTime = updateTime = commit time", () => {
    const write: Write = { update: { name: NAME, fields: { a: NULL } } };
    expect(applyWrite(write, undefined, COMMIT).after).toStrictEqual({
      name: NAME,
      fields: { a: NULL },
      createTime: COMMIT,
      updateTime: COMMIT,
    });
  });

  it("absent fields set an empty document", () => {
    expect(applyWrite({ update: { name: NAME } }, stored({ a: int(1) }), COMMIT).after).toStrictEqual(
      expected({}),
    );
  });

  it("keeps map keys containing dots and backticks literally", () => {
    const fields = { "a.b": int(1), m: map({ "x.y": int(2), "`q`": int(3) }) };
    expect(applyWrite({ update: { name: NAME, fields } }, undefined, COMMIT).after?.fields).toStrictEqual({
      "a.b": int(1),
      m: map({ "x.y": int(2), "`q`": int(3) }),
    });
  });

  it("ignores a create/update time sent in the document", () => {
    const write: Write = {
      update: { name: NAME, fields: {}, createTime: { seconds: "5" }, updateTime: { seconds: "6" } },
    };
    expect(applyWrite(write, stored({}), COMMIT).after).toStrictEqual(expected({}));
  });
});

describe("update with a mask", () => {
  const current = (): StoredDocument =>
    stored({ keep: str("k"), a: map({ b: int(1), c: int(2) }), x: int(9), n: int(5) });

  it("sets nested paths, creating nothing else and leaving other fields untouched", () => {
    const write: Write = {
      update: { name: NAME, fields: { a: map({ b: int(10) }) } },
      updateMask: { fieldPaths: ["a.b"] },
    };
    expect(applyWrite(write, current(), COMMIT).after).toStrictEqual(
      expected({ keep: str("k"), a: map({ b: int(10), c: int(2) }), x: int(9), n: int(5) }),
    );
  });

  it("deletes masked fields that are absent from the update data, top-level and nested", () => {
    const write: Write = {
      update: { name: NAME, fields: {} },
      updateMask: { fieldPaths: ["x", "a.c", "nope.z"] },
    };
    expect(applyWrite(write, current(), COMMIT).after).toStrictEqual(
      expected({ keep: str("k"), a: map({ b: int(1) }), n: int(5) }),
    );
  });

  it("deleting the last key of a map keeps the empty map", () => {
    const write: Write = { update: { name: NAME, fields: {} }, updateMask: { fieldPaths: ["m.only"] } };
    expect(applyWrite(write, stored({ m: map({ only: int(1) }) }), COMMIT).after?.fields).toStrictEqual({
      m: map({}),
    });
  });

  it("deleting under a non-map value is a no-op", () => {
    const write: Write = { update: { name: NAME, fields: {} }, updateMask: { fieldPaths: ["x.y", "s.t.u"] } };
    expect(applyWrite(write, stored({ x: int(9), s: str("v") }), COMMIT).after?.fields).toStrictEqual({
      x: int(9),
      s: str("v"),
    });
  });

  it("a mask path naming a map replaces the whole map", () => {
    const write: Write = {
      update: { name: NAME, fields: { a: map({ d: int(4) }) } },
      updateMask: { fieldPaths: ["a"] },
    };
    expect(applyWrite(write, current(), COMMIT).after?.fields).toStrictEqual({
      keep: str("k"),
      a: map({ d: int(4) }),
      x: int(9),
      n: int(5),
    });
  });

  it("merges nested maps leaf by leaf (set with merge)", () => {
    const existing = stored({
      profile: map({ name: str("Ada"), address: map({ city: str("London"), zip: str("N1") }) }),
      other: int(1),
    });
    const write: Write = {
      update: {
        name: NAME,
        fields: { profile: map({ address: map({ city: str("Paris"), country: str("FR") }), age: int(36) }) },
      },
      updateMask: { fieldPaths: ["profile.address.city", "profile.address.country", "profile.age"] },
    };
    expect(applyWrite(write, existing, COMMIT).after?.fields).toStrictEqual({
      profile: map({
        name: str("Ada"),
        address: map({ city: str("Paris"), zip: str("N1"), country: str("FR") }),
        age: int(36),
      }),
      other: int(1),
    });
  });

  it("creates intermediate maps on a missing document", () => {
    const write: Write = {
      update: { name: NAME, fields: { a: map({ b: map({ c: str("deep") }) }) } },
      updateMask: { fieldPaths: ["a.b.c"] },
    };
    expect(applyWrite(write, undefined, COMMIT).after).toStrictEqual(
      expected({ a: map({ b: map({ c: str("deep") }) }) }, COMMIT),
    );
  });

  it("replaces a non-map value on the way to a nested path", () => {
    const write: Write = {
      update: { name: NAME, fields: { x: map({ y: int(1) }) } },
      updateMask: { fieldPaths: ["x.y"] },
    };
    expect(applyWrite(write, stored({ x: int(9) }), COMMIT).after?.fields).toStrictEqual({
      x: map({ y: int(1) }),
    });
  });

  it("descends into an existing empty map ({ mapValue: {} })", () => {
    const write: Write = {
      update: { name: NAME, fields: { m: map({ k: int(1) }) } },
      updateMask: { fieldPaths: ["m.k"] },
    };
    expect(applyWrite(write, stored({ m: { mapValue: {} } }), COMMIT).after?.fields).toStrictEqual({
      m: map({ k: int(1) }),
    });
  });

  it("resolves backtick-quoted mask paths to literal keys", () => {
    const write: Write = {
      update: { name: NAME, fields: { "a.b": map({ "c`d": int(1) }), "e\\f": int(2) } },
      updateMask: { fieldPaths: ["`a.b`.`c\\`d`", "`e\\\\f`"] },
    };
    expect(applyWrite(write, stored({ a: map({ b: int(0) }) }), COMMIT).after?.fields).toStrictEqual({
      a: map({ b: int(0) }),
      "a.b": map({ "c`d": int(1) }),
      "e\\f": int(2),
    });
  });

  it("ignores update data outside the mask", () => {
    const write: Write = {
      update: { name: NAME, fields: { a: int(1), b: int(2) } },
      updateMask: { fieldPaths: ["a"] },
    };
    expect(applyWrite(write, stored({ b: int(0) }), COMMIT).after?.fields).toStrictEqual({
      a: int(1),
      b: int(0),
    });
  });

  it("an empty mask changes no fields but still updates updateTime", () => {
    const write: Write = { update: { name: NAME, fields: { a: int(1) } }, updateMask: {} };
    expect(applyWrite(write, stored({ b: int(2) }), COMMIT).after).toStrictEqual(expected({ b: int(2) }));
  });

  it("treats names like constructor and __proto__ as ordinary keys", () => {
    const write: Write = {
      update: { name: NAME, fields: { m: map({ __proto__x: int(1) }) } },
      updateMask: { fieldPaths: ["constructor", "toString.x", "m.__proto__", "m.__proto__x"] },
    };
    const after = applyWrite(write, stored({}), COMMIT).after;
    expect(after?.fields).toStrictEqual({ m: map({ __proto__x: int(1) }) });

    const proto: Write = {
      update: {
        name: NAME,
        fields: JSON.parse('{"m":{"mapValue":{"fields":{"__proto__":{"integerValue":"7"}}}}}') as Record<
          string,
          Value
        >,
      },
      updateMask: { fieldPaths: ["m.__proto__"] },
    };
    const m = applyWrite(proto, stored({}), COMMIT).after?.fields.m?.mapValue?.fields ?? {};
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    expect(Object.keys(m)).toStrictEqual(["__proto__"]);
    expect(Object.getOwnPropertyDescriptor(m, "__proto__")?.value).toStrictEqual(int(7));
  });
});

describe("transforms", () => {
  describe("setToServerValue REQUEST_TIME", () => {
    it("stores the commit time and returns it as the result", () => {
      const ts: Value = { timestampValue: { seconds: "1700000200", nanos: 789_000 } };
      expect(transformed({ a: int(1) }, { fieldPath: "at", setToServerValue: "REQUEST_TIME" })).toStrictEqual(
        {
          fields: { a: int(1), at: ts },
          results: [ts],
        },
      );
    });

    it("creates intermediate maps and replaces an existing value", () => {
      const ts: Value = { timestampValue: { seconds: "1700000200", nanos: 789_000 } };
      expect(
        transformed({ meta: str("x") }, { fieldPath: "meta.updatedAt", setToServerValue: "REQUEST_TIME" })
          .fields,
      ).toStrictEqual({ meta: map({ updatedAt: ts }) });
    });
  });

  describe("increment", () => {
    it("adds integers exactly beyond 2^53", () => {
      expect(
        transformed({ n: int("9007199254740993") }, { fieldPath: "n", increment: int(2) }),
      ).toStrictEqual({
        fields: { n: int("9007199254740995") },
        results: [int("9007199254740995")],
      });
    });

    it("accepts integers decoded as numbers and negative operands", () => {
      expect(
        transformed({ n: { integerValue: 5 } }, { fieldPath: "n", increment: { integerValue: -7 } }),
      ).toStrictEqual({ fields: { n: int(-2) }, results: [int(-2)] });
    });

    it("saturates at the int64 maximum and minimum", () => {
      expect(transformed({ n: int(INT64_MAX) }, { fieldPath: "n", increment: int(1) }).fields).toStrictEqual({
        n: int(INT64_MAX),
      });
      expect(
        transformed({ n: int("9223372036854775800") }, { fieldPath: "n", increment: int(100) }),
      ).toStrictEqual({
        fields: { n: int(INT64_MAX) },
        results: [int(INT64_MAX)],
      });
      expect(transformed({ n: int(INT64_MIN) }, { fieldPath: "n", increment: int(-1) }).fields).toStrictEqual(
        {
          n: int(INT64_MIN),
        },
      );
      expect(transformed({ n: int(-5) }, { fieldPath: "n", increment: int(INT64_MIN) }).fields).toStrictEqual(
        {
          n: int(INT64_MIN),
        },
      );
    });

    it("uses double arithmetic when either side is a double", () => {
      expect(transformed({ n: int(1) }, { fieldPath: "n", increment: dbl(0.5) })).toStrictEqual({
        fields: { n: dbl(1.5) },
        results: [dbl(1.5)],
      });
      expect(transformed({ n: dbl(0.25) }, { fieldPath: "n", increment: int(2) }).fields).toStrictEqual({
        n: dbl(2.25),
      });
      expect(transformed({ n: int(2) }, { fieldPath: "n", increment: dbl(1) }).fields).toStrictEqual({
        n: dbl(3),
      });
      expect(transformed({ n: dbl(0.1) }, { fieldPath: "n", increment: dbl(0.2) }).fields).toStrictEqual({
        n: dbl(0.1 + 0.2),
      });
    });

    it("follows IEEE 754 for infinities and NaN", () => {
      expect(transformed({ n: dbl(Infinity) }, { fieldPath: "n", increment: int(1) }).fields).toStrictEqual({
        n: dbl(Infinity),
      });
      expect(transformed({ n: dbl(NaN) }, { fieldPath: "n", increment: int(1) }).fields).toStrictEqual({
        n: dbl(NaN),
      });
    });

    it("sets the operand when the field is missing or not a number", () => {
      expect(transformed(undefined, { fieldPath: "n", increment: int(3) })).toStrictEqual({
        fields: { n: int(3) },
        results: [int(3)],
      });
      expect(transformed({ n: str("7") }, { fieldPath: "n", increment: dbl(1.5) }).fields).toStrictEqual({
        n: dbl(1.5),
      });
      expect(transformed({ n: NULL }, { fieldPath: "n", increment: int(-2) }).fields).toStrictEqual({
        n: int(-2),
      });
      expect(
        transformed({ n: map({ x: int(1) }) }, { fieldPath: "n.x", increment: int(4) }).fields,
      ).toStrictEqual({
        n: map({ x: int(5) }),
      });
    });
  });

  describe("maximum and minimum", () => {
    it("maximum takes the larger value", () => {
      expect(transformed({ n: int(3) }, { fieldPath: "n", maximum: int(5) })).toStrictEqual({
        fields: { n: int(5) },
        results: [int(5)],
      });
      expect(transformed({ n: int(3) }, { fieldPath: "n", maximum: int(1) })).toStrictEqual({
        fields: { n: int(3) },
        results: [int(3)],
      });
    });

    it("minimum takes the smaller value", () => {
      expect(transformed({ n: int(3) }, { fieldPath: "n", minimum: int(1) })).toStrictEqual({
        fields: { n: int(1) },
        results: [int(1)],
      });
      expect(transformed({ n: int(3) }, { fieldPath: "n", minimum: int(5) }).fields).toStrictEqual({
        n: int(3),
      });
    });

    it("with mixed types the field takes the type of the winning operand", () => {
      expect(transformed({ n: int(3) }, { fieldPath: "n", maximum: dbl(3.5) }).fields).toStrictEqual({
        n: dbl(3.5),
      });
      expect(transformed({ n: dbl(3.5) }, { fieldPath: "n", maximum: int(4) }).fields).toStrictEqual({
        n: int(4),
      });
      expect(transformed({ n: int(3) }, { fieldPath: "n", minimum: dbl(2.5) }).fields).toStrictEqual({
        n: dbl(2.5),
      });
      expect(transformed({ n: dbl(2.5) }, { fieldPath: "n", minimum: int(2) }).fields).toStrictEqual({
        n: int(2),
      });
      expect(transformed({ n: dbl(2.5) }, { fieldPath: "n", maximum: int(2) }).fields).toStrictEqual({
        n: dbl(2.5),
      });
    });

    it("equivalent operands keep the stored value and its type", () => {
      for (const op of ["maximum", "minimum"] as const) {
        expect(transformed({ n: int(3) }, { fieldPath: "n", [op]: dbl(3) })).toStrictEqual({
          fields: { n: int(3) },
          results: [int(3)],
        });
        expect(transformed({ n: dbl(3) }, { fieldPath: "n", [op]: int(3) }).fields).toStrictEqual({
          n: dbl(3),
        });
        expect(transformed({ n: dbl(-0) }, { fieldPath: "n", [op]: int(0) }).fields).toStrictEqual({
          n: dbl(-0),
        });
        expect(transformed({ n: int(0) }, { fieldPath: "n", [op]: dbl(-0) }).fields).toStrictEqual({
          n: int(0),
        });
      }
    });

    it("compares integers beyond 2^53 exactly", () => {
      expect(
        transformed({ n: int("9007199254740993") }, { fieldPath: "n", maximum: dbl(9007199254740992) })
          .fields,
      ).toStrictEqual({ n: int("9007199254740993") });
      expect(
        transformed({ n: int("9007199254740993") }, { fieldPath: "n", minimum: dbl(9007199254740992) })
          .fields,
      ).toStrictEqual({ n: dbl(9007199254740992) });
    });

    it("NaN on either side yields NaN", () => {
      for (const op of ["maximum", "minimum"] as const) {
        expect(transformed({ n: dbl(NaN) }, { fieldPath: "n", [op]: int(1) }).fields).toStrictEqual({
          n: dbl(NaN),
        });
        expect(transformed({ n: int(1) }, { fieldPath: "n", [op]: dbl(NaN) }).fields).toStrictEqual({
          n: dbl(NaN),
        });
      }
    });

    it("sets the operand when the field is missing or not a number", () => {
      expect(transformed(undefined, { fieldPath: "n", maximum: int(-4) }).fields).toStrictEqual({
        n: int(-4),
      });
      expect(transformed({ n: str("zzz") }, { fieldPath: "n", minimum: dbl(9.5) }).fields).toStrictEqual({
        n: dbl(9.5),
      });
      expect(
        transformed({ n: { booleanValue: true } }, { fieldPath: "n", maximum: int(-1) }).fields,
      ).toStrictEqual({
        n: int(-1),
      });
    });
  });

  describe("appendMissingElements (arrayUnion)", () => {
    it("appends only missing elements, in order, treating 1 and 1.0 as equal; result is null", () => {
      const current = { tags: arr(int(1), str("a"), str("a")) };
      expect(
        transformed(current, {
          fieldPath: "tags",
          appendMissingElements: { values: [dbl(1), str("b"), str("a"), NULL, map({ k: int(1) })] },
        }),
      ).toStrictEqual({
        fields: { tags: arr(int(1), str("a"), str("a"), str("b"), NULL, map({ k: int(1) })) },
        results: [NULL],
      });
    });

    it("dedupes within the operand (first occurrence wins), including NaN", () => {
      expect(
        transformed(undefined, {
          fieldPath: "tags",
          appendMissingElements: { values: [int(2), dbl(2), dbl(NaN), dbl(NaN), NULL, NULL] },
        }).fields,
      ).toStrictEqual({ tags: arr(int(2), dbl(NaN), NULL) });
    });

    it("starts from an empty array when the field is not an array", () => {
      expect(
        transformed({ tags: str("x") }, { fieldPath: "tags", appendMissingElements: { values: [str("x")] } })
          .fields,
      ).toStrictEqual({ tags: arr(str("x")) });
      expect(transformed({}, { fieldPath: "tags", appendMissingElements: {} }).fields).toStrictEqual({
        tags: arr(),
      });
    });

    it("handles an existing empty array decoded as { arrayValue: {} }", () => {
      expect(
        transformed(
          { tags: { arrayValue: {} } },
          { fieldPath: "tags", appendMissingElements: { values: [int(1)] } },
        ).fields,
      ).toStrictEqual({ tags: arr(int(1)) });
    });
  });

  describe("removeAllFromArray (arrayRemove)", () => {
    it("removes every element equal to an operand, across integer and double; result is null", () => {
      const current = { xs: arr(int(1), dbl(1), int(2), str("1"), int(1), dbl(NaN), map({ a: int(1) })) };
      expect(
        transformed(current, {
          fieldPath: "xs",
          removeAllFromArray: { values: [dbl(1), dbl(NaN), map({ a: dbl(1) }), str("nope")] },
        }),
      ).toStrictEqual({ fields: { xs: arr(int(2), str("1")) }, results: [NULL] });
    });

    it("sets an empty array when the field is missing or not an array", () => {
      expect(
        transformed({ xs: int(1) }, { fieldPath: "xs", removeAllFromArray: { values: [int(1)] } }),
      ).toStrictEqual({ fields: { xs: arr() }, results: [NULL] });
      expect(
        transformed(undefined, { fieldPath: "xs", removeAllFromArray: { values: [] } }).fields,
      ).toStrictEqual({
        xs: arr(),
      });
    });
  });

  it("applies several transforms in order and returns their results in order", () => {
    const ts: Value = { timestampValue: { seconds: "1700000200", nanos: 789_000 } };
    expect(
      transformed(
        { count: int(1), tags: arr(str("a")) },
        { fieldPath: "tags", appendMissingElements: { values: [str("b")] } },
        { fieldPath: "count", increment: int(10) },
        { fieldPath: "at", setToServerValue: "REQUEST_TIME" },
        { fieldPath: "best", maximum: dbl(2.5) },
      ),
    ).toStrictEqual({
      fields: { count: int(11), tags: arr(str("a"), str("b")), at: ts, best: dbl(2.5) },
      results: [NULL, int(11), ts, dbl(2.5)],
    });
  });

  it("applies after the update data (set then transform the same field)", () => {
    const write: Write = {
      update: { name: NAME, fields: { n: int(5), m: map({}) } },
      updateTransforms: [
        { fieldPath: "n", increment: int(1) },
        { fieldPath: "m.at", setToServerValue: "REQUEST_TIME" },
      ],
    };
    const ts: Value = { timestampValue: { seconds: "1700000200", nanos: 789_000 } };
    expect(applyWrite(write, stored({ n: int(100), old: int(1) }), COMMIT)).toStrictEqual({
      after: expected({ n: int(6), m: map({ at: ts }) }),
      transformResults: [int(6), ts],
    });
  });

  it("applies after a masked update whose map shares the transform's prefix", () => {
    // firebase-admin: update({ a: { b: FieldValue.increment(2) } }) sends mask [a], a: {} and a transform on a.b.
    const write: Write = {
      update: { name: NAME, fields: { a: map({}) } },
      updateMask: { fieldPaths: ["a"] },
      updateTransforms: [{ fieldPath: "a.b", increment: int(2) }],
      currentDocument: { exists: true },
    };
    expect(applyWrite(write, stored({ a: map({ b: int(40), c: int(1) }), z: int(0) }), COMMIT)).toStrictEqual(
      {
        after: expected({ a: map({ b: int(2) }), z: int(0) }),
        transformResults: [int(2)],
      },
    );
  });

  it("legacy transform writes keep other fields and create a missing document", () => {
    const write: Write = {
      transform: {
        document: NAME,
        fieldTransforms: [
          { fieldPath: "n", increment: int(1) },
          { fieldPath: "`odd.key`", minimum: int(0) },
        ],
      },
    };
    expect(applyWrite(write, stored({ n: int(1), other: str("o") }), COMMIT)).toStrictEqual({
      after: expected({ n: int(2), other: str("o"), "odd.key": int(0) }),
      transformResults: [int(2), int(0)],
    });
    expect(applyWrite(write, undefined, COMMIT)).toStrictEqual({
      after: expected({ n: int(1), "odd.key": int(0) }, COMMIT),
      transformResults: [int(1), int(0)],
    });
  });
});

describe("purity", () => {
  it("does not mutate the write or the current document, and shares no objects with them", () => {
    const write: Write = deepFreeze({
      update: { name: NAME, fields: { a: map({ b: arr(int(1)) }), s: str("x") } },
      updateMask: { fieldPaths: ["a.b", "s", "gone"] },
      updateTransforms: [
        { fieldPath: "a.b", appendMissingElements: { values: [map({ k: int(2) })] } },
        { fieldPath: "n", increment: int(1) },
        { fieldPath: "m", maximum: int(9) },
      ],
      currentDocument: { exists: true },
    });
    const current: StoredDocument = deepFreeze(
      stored({ a: map({ b: arr(int(0)), c: map({ d: int(1) }) }), n: int(1), m: int(3), gone: int(0) }),
    );
    const writeBefore = structuredClone(write);
    const currentBefore = structuredClone(current);

    const result = applyWrite(write, current, COMMIT);
    expect(result).toStrictEqual({
      after: expected({
        a: map({ b: arr(int(1), map({ k: int(2) })), c: map({ d: int(1) }) }),
        n: int(2),
        m: int(9),
        s: str("x"),
      }),
      transformResults: [NULL, int(2), int(9)],
    });
    expect(write).toStrictEqual(writeBefore);
    expect(current).toStrictEqual(currentBefore);

    // Mutating everything in the result must leave the inputs untouched.
    const after = result.after;
    if (after === undefined) throw new Error("expected a document");
    after.createTime.seconds = 0;
    after.updateTime.seconds = 0;
    const a = after.fields.a?.mapValue?.fields ?? {};
    const d = a.c?.mapValue?.fields?.d;
    if (d !== undefined) d.integerValue = "99";
    a.b?.arrayValue?.values?.push(NULL);
    after.fields.m = NULL;
    const results = result.transformResults;
    if (results[2] !== undefined) results[2].integerValue = "0";
    expect(write).toStrictEqual(writeBefore);
    expect(current).toStrictEqual(currentBefore);
    expect(COMMIT).toStrictEqual({ seconds: 1_700_000_200, nanos: 789_000 });
  });

  it("a set stores a copy of the update data", () => {
    const fields = { a: map({ b: int(1) }) };
    const after = applyWrite({ update: { name: NAME, fields } }, undefined, COMMIT).after;
    expect(after?.fields).toStrictEqual(fields);
    expect(after?.fields).not.toBe(fields);
    expect(after?.fields.a).not.toBe(fields.a);
  });

  it("transform results are not the stored values", () => {
    const result = applyWrite(transformWrite([{ fieldPath: "n", increment: int(1) }]), undefined, COMMIT);
    expect(result.transformResults[0]).toStrictEqual(result.after?.fields.n);
    expect(result.transformResults[0]).not.toBe(result.after?.fields.n);
  });
});

describe("writeTarget", () => {
  it("returns the document each operation names", () => {
    expect(writeTarget({ update: { name: NAME } })).toBe(NAME);
    expect(writeTarget({ delete: `${NAME}/sub/d2` })).toBe(`${NAME}/sub/d2`);
    expect(writeTarget({ transform: { document: NAME, fieldTransforms: [] } })).toBe(NAME);
  });

  it("throws INVALID_ARGUMENT when there is no operation", () => {
    expectCode(() => writeTarget({}), status.INVALID_ARGUMENT);
  });
});

describe("parseFieldPath", () => {
  it.each<[string, string[]]>([
    ["a", ["a"]],
    ["a.b.c", ["a", "b", "c"]],
    ["_x9.Y_", ["_x9", "Y_"]],
    ["__name__", ["__name__"]],
    ["`a.b`.c", ["a.b", "c"]],
    ["c.`a.b`", ["c", "a.b"]],
    ["`x&y`", ["x&y"]],
    ["`bak\\`tik`", ["bak`tik"]],
    ["`back\\\\slash`", ["back\\slash"]],
    ["`\\a`", ["a"]],
    ["`9lives`.`名前`.` `", ["9lives", "名前", " "]],
    ["`😀`", ["😀"]],
  ])("parses %j", (path, segments) => {
    expect(parseFieldPath(path)).toStrictEqual(segments);
  });

  it.each([
    "",
    ".",
    "a..b",
    ".a",
    "a.",
    "`a",
    "`a\\`",
    "`a\\",
    "``",
    "``.a",
    "a-b",
    "9a",
    "a b",
    "名前",
    "`a`b",
    "`a`.",
    "`a``b`",
    "a`b`",
  ])("rejects %j with INVALID_ARGUMENT", (path) => {
    expectCode(() => parseFieldPath(path), status.INVALID_ARGUMENT, "Invalid field path");
  });
});

describe("validateWrite", () => {
  const ok = (fieldTransforms: FieldTransform[]): Write => transformWrite(fieldTransforms);

  it.each<[string, Write]>([
    ["no operation", {}],
    ["only a precondition", { currentDocument: { exists: true } }],
    ["update and delete", { update: { name: NAME }, delete: NAME }],
    ["delete and transform", { delete: NAME, transform: { document: NAME, fieldTransforms: [] } }],
    ["update without a name", { update: { fields: {} } }],
    ["delete with an empty name", { delete: "" }],
    ["updateMask on a delete", { delete: NAME, updateMask: { fieldPaths: ["a"] } }],
    [
      "updateTransforms on a delete",
      { delete: NAME, updateTransforms: [{ fieldPath: "a", increment: int(1) }] },
    ],
    [
      "updateMask on a transform",
      {
        transform: { document: NAME, fieldTransforms: [{ fieldPath: "a", increment: int(1) }] },
        updateMask: {},
      },
    ],
    ["transform without field transforms", { transform: { document: NAME } }],
    [
      "transform without a document",
      { transform: { fieldTransforms: [{ fieldPath: "a", increment: int(1) }] } },
    ],
    [
      "both precondition kinds",
      { delete: NAME, currentDocument: { exists: true, updateTime: { seconds: "1" } } },
    ],
    ["malformed mask path", { update: { name: NAME }, updateMask: { fieldPaths: ["a..b"] } }],
    ["unquoted non-simple mask path", { update: { name: NAME }, updateMask: { fieldPaths: ["a-b"] } }],
    ["reserved mask path", { update: { name: NAME }, updateMask: { fieldPaths: ["__x__.y"] } }],
    ["reserved top-level field", { update: { name: NAME, fields: { __x__: int(1) } } }],
    ["reserved __name__ field", { update: { name: NAME, fields: { __name__: str("n") } } }],
    ["empty field name", { update: { name: NAME, fields: { "": int(1) } } }],
    ["empty nested field name", { update: { name: NAME, fields: { m: map({ "": int(1) }) } } }],
    ["nested arrays", { update: { name: NAME, fields: { a: arr(int(1), arr(int(2))) } } }],
    [
      "nested arrays inside a map in an array",
      { update: { name: NAME, fields: { a: arr(map({ b: arr(arr()) })) } } },
    ],
    ["nested arrays in arrayUnion", ok([{ fieldPath: "a", appendMissingElements: { values: [arr()] } }])],
    [
      "duplicate transform paths",
      ok([
        { fieldPath: "a", increment: int(1) },
        { fieldPath: "a", maximum: int(1) },
      ]),
    ],
    [
      "overlapping transform paths",
      ok([
        { fieldPath: "a.b", increment: int(1) },
        { fieldPath: "a", setToServerValue: "REQUEST_TIME" },
      ]),
    ],
    [
      "same path spelled differently",
      ok([
        { fieldPath: "`a`.b", increment: int(1) },
        { fieldPath: "a.`b`", increment: int(1) },
      ]),
    ],
    ["transform without a path", ok([{ increment: int(1) }])],
    ["malformed transform path", ok([{ fieldPath: "a.", increment: int(1) }])],
    ["reserved transform path", ok([{ fieldPath: "__t__", increment: int(1) }])],
    ["transform without a type", ok([{ fieldPath: "a" }])],
    ["transform with two types", ok([{ fieldPath: "a", increment: int(1), maximum: int(2) }])],
    ["unspecified server value", ok([{ fieldPath: "a", setToServerValue: "SERVER_VALUE_UNSPECIFIED" }])],
    ["string increment operand", ok([{ fieldPath: "a", increment: str("1") }])],
    ["null increment operand", ok([{ fieldPath: "a", increment: NULL }])],
    ["boolean maximum operand", ok([{ fieldPath: "a", maximum: { booleanValue: true } }])],
    ["timestamp minimum operand", ok([{ fieldPath: "a", minimum: { timestampValue: { seconds: "1" } } }])],
  ])("rejects %s", (_label, write) => {
    expectCode(() => {
      validateWrite(write);
    }, status.INVALID_ARGUMENT);
    expectCode(() => applyWrite(write, stored({}), COMMIT), status.INVALID_ARGUMENT);
  });

  it.each<[string, Write]>([
    ["a plain set", { update: { name: NAME, fields: { a: int(1) } } }],
    ["a delete", { delete: NAME, currentDocument: { exists: true } }],
    ["an empty mask with transforms", ok([{ fieldPath: "a", increment: dbl(1.5) }])],
    ["an empty updateTransforms list on a delete", { delete: NAME, updateTransforms: [] }],
    [
      "a mask path and a transform under it",
      { ...ok([{ fieldPath: "a.b", increment: int(1) }]), updateMask: { fieldPaths: ["a"] } },
    ],
    [
      "sibling transform paths",
      ok([
        { fieldPath: "a.b", increment: int(1) },
        { fieldPath: "a.c", increment: int(1) },
      ]),
    ],
    [
      "transform paths sharing a string prefix",
      ok([
        { fieldPath: "ab", increment: int(1) },
        { fieldPath: "a", increment: int(1) },
      ]),
    ],
    [
      "reserved names below the top level (vectors)",
      {
        update: {
          name: NAME,
          fields: { v: map({ __type__: str("__vector__"), value: arr(dbl(1), dbl(2)) }) },
        },
        updateMask: { fieldPaths: ["v", "m.__x__"] },
      },
    ],
    [
      "arrays of maps holding arrays",
      { update: { name: NAME, fields: { a: arr(map({ b: arr(int(1)) })) } } },
    ],
  ])("accepts %s", (_label, write) => {
    expect(() => {
      validateWrite(write);
    }).not.toThrow();
  });
});
