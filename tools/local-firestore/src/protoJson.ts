import * as protobuf from "protobufjs";
import { invalidArgument } from "./errors";

/**
 * Proto3 JSON (https://protobuf.dev/programming-guides/json/) for the Firestore v1 messages,
 * as the REST API and WebChannel carry them, converted to and from the plain shapes the
 * operations use (those of @grpc/proto-loader with `longs: String, enums: String`: int64 as
 * decimal strings, enums as names, bytes as Buffers, Timestamps as `{seconds, nanos}`,
 * wrappers as `{value}`). Driven by the official protos, so every request and response type
 * is covered by one walk.
 *
 * Decoding is lenient where clients are: a Timestamp may come as an RFC 3339 string or as
 * `{seconds, nanos}`, a wrapper as a bare value or `{value}`, an enum as a name or a number,
 * int64 as a string or a number, and query-string values as strings.
 */

let cachedRoot: protobuf.Root | undefined;

function root(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const json = require("@google-cloud/firestore/build/protos/v1.json") as protobuf.INamespace;
  cachedRoot = protobuf.Root.fromJSON(json);
  // `Write.verify` (field 5 of the `operation` oneof in Firestore's API) is missing from the
  // published protos, but the web SDK sends it in transactions.
  cachedRoot.lookupType("google.firestore.v1.Write").add(new protobuf.Field("verify", 5, "string"));
  cachedRoot.resolveAll();
  return cachedRoot;
}

/** The message type `google.firestore.v1.<name>` (or a fully qualified name). */
export function messageType(name: string): protobuf.Type {
  return root().lookupType(name.includes(".") ? name : `google.firestore.v1.${name}`);
}

const INT64 = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);
const INT32 = new Set(["int32", "uint32", "sint32", "fixed32", "sfixed32"]);
const WRAPPERS = new Set([
  ".google.protobuf.Int32Value",
  ".google.protobuf.UInt32Value",
  ".google.protobuf.Int64Value",
  ".google.protobuf.UInt64Value",
  ".google.protobuf.DoubleValue",
  ".google.protobuf.FloatValue",
  ".google.protobuf.BoolValue",
  ".google.protobuf.StringValue",
  ".google.protobuf.BytesValue",
]);

type Plain = Record<string, unknown>;

const isObject = (v: unknown): v is Plain => typeof v === "object" && v !== null && !Array.isArray(v);

function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function fieldOf(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return type.fields[key] ?? type.fields[snakeToCamel(key)];
}

// ---------------------------------------------------------------------------------------------
// Decoding: proto3 JSON → plain

/** Decodes a proto3 JSON message of the given type into the plain shape the operations use. */
export function fromProto3Json(typeName: string, json: unknown): Plain {
  const out = decodeMessage(messageType(typeName), json, typeName);
  return isObject(out) ? out : {};
}

function decodeMessage(type: protobuf.Type, json: unknown, path: string): unknown {
  const special = decodeWellKnown(type, json, path);
  if (special !== NOT_SPECIAL) return special;
  if (!isObject(json)) throw invalidArgument(`Invalid JSON payload: ${path} must be an object.`);
  const out: Plain = {};
  for (const [key, value] of Object.entries(json)) {
    const field = fieldOf(type, key);
    if (!field) throw invalidArgument(`Invalid JSON payload received. Unknown name "${key}" at '${path}'.`);
    const nullable = [".google.protobuf.Value", ".google.protobuf.NullValue"].includes(
      field.resolvedType?.fullName ?? "",
    );
    if (value === null && !nullable) continue;
    const at = `${path}.${field.name}`;
    if (field.map) {
      if (!isObject(value)) throw invalidArgument(`Invalid JSON payload: ${at} must be an object.`);
      const m: Plain = {};
      for (const [k, v] of Object.entries(value)) m[k] = decodeField(field, v, `${at}[${k}]`);
      out[field.name] = m;
    } else if (field.repeated) {
      if (!Array.isArray(value)) {
        // Query strings give a single value for a repeated field.
        out[field.name] = [decodeField(field, value, at)];
        continue;
      }
      out[field.name] = value.map((v, i) => decodeField(field, v, `${at}[${i}]`));
    } else {
      out[field.name] = decodeField(field, value, at);
    }
  }
  return out;
}

function decodeField(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return decodeMessage(resolved, value, path);
  if (resolved instanceof protobuf.Enum) return decodeEnum(resolved, value, path);
  return decodeScalar(field.type, value, path);
}

