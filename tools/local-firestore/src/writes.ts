/**
 * Applying one Firestore v1 `Write` to the current state of its document.
 *
 * Pure: no I/O, no clock, never mutates its inputs. Shapes are the plain objects
 * @grpc/proto-loader produces (see types.ts): camelCase keys, unset fields absent,
 * int64 as decimal strings, enums as their names.
 */
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "./errors";
import { parseFieldPath } from "./fieldPath";
import type { ArrayValue, Fields, StoredDocument, Timestamp, Ts, Value } from "./types";
import { tsCompare, tsFromProto, tsToMicros, tsToProto } from "./types";
import { cloneValue, compareValues, doubleOf, integerOf, isNaNValue, valuesEqual } from "./values";

// ---------------------------------------------------------------------------------------------
// Proto shapes (google/firestore/v1/write.proto, common.proto, document.proto)
// ---------------------------------------------------------------------------------------------

/** google.firestore.v1.Document as it arrives inside a write. */
export interface Document {
  name?: string;
  fields?: Fields;
  createTime?: Timestamp;
  updateTime?: Timestamp;
}

/** google.firestore.v1.DocumentMask. An empty mask arrives as `{}` (present, no paths). */
export interface DocumentMask {
  fieldPaths?: string[];
}

/** google.firestore.v1.Precondition (a oneof: at most one of the two is set). */
export interface Precondition {
  exists?: boolean;
  updateTime?: Timestamp;
}

export type ServerValue = "SERVER_VALUE_UNSPECIFIED" | "REQUEST_TIME";

/** google.firestore.v1.DocumentTransform.FieldTransform (transform_type is a oneof). */
export interface FieldTransform {
  fieldPath?: string;
  setToServerValue?: ServerValue;
  increment?: Value;
  maximum?: Value;
  minimum?: Value;
  appendMissingElements?: ArrayValue;
  removeAllFromArray?: ArrayValue;
}

/** google.firestore.v1.DocumentTransform (the legacy standalone transform operation). */
export interface DocumentTransform {
  document?: string;
  fieldTransforms?: FieldTransform[];
}

/** google.firestore.v1.Write. `update`, `delete` and `transform` form the `operation` oneof. */
export interface Write {
  update?: Document;
  delete?: string;
  transform?: DocumentTransform;
  updateMask?: DocumentMask;
  updateTransforms?: FieldTransform[];
  currentDocument?: Precondition;
}

export interface WriteResultData {
  /** The document after the write; undefined when the write deleted it (or it stays absent). */
  after: StoredDocument | undefined;
  /** One value per field transform, in order (empty for writes without transforms). */
  transformResults: Value[];
}

// ---------------------------------------------------------------------------------------------
// Field paths
// ---------------------------------------------------------------------------------------------

const RESERVED_FIELD_NAME = /^__.*__$/;

/**
 * Parses a field path: dot-separated segments, each either a simple name
 * (`[_a-zA-Z][_a-zA-Z0-9]*`) or a backtick-quoted name in which `\` escapes the next
 * character (so `` \` `` and `\\`). Throws INVALID_ARGUMENT on a malformed path: empty
 * path or segment, unterminated quote, a non-simple name left unquoted, or text after a
 * closing backtick that is not a dot.
 */

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

function isPrefix(prefix: string[], path: string[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => s === path[i]);
}

function validatePath(path: string | undefined, what: string): string[] {
  if (path === undefined) throw invalidArgument(`${what}: missing field path.`);
  const segments = parseFieldPath(path);
  const top = segments[0] ?? "";
  if (RESERVED_FIELD_NAME.test(top)) {
    throw invalidArgument(`${what}: field path "${path}" uses the reserved field name "${top}".`);
  }
  return segments;
}

/** Nested arrays are not storable; empty field names are not allowed at any depth. */
function validateValue(value: Value, inArray: boolean): void {
  if (value.arrayValue !== undefined) {
    if (inArray) throw invalidArgument("Cannot convert an array value in an array value.");
    for (const element of value.arrayValue.values ?? []) validateValue(element, true);
  }
  if (value.mapValue !== undefined) validateFields(value.mapValue.fields ?? {}, false);
}

