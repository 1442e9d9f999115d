import type { Timestamp, Value } from "./types";

/** The kinds of Firestore values, in Firestore's cross-type sort order. */
export type ValueKind =
  | "null"
  | "boolean"
  | "number"
  | "timestamp"
  | "string"
  | "bytes"
  | "reference"
  | "geoPoint"
  | "array"
  | "vector"
  | "map";

const KIND_ORDER: Record<ValueKind, number> = {
  null: 0,
  boolean: 1,
  number: 2,
  timestamp: 3,
  string: 4,
  bytes: 5,
  reference: 6,
  geoPoint: 7,
  array: 8,
  vector: 9,
  map: 10,
};

export function valueKind(v: Value): ValueKind {
  if (v.nullValue !== undefined) return "null";
  if (v.booleanValue !== undefined) return "boolean";
  if (v.integerValue !== undefined || v.doubleValue !== undefined) return "number";
  if (v.timestampValue !== undefined) return "timestamp";
  if (v.stringValue !== undefined) return "string";
  if (v.bytesValue !== undefined) return "bytes";
  if (v.referenceValue !== undefined) return "reference";
  if (v.geoPointValue !== undefined) return "geoPoint";
  if (v.arrayValue !== undefined) return "array";
  if (v.mapValue !== undefined) {
    return v.mapValue.fields?.__type__?.stringValue === "__vector__" ? "vector" : "map";
  }
  // A Value with nothing set is how proto3 encodes null when defaults are dropped.
  return "null";
}

export function isInteger(v: Value): boolean {
  return v.integerValue !== undefined;
}

export function isNaNValue(v: Value): boolean {
  return v.doubleValue !== undefined && Number.isNaN(v.doubleValue);
}

export function isNullValue(v: Value): boolean {
  return valueKind(v) === "null";
}

/** Integer values as bigint (int64 arrives as a decimal string). */
export function integerOf(v: Value): bigint {
  return BigInt(v.integerValue ?? 0);
}

export function doubleOf(v: Value): number {
  return v.doubleValue ?? Number(v.integerValue ?? 0);
}