function decodeEnum(e: protobuf.Enum, value: unknown, path: string): unknown {
  if (e.fullName === ".google.protobuf.NullValue") return "NULL_VALUE";
  if (typeof value === "string" && value in e.values) return value;
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  const name = Number.isInteger(n) ? e.valuesById[n] : undefined;
  if (name === undefined) throw invalidArgument(`Invalid value at '${path}': ${JSON.stringify(value)}.`);
  return name;
}

function decodeScalar(type: string, value: unknown, path: string): unknown {
  const bad = (): never => {
    throw invalidArgument(`Invalid value at '${path}' (${type}): ${JSON.stringify(value)}.`);
  };
  if (INT64.has(type)) {
    if (typeof value === "number" && Number.isInteger(value)) return String(value);
    if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return BigInt(value.trim()).toString();
    return bad();
  }
  if (INT32.has(type)) {
    const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    if (typeof n === "number" && Number.isInteger(n)) return n;
    return bad();
  }
  switch (type) {
    case "double":
    case "float": {
      if (typeof value === "number") return value;
      if (value === "NaN") return Number.NaN;
      if (value === "Infinity") return Number.POSITIVE_INFINITY;
      if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
      if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value)))
        return Number(value);
      return bad();
    }
    case "bool":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      return bad();
    case "string":
      if (typeof value === "string") return value;
      return bad();
    case "bytes":
      if (typeof value === "string")
        return Buffer.from(value.replace(/-/g, "+").replace(/_/g, "/"), "base64");
      if (value instanceof Uint8Array) return Buffer.from(value);
      return bad();
  }
  return bad();
}

const NOT_SPECIAL = Symbol("not special");

function decodeWellKnown(type: protobuf.Type, json: unknown, path: string): unknown {
  switch (type.fullName) {
    case ".google.protobuf.Timestamp":
      if (typeof json === "string") return parseRfc3339(json, path);
      if (isObject(json)) {
        return {
          seconds: decodeScalar("int64", json.seconds ?? 0, `${path}.seconds`),
          nanos: decodeScalar("int32", json.nanos ?? 0, `${path}.nanos`),
        };
      }
      throw invalidArgument(`Invalid value at '${path}': a Timestamp is an RFC 3339 string.`);
    case ".google.protobuf.Duration": {
      const m = typeof json === "string" ? /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
      if (!m) throw invalidArgument(`Invalid value at '${path}': a Duration is like "1.5s".`);
      const nanos = Number((m[2] ?? "").padEnd(9, "0"));
      return { seconds: m[1] ?? "0", nanos: (m[1] ?? "").startsWith("-") ? -nanos : nanos };
    }
    case ".google.protobuf.Struct":
      if (!isObject(json)) throw invalidArgument(`Invalid value at '${path}': a Struct is an object.`);
      return { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, toStructValue(v)])) };
    case ".google.protobuf.Value":
      return toStructValue(json);
    case ".google.protobuf.ListValue":
      if (!Array.isArray(json)) throw invalidArgument(`Invalid value at '${path}': a ListValue is an array.`);
      return { values: json.map(toStructValue) };
    case ".google.protobuf.Empty":
      return {};
  }
  if (WRAPPERS.has(type.fullName)) {
    const inner = isObject(json) ? json.value : json;
    const valueField = type.fields.value;
    if (!valueField) return NOT_SPECIAL;
    return { value: decodeScalar(valueField.type, inner, path) };
  }
  return NOT_SPECIAL;
}

function toStructValue(v: unknown): Plain {
  if (v === null || v === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toStructValue) } };
  if (isObject(v))
    return {
      structValue: { fields: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toStructValue(x)])) },
    };
  return { nullValue: "NULL_VALUE" };
}

/** RFC 3339 (`2024-01-02T03:04:05.123456Z`, any offset) → `{seconds, nanos}`. */
export function parseRfc3339(s: string, path = "timestamp"): { seconds: string; nanos: number } {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  const ms = m ? Date.parse(`${m[1] ?? ""}T${m[2] ?? ""}${m[4]?.toUpperCase() ?? "Z"}`) : Number.NaN;
  if (!m || Number.isNaN(ms))
    throw invalidArgument(`Invalid value at '${path}': "${s}" is not an RFC 3339 timestamp.`);
  return { seconds: String(Math.floor(ms / 1000)), nanos: Number((m[3] ?? "").padEnd(9, "0")) };
}

