import type { StoredDocument, Value } from "../types";
import { RulesEvalError } from "./errors";

/** Runtime values of the rules language. */
export type RVal =
  | { k: "null" }
  | { k: "bool"; v: boolean }
  | { k: "int"; v: bigint }
  | { k: "float"; v: number }
  | { k: "string"; v: string }
  | { k: "bytes"; v: Uint8Array }
  /** `partial` lists are symbolic (list judging): only the elements in `v` are known to be present. */
  | { k: "list"; v: RVal[]; partial?: string }
  | { k: "set"; v: RVal[] }
  /** `partial` maps are symbolic (list judging): only the keys in `v` are known. */
  | { k: "map"; v: Map<string, RVal>; partial?: string }
  | { k: "mapdiff"; left: Map<string, RVal>; right: Map<string, RVal> }
  | { k: "timestamp"; ns: bigint }
  | { k: "duration"; ns: bigint }
  | { k: "path"; segs: string[] }
  | { k: "latlng"; lat: number; lng: number }
  /** A value that is not known at evaluation time (list judging); any use is an error. */
  | { k: "unknown"; why: string };

export const NULL: RVal = { k: "null" };
const TRUE: RVal = { k: "bool", v: true };
const FALSE: RVal = { k: "bool", v: false };
export const bool = (v: boolean): RVal => (v ? TRUE : FALSE);
export const str = (v: string): RVal => ({ k: "string", v });
export const int = (v: bigint): RVal => {
  if (v > INT64_MAX || v < INT64_MIN) throw new RulesEvalError("integer overflow");
  return { k: "int", v };
};
export const float = (v: number): RVal => ({ k: "float", v });

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;
export const NS_PER_SECOND = 1_000_000_000n;
/** Timestamps must lie in 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z. */
export const MIN_TIMESTAMP_NS = -62135596800n * NS_PER_SECOND;
export const MAX_TIMESTAMP_NS = 253402300800n * NS_PER_SECOND - 1n;

export function timestamp(ns: bigint): RVal {
  if (ns < MIN_TIMESTAMP_NS || ns > MAX_TIMESTAMP_NS) throw new RulesEvalError("timestamp out of range");
  return { k: "timestamp", ns };
}

export function duration(ns: bigint): RVal {
  // Production durations are limited to about +/- 10000 years.
  if (ns > 315576000000n * NS_PER_SECOND || ns < -315576000000n * NS_PER_SECOND) {
    throw new RulesEvalError("duration out of range");
  }
  return { k: "duration", ns };
}

/** Name of the type as `is` and error messages spell it. */
export function typeName(v: RVal): string {
  switch (v.k) {
    case "mapdiff":
      return "map_diff";
    case "unknown":
      return "unknown";
    default:
      return v.k;
  }
}

export function fail(message: string): never {
  throw new RulesEvalError(message);
}

/** Throws when a symbolic value is used in a way whose result is not known. */
export function concrete(v: RVal): RVal {
  if (v.k === "unknown") fail(v.why);
  if ((v.k === "map" || v.k === "list") && v.partial !== undefined) fail(v.partial);
  return v;
}

// ---- conversion from Firestore values ----

const REFERENCE = /^projects\/[^/]+\/(databases\/.+)$/;

export function fromValue(v: Value): RVal {
  if (v.booleanValue !== undefined) return bool(v.booleanValue);
  if (v.integerValue !== undefined) return { k: "int", v: BigInt(v.integerValue) };
  if (v.doubleValue !== undefined) return float(v.doubleValue);
  if (v.timestampValue !== undefined) {
    const s = BigInt(v.timestampValue.seconds ?? 0);
    return { k: "timestamp", ns: s * NS_PER_SECOND + BigInt(v.timestampValue.nanos ?? 0) };
  }
  if (v.stringValue !== undefined) return str(v.stringValue);
  if (v.bytesValue !== undefined) return { k: "bytes", v: v.bytesValue };
  if (v.referenceValue !== undefined) {
    const m = REFERENCE.exec(v.referenceValue);
    return { k: "path", segs: (m?.[1] ?? v.referenceValue).split("/").filter((s) => s !== "") };
  }
  if (v.geoPointValue !== undefined) {
    return { k: "latlng", lat: v.geoPointValue.latitude ?? 0, lng: v.geoPointValue.longitude ?? 0 };
  }
  if (v.arrayValue !== undefined) return { k: "list", v: (v.arrayValue.values ?? []).map(fromValue) };
  if (v.mapValue !== undefined) return fromFields(v.mapValue.fields ?? {});
  return NULL;
}

export function fromFields(fields: Record<string, Value>): RVal {
  const m = new Map<string, RVal>();
  for (const [key, value] of Object.entries(fields)) m.set(key, fromValue(value));
  return { k: "map", v: m };
}

/** Plain JSON (decoded token claims) to a rules value. */
export function fromJson(j: unknown): RVal {
  if (j === null || j === undefined) return NULL;
  if (typeof j === "boolean") return bool(j);
  if (typeof j === "number") return Number.isInteger(j) ? { k: "int", v: BigInt(j) } : float(j);
  if (typeof j === "bigint") return { k: "int", v: j };
  if (typeof j === "string") return str(j);
  if (Array.isArray(j)) return { k: "list", v: j.map(fromJson) };
  if (typeof j === "object") {
    const m = new Map<string, RVal>();
    for (const [key, value] of Object.entries(j as Record<string, unknown>)) m.set(key, fromJson(value));
    return { k: "map", v: m };
  }
  return NULL; // functions and symbols cannot occur in decoded JSON
}