function validateFields(fields: Fields, topLevel: boolean): void {
  for (const [name, value] of Object.entries(fields)) {
    if (name === "") throw invalidArgument("Field names must not be empty.");
    if (topLevel && RESERVED_FIELD_NAME.test(name)) {
      throw invalidArgument(`Field name "${name}" is reserved.`);
    }
    validateValue(value, false);
  }
}

function transformKinds(t: FieldTransform): string[] {
  const kinds: string[] = [];
  if (t.setToServerValue !== undefined) kinds.push("setToServerValue");
  if (t.increment !== undefined) kinds.push("increment");
  if (t.maximum !== undefined) kinds.push("maximum");
  if (t.minimum !== undefined) kinds.push("minimum");
  if (t.appendMissingElements !== undefined) kinds.push("appendMissingElements");
  if (t.removeAllFromArray !== undefined) kinds.push("removeAllFromArray");
  return kinds;
}

function validateTransforms(transforms: FieldTransform[]): void {
  const paths: string[][] = [];
  for (const t of transforms) {
    const what = "Invalid transform";
    const segments = validatePath(t.fieldPath, what);
    const kinds = transformKinds(t);
    if (kinds.length !== 1) {
      throw invalidArgument(`${what} on "${t.fieldPath ?? ""}": exactly one transform type must be set.`);
    }
    if (t.setToServerValue !== undefined && t.setToServerValue !== "REQUEST_TIME") {
      throw invalidArgument(`${what}: unsupported server value ${t.setToServerValue}.`);
    }
    for (const operand of [t.increment, t.maximum, t.minimum]) {
      if (operand !== undefined && operand.integerValue === undefined && operand.doubleValue === undefined) {
        throw invalidArgument(`${what} on "${t.fieldPath ?? ""}": operand must be an integer or a double.`);
      }
    }
    for (const elements of [t.appendMissingElements, t.removeAllFromArray]) {
      for (const element of elements?.values ?? []) validateValue(element, true);
    }
    for (const other of paths) {
      if (isPrefix(other, segments) || isPrefix(segments, other)) {
        throw invalidArgument(
          `${what}: field path "${t.fieldPath ?? ""}" overlaps another transform of the same write.`,
        );
      }
    }
    paths.push(segments);
  }
}

/** Throws INVALID_ARGUMENT when the write is malformed (before any precondition is checked). */
export function validateWrite(write: Write): void {
  const operations = [write.update, write.delete, write.transform].filter((op) => op !== undefined);
  if (operations.length === 0) throw invalidArgument("Write must have an operation.");
  if (operations.length > 1) {
    throw invalidArgument("Write must have exactly one of update, delete or transform.");
  }
  const pre = write.currentDocument;
  if (pre?.exists !== undefined && pre.updateTime !== undefined) {
    throw invalidArgument("Precondition can set only one of exists and updateTime.");
  }

  if (write.update !== undefined) {
    if (!write.update.name) throw invalidArgument("Write.update must name the document.");
    validateFields(write.update.fields ?? {}, true);
    for (const path of write.updateMask?.fieldPaths ?? []) validatePath(path, "Invalid update mask");
    validateTransforms(write.updateTransforms ?? []);
    return;
  }

  if (write.updateMask !== undefined) {
    throw invalidArgument("Write.updateMask can be set only with an update operation.");
  }
  if (write.updateTransforms !== undefined && write.updateTransforms.length > 0) {
    throw invalidArgument("Write.updateTransforms can be set only with an update operation.");
  }
  if (write.delete !== undefined) {
    if (write.delete === "") throw invalidArgument("Write.delete must name the document.");
    return;
  }
  const transform = write.transform ?? {};
  if (!transform.document) throw invalidArgument("Write.transform must name the document.");
  const transforms = transform.fieldTransforms ?? [];
  if (transforms.length === 0) throw invalidArgument("Write.transform must have field transforms.");
  validateTransforms(transforms);
}