// ---------------------------------------------------------------------------------------------
// Encoding: plain → proto3 JSON

/** Encodes a plain message of the given type as proto3 JSON (camelCase names, defaults omitted). */
export function toProto3Json(typeName: string, message: unknown): unknown {
  return encodeMessage(messageType(typeName), message);
}

function encodeMessage(type: protobuf.Type, value: unknown): unknown {
  const special = encodeWellKnown(type, value);
  if (special !== NOT_SPECIAL) return special;
  if (!isObject(value)) return {};
  const out: Plain = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    const field = fieldOf(type, key);
    if (!field) continue;
    if (field.map && isObject(v)) {
      out[field.name] = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeField(field, x)]));
    } else if (field.repeated && Array.isArray(v)) {
      out[field.name] = v.map((x) => encodeField(field, x));
    } else {
      out[field.name] = encodeField(field, v);
    }
  }
  return out;
}

function encodeField(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return encodeMessage(resolved, value);
  if (resolved instanceof protobuf.Enum) {
    if (resolved.fullName === ".google.protobuf.NullValue") return null;
    return typeof value === "number" ? (resolved.valuesById[value] ?? value) : value;
  }
  return encodeScalar(field.type, value);
}

function encodeScalar(type: string, value: unknown): unknown {
  if (INT64.has(type)) return typeof value === "string" ? value : String(Number(value));
  if (type === "double" || type === "float") {
    const n = Number(value);
    if (Number.isNaN(n)) return "NaN";
    if (n === Number.POSITIVE_INFINITY) return "Infinity";
    if (n === Number.NEGATIVE_INFINITY) return "-Infinity";
    return n;
  }
  if (type === "bytes") {
    if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
    if (typeof value === "string") return value;
    if (isObject(value) && Array.isArray(value.data))
      return Buffer.from(value.data as number[]).toString("base64");
    return "";
  }
  return value;
}

function encodeWellKnown(type: protobuf.Type, value: unknown): unknown {
  switch (type.fullName) {
    case ".google.protobuf.Timestamp":
      return formatRfc3339(isObject(value) ? value : {});
    case ".google.protobuf.Duration": {
      const v = isObject(value) ? value : {};
      const nanos = Math.abs(Number(v.nanos ?? 0));
      const frac = nanos > 0 ? `.${String(nanos).padStart(9, "0").replace(/0+$/, "")}` : "";
      const seconds = typeof v.seconds === "string" || typeof v.seconds === "number" ? v.seconds : 0;
      return `${seconds}${frac}s`;
    }
    case ".google.protobuf.Struct":
      return fromStruct(value);
    case ".google.protobuf.Value":
      return fromStructValue(value);
    case ".google.protobuf.ListValue":
      return isObject(value) && Array.isArray(value.values) ? value.values.map(fromStructValue) : [];
    case ".google.protobuf.Empty":
      return {};
  }
  if (WRAPPERS.has(type.fullName)) {
    const valueField = type.fields.value;
    const inner = isObject(value) ? value.value : value;
    return valueField ? encodeScalar(valueField.type, inner) : inner;
  }
  return NOT_SPECIAL;
}

function fromStruct(value: unknown): Plain {
  const fields = isObject(value) && isObject(value.fields) ? value.fields : {};
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, fromStructValue(v)]));
}

function fromStructValue(value: unknown): unknown {
  if (!isObject(value)) return null;
  if ("numberValue" in value) return value.numberValue;
  if ("stringValue" in value) return value.stringValue;
  if ("boolValue" in value) return value.boolValue;
  if (isObject(value.structValue)) return fromStruct(value.structValue);
  if (isObject(value.listValue) && Array.isArray(value.listValue.values))
    return value.listValue.values.map(fromStructValue);
  return null;
}

/** `{seconds, nanos}` → RFC 3339 with 0, 3, 6 or 9 fractional digits, as Google's APIs print it. */
export function formatRfc3339(t: { seconds?: unknown; nanos?: unknown }): string {
  const seconds = Number(t.seconds ?? 0);
  const nanos = Number(t.nanos ?? 0);
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  const digits = String(nanos).padStart(9, "0");
  const frac = digits.endsWith("000000")
    ? digits.slice(0, 3)
    : digits.endsWith("000")
      ? digits.slice(0, 6)
      : digits;
  return `${base}.${frac}Z`;
}