/** `resource`-shaped map for a stored document: `{ data, id, __name__ }`. */
export function resourceOf(doc: StoredDocument, database: string, path: string): RVal {
  const segs = path.split("/");
  return {
    k: "map",
    v: new Map<string, RVal>([
      ["data", fromFields(doc.fields)],
      ["id", str(segs[segs.length - 1] ?? "")],
      ["__name__", { k: "path", segs: ["databases", database, "documents", ...segs] }],
    ]),
  };
}

// ---- equality and ordering ----

function isNumber(v: RVal): v is { k: "int"; v: bigint } | { k: "float"; v: number } {
  return v.k === "int" || v.k === "float";
}

function numCompare(a: { k: "int"; v: bigint } | { k: "float"; v: number }, b: typeof a): number {
  if (a.k === "int" && b.k === "int") return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  const x = Number(a.v);
  const y = Number(b.v);
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  return x < y ? -1 : x > y ? 1 : 0;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The `==` operator. Different types are unequal (not an error); int and float compare numerically. */
export function rEquals(a: RVal, b: RVal): boolean {
  if (a.k === "unknown") fail(a.why);
  if (b.k === "unknown") fail(b.why);
  if (isNumber(a) && isNumber(b)) return numCompare(a, b) === 0;
  if (a.k !== b.k) return false;
  switch (a.k) {
    case "null":
      return true;
    case "bool":
    case "string":
      return a.v === (b as typeof a).v;
    case "int":
    case "float":
      return false; // handled above
    case "bytes":
      return bytesEqual(a.v, (b as typeof a).v);
    case "timestamp":
    case "duration":
      return a.ns === (b as typeof a).ns;
    case "latlng": {
      const o = b as typeof a;
      return a.lat === o.lat && a.lng === o.lng;
    }
    case "path": {
      const o = b as typeof a;
      return a.segs.length === o.segs.length && a.segs.every((s, i) => s === o.segs[i]);
    }
    case "list": {
      const o = concrete(b) as typeof a;
      concrete(a);
      return a.v.length === o.v.length && a.v.every((x, i) => rEquals(x, o.v[i] ?? NULL));
    }
    case "set": {
      const o = b as typeof a;
      return a.v.length === o.v.length && a.v.every((x) => o.v.some((y) => rEquals(x, y)));
    }
    case "map": {
      const o = concrete(b) as typeof a;
      concrete(a);
      if (a.v.size !== o.v.size) return false;
      for (const [key, value] of a.v) {
        const other = o.v.get(key);
        if (other === undefined || !rEquals(value, other)) return false;
      }
      return true;
    }
    case "mapdiff":
      return fail("map_diff values cannot be compared");
  }
}

function compareStrings(a: string, b: string): number {
  // Code point order (UTF-8 byte order).
  const x = Array.from(a);
  const y = Array.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const c = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

/** The ordering operators. Only numbers, strings, timestamps, durations and bytes are ordered. */
export function rCompare(a: RVal, b: RVal): number {
  if (isNumber(a) && isNumber(b)) return numCompare(a, b);
  if (a.k === "string" && b.k === "string") return compareStrings(a.v, b.v);
  if ((a.k === "timestamp" && b.k === "timestamp") || (a.k === "duration" && b.k === "duration")) {
    return a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0;
  }
  if (a.k === "bytes" && b.k === "bytes") {
    const n = Math.min(a.v.length, b.v.length);
    for (let i = 0; i < n; i++) {
      const d = (a.v[i] ?? 0) - (b.v[i] ?? 0);
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    return a.v.length === b.v.length ? 0 : a.v.length < b.v.length ? -1 : 1;
  }
  concrete(a);
  concrete(b);
  return fail(`cannot compare ${typeName(a)} with ${typeName(b)}`);
}

/** Membership in a list or set, honouring symbolic (partial) lists. */
export function listContains(list: RVal[], item: RVal, partial: string | undefined): boolean {
  if (list.some((x) => rEquals(x, item))) return true;
  if (partial !== undefined) fail(partial);
  return false;
}

/** A set from a list: duplicates dropped, first occurrence kept. */
export function toSet(items: RVal[]): RVal {
  const out: RVal[] = [];
  for (const x of items) if (!out.some((y) => rEquals(x, y))) out.push(x);
  return { k: "set", v: out };
}

export function show(v: RVal): string {
  switch (v.k) {
    case "null":
      return "null";
    case "bool":
      return String(v.v);
    case "int":
      return v.v.toString();
    case "float":
      return String(v.v);
    case "string":
      return JSON.stringify(v.v);
    case "bytes":
      return `b'${Buffer.from(v.v).toString("hex")}'`;
    case "list":
      return `[${v.v.map(show).join(", ")}${v.partial !== undefined ? ", ..." : ""}]`;
    case "set":
      return `set([${v.v.map(show).join(", ")}])`;
    case "map":
      return `{${[...v.v].map(([key, value]) => `${JSON.stringify(key)}: ${show(value)}`).join(", ")}${v.partial !== undefined ? ", ..." : ""}}`;
    case "mapdiff":
      return "map_diff";
    case "timestamp":
      return `timestamp(${v.ns.toString()}ns)`;
    case "duration":
      return `duration(${v.ns.toString()}ns)`;
    case "path":
      return "/" + v.segs.join("/");
    case "latlng":
      return `latlng(${v.lat}, ${v.lng})`;
    case "unknown":
      return "<unknown>";
  }
}