function compareNumbers(a: Value, b: Value): number {
  if (a.integerValue !== undefined && b.integerValue !== undefined) {
    const x = integerOf(a);
    const y = integerOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = doubleOf(a);
  const y = doubleOf(b);
  // NaN sorts before every other number and equals itself for ordering purposes.
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
  if (Number.isNaN(y)) return 1;
  if (x < y) return -1;
  if (x > y) return 1;
  // Equal as doubles: an integer beyond 2^53 may still differ from the double.
  if (a.integerValue !== undefined && Number.isFinite(y) && Number.isInteger(y)) {
    const d = integerOf(a) - BigInt(y);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  if (b.integerValue !== undefined && Number.isFinite(x) && Number.isInteger(x)) {
    const d = BigInt(x) - integerOf(b);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  return 0;
}

function compareTimestamps(a: Timestamp, b: Timestamp): number {
  const s = Number(a.seconds ?? 0) - Number(b.seconds ?? 0);
  if (s !== 0) return s < 0 ? -1 : 1;
  const n = (a.nanos ?? 0) - (b.nanos ?? 0);
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Compares strings by Unicode code point, which is the UTF-8 byte order Firestore uses. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i) ?? 0;
    const cb = b.codePointAt(i) ?? 0;
    if (ca !== cb) return ca < cb ? -1 : 1;
    if (ca > 0xffff) i++; // skip the low surrogate of a pair (both strings share it here)
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const NUMERIC_ID = /^__id(-?\d+)__$/;

/** Path segments: numeric ids (`__id123__`) sort before string ids, by value; then by code point. */
function compareSegments(a: string, b: string): number {
  const na = NUMERIC_ID.exec(a)?.[1];
  const nb = NUMERIC_ID.exec(b)?.[1];
  if (na !== undefined && nb !== undefined) {
    const x = BigInt(na);
    const y = BigInt(nb);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (na !== undefined) return -1;
  if (nb !== undefined) return 1;
  return compareStrings(a, b);
}

/** References compare segment by segment (so `a/b` < `a/b/c/d` < `a0/x`). */
export function compareReferences(a: string, b: string): number {
  const sa = a.split("/");
  const sb = b.split("/");
  const n = Math.min(sa.length, sb.length);
  for (let i = 0; i < n; i++) {
    const c = compareSegments(sa[i] ?? "", sb[i] ?? "");
    if (c !== 0) return c;
  }
  return sa.length === sb.length ? 0 : sa.length < sb.length ? -1 : 1;
}

function compareArrays(a: Value[], b: Value[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i] ?? {}, b[i] ?? {});
    if (c !== 0) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareMaps(a: Record<string, Value>, b: Record<string, Value>): number {
  const ka = Object.keys(a).sort(compareStrings);
  const kb = Object.keys(b).sort(compareStrings);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const x = ka[i] ?? "";
    const y = kb[i] ?? "";
    const c = compareStrings(x, y);
    if (c !== 0) return c;
    const d = compareValues(a[x] ?? {}, b[y] ?? {});
    if (d !== 0) return d;
  }
  return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
}

function vectorLength(v: Value): number {
  return v.mapValue?.fields?.value?.arrayValue?.values?.length ?? 0;
}

/** Firestore's total order over values of all types. Returns <0, 0 or >0. */
export function compareValues(a: Value, b: Value): number {
  const ka = valueKind(a);
  const kb = valueKind(b);
  if (ka !== kb) return KIND_ORDER[ka] < KIND_ORDER[kb] ? -1 : 1;
  switch (ka) {
    case "null":
      return 0;
    case "boolean":
      return a.booleanValue === b.booleanValue ? 0 : a.booleanValue ? 1 : -1;
    case "number":
      return compareNumbers(a, b);
    case "timestamp":
      return compareTimestamps(a.timestampValue ?? {}, b.timestampValue ?? {});
    case "string":
      return compareStrings(a.stringValue ?? "", b.stringValue ?? "");
    case "bytes":
      return compareBytes(a.bytesValue ?? new Uint8Array(), b.bytesValue ?? new Uint8Array());
    case "reference":
      return compareReferences(a.referenceValue ?? "", b.referenceValue ?? "");
    case "geoPoint": {
      const la = a.geoPointValue?.latitude ?? 0;
      const lb = b.geoPointValue?.latitude ?? 0;
      if (la !== lb) return la < lb ? -1 : 1;
      const ga = a.geoPointValue?.longitude ?? 0;
      const gb = b.geoPointValue?.longitude ?? 0;
      return ga === gb ? 0 : ga < gb ? -1 : 1;
    }
    case "array":
      return compareArrays(a.arrayValue?.values ?? [], b.arrayValue?.values ?? []);
    case "vector": {
      const d = vectorLength(a) - vectorLength(b);
      if (d !== 0) return d < 0 ? -1 : 1;
      return compareMaps(a.mapValue?.fields ?? {}, b.mapValue?.fields ?? {});
    }
    case "map":
      return compareMaps(a.mapValue?.fields ?? {}, b.mapValue?.fields ?? {});
  }
}

/**
 * Equality as Firestore's `==` filter and arrayUnion/arrayRemove use it: numbers compare by
 * numeric value across integer and double (1 == 1.0), NaN equals NaN, -0 equals 0.
 */
export function valuesEqual(a: Value, b: Value): boolean {
  return compareValues(a, b) === 0;
}

/** Deep copy so stored documents never share structure with requests or replies. */
export function cloneValue(v: Value): Value {
  return structuredClone(v);
}

const utf8 = (s: string): number => Buffer.byteLength(s, "utf8");

/** Storage size of a value by Firestore's published rules (strings UTF-8 + 1, numbers 8, …). */
export function valueSize(v: Value): number {
  switch (valueKind(v)) {
    case "null":
    case "boolean":
      return 1;
    case "number":
    case "timestamp":
      return 8;
    case "string":
      return utf8(v.stringValue ?? "") + 1;
    case "bytes":
      return v.bytesValue?.length ?? 0;
    case "reference":
      return documentNameSize(v.referenceValue ?? "");
    case "geoPoint":
      return 16;
    case "array":
      return (v.arrayValue?.values ?? []).reduce((n, x) => n + valueSize(x), 0);
    case "vector":
    case "map":
      return fieldsSize(v.mapValue?.fields ?? {});
  }
}

export function fieldsSize(fields: Record<string, Value>): number {
  let n = 0;
  for (const [k, x] of Object.entries(fields)) n += utf8(k) + 1 + valueSize(x);
  return n;
}

/** Size of a document name: each path segment's UTF-8 length + 1, plus 16. */
export function documentNameSize(name: string): number {
  const idx = name.indexOf("/documents/");
  const path = idx >= 0 ? name.slice(idx + "/documents/".length) : name;
  return path.split("/").reduce((n, s) => n + utf8(s) + 1, 16);
}

/** Firestore's maximum document size (1 MiB), name + fields + 32 bytes of overhead. */
export const MAX_DOCUMENT_SIZE = 1_048_576;

export function documentSize(name: string, fields: Record<string, Value>): number {
  return documentNameSize(name) + fieldsSize(fields) + 32;
}

/** Canonical form of a stored value: type-exact, independent of map key order. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (v instanceof Uint8Array) return `b:${Buffer.from(v).toString("base64")}`;
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(",")}}`;
}