/** The document resource name the write targets. Throws INVALID_ARGUMENT when there is none. */
export function writeTarget(write: Write): string {
  const name = write.update?.name ?? write.delete ?? write.transform?.document;
  if (!name) throw invalidArgument("Write must have an operation naming a document.");
  return name;
}

// ---------------------------------------------------------------------------------------------
// Field access on a private working copy. Own-property access only, so names such as
// `constructor` or `__proto__` are ordinary keys.
// ---------------------------------------------------------------------------------------------

function getOwn(fields: Fields, key: string): Value | undefined {
  return Object.hasOwn(fields, key) ? fields[key] : undefined;
}

function setOwn(fields: Fields, key: string, value: Value): void {
  Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
}

function getPath(fields: Fields, path: string[]): Value | undefined {
  let map: Fields | undefined = fields;
  let value: Value | undefined;
  for (const segment of path) {
    if (map === undefined) return undefined;
    value = getOwn(map, segment);
    map = value?.mapValue?.fields ?? (value?.mapValue ? {} : undefined);
  }
  return value;
}

/** Sets a value, replacing any non-map value on the way with a map (as production does). */
function setPath(fields: Fields, path: string[], value: Value): void {
  let map = fields;
  for (const segment of path.slice(0, -1)) {
    const mapValue = getOwn(map, segment)?.mapValue;
    if (mapValue === undefined) {
      const created: Fields = {};
      setOwn(map, segment, { mapValue: { fields: created } });
      map = created;
    } else {
      mapValue.fields ??= {};
      map = mapValue.fields;
    }
  }
  setOwn(map, path[path.length - 1] ?? "", value);
}

function deletePath(fields: Fields, path: string[]): void {
  let map: Fields | undefined = fields;
  for (const segment of path.slice(0, -1)) {
    map = getOwn(map, segment)?.mapValue?.fields;
    if (map === undefined) return;
  }
  Reflect.deleteProperty(map, path[path.length - 1] ?? "");
}

// ---------------------------------------------------------------------------------------------
// Transforms
// ---------------------------------------------------------------------------------------------

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const NULL_VALUE: Value = { nullValue: "NULL_VALUE" };

function isNumber(v: Value | undefined): v is Value {
  return v !== undefined && (v.integerValue !== undefined || v.doubleValue !== undefined);
}

function increment(current: Value | undefined, operand: Value): Value {
  if (!isNumber(current)) return cloneValue(operand);
  if (current.integerValue !== undefined && operand.integerValue !== undefined) {
    const sum = integerOf(current) + integerOf(operand);
    const saturated = sum > INT64_MAX ? INT64_MAX : sum < INT64_MIN ? INT64_MIN : sum;
    return { integerValue: saturated.toString() };
  }
  return { doubleValue: doubleOf(current) + doubleOf(operand) };
}

/** maximum (sign 1) / minimum (sign -1): equivalent operands keep the stored value; NaN wins. */
function extremum(current: Value | undefined, operand: Value, sign: 1 | -1): Value {
  if (!isNumber(current)) return cloneValue(operand);
  if (isNaNValue(current)) return cloneValue(current);
  if (isNaNValue(operand)) return cloneValue(operand);
  return compareValues(operand, current) * sign > 0 ? cloneValue(operand) : cloneValue(current);
}

function arrayUnion(current: Value | undefined, elements: Value[]): Value {
  const values = (current?.arrayValue?.values ?? []).map(cloneValue);
  for (const element of elements) {
    if (!values.some((v) => valuesEqual(v, element))) values.push(cloneValue(element));
  }
  return { arrayValue: { values } };
}

function arrayRemove(current: Value | undefined, elements: Value[]): Value {
  const values = (current?.arrayValue?.values ?? [])
    .filter((v) => !elements.some((e) => valuesEqual(v, e)))
    .map(cloneValue);
  return { arrayValue: { values } };
}

/** Applies one field transform to the working fields; returns its transform result. */
function applyTransform(fields: Fields, t: FieldTransform, commitTime: Ts): Value {
  const path = parseFieldPath(t.fieldPath ?? "");
  const current = getPath(fields, path);
  let next: Value;
  let result: Value;
  if (t.setToServerValue !== undefined) {
    next = { timestampValue: tsToProto(commitTime) };
    result = next;
  } else if (t.increment !== undefined) {
    next = increment(current, t.increment);
    result = next;
  } else if (t.maximum !== undefined) {
    next = extremum(current, t.maximum, 1);
    result = next;
  } else if (t.minimum !== undefined) {
    next = extremum(current, t.minimum, -1);
    result = next;
  } else if (t.appendMissingElements !== undefined) {
    next = arrayUnion(current, t.appendMissingElements.values ?? []);
    result = NULL_VALUE; // write.proto: "The corresponding transform_result will be the null value."
  } else if (t.removeAllFromArray !== undefined) {
    next = arrayRemove(current, t.removeAllFromArray.values ?? []);
    result = NULL_VALUE;
  } else {
    throw invalidArgument(`Invalid transform on "${t.fieldPath ?? ""}": no transform type set.`);
  }
  setPath(fields, path, next);
  return cloneValue(result);
}

// ---------------------------------------------------------------------------------------------
// applyWrite
// ---------------------------------------------------------------------------------------------

export function checkPrecondition(
  pre: Precondition | undefined,
  current: StoredDocument | undefined,
  name: string,
): void {
  if (pre === undefined) return;
  if (pre.exists === true && current === undefined) throw notFound(`No document to update: ${name}`);
  if (pre.exists === false && current !== undefined) throw alreadyExists(`Document already exists: ${name}`);
  if (pre.updateTime !== undefined) {
    const required = tsFromProto(pre.updateTime);
    if (current === undefined || tsCompare(current.updateTime, required) !== 0) {
      const stored = current === undefined ? 0 : tsToMicros(current.updateTime);
      throw failedPrecondition(
        `the stored version (${stored}) does not match the required base version (${tsToMicros(required)}) for ${name}`,
      );
    }
  }
}

/**
 * Applies one write to the current state of its document (undefined = does not exist).
 * Pure: never mutates inputs; returns fresh objects. commitTime is the commit's time, used
 * for serverTimestamp and as updateTime/createTime.
 *
 * Order: validation (INVALID_ARGUMENT), precondition (NOT_FOUND / ALREADY_EXISTS /
 * FAILED_PRECONDITION), then the update (set, or masked merge), then transforms in order.
 */
export function applyWrite(
  write: Write,
  current: StoredDocument | undefined,
  commitTime: Ts,
): WriteResultData {
  validateWrite(write);
  const name = writeTarget(write);
  checkPrecondition(write.currentDocument, current, name);

  if (write.delete !== undefined) return { after: undefined, transformResults: [] };

  let fields: Fields;
  let transforms: FieldTransform[];
  if (write.update !== undefined) {
    const data = write.update.fields ?? {};
    if (write.updateMask === undefined) {
      fields = structuredClone(data);
    } else {
      fields = structuredClone(current?.fields ?? {});
      for (const path of write.updateMask.fieldPaths ?? []) {
        const segments = parseFieldPath(path);
        const value = getPath(data, segments);
        if (value === undefined) deletePath(fields, segments);
        else setPath(fields, segments, cloneValue(value));
      }
    }
    transforms = write.updateTransforms ?? [];
  } else {
    fields = structuredClone(current?.fields ?? {});
    transforms = write.transform?.fieldTransforms ?? [];
  }

  const transformResults = transforms.map((t) => applyTransform(fields, t, commitTime));
  const createTime = current === undefined ? commitTime : current.createTime;
  return {
    after: { name, fields, createTime: { ...createTime }, updateTime: { ...commitTime } },
    transformResults,
  };
}
