/**
 * Plain shapes of the Firestore v1 protos as @grpc/proto-loader decodes them with
 * `{ keepCase: false, longs: String, enums: String, defaults: false, oneofs: false }`:
 * camelCase keys, int64 as decimal strings, enums as their names, unset fields absent.
 * A Value has exactly one of its keys set.
 */

export interface Timestamp {
  seconds?: string | number;
  nanos?: number;
}

export interface LatLng {
  latitude?: number;
  longitude?: number;
}

export interface MapValue {
  fields?: Record<string, Value>;
}

export interface ArrayValue {
  values?: Value[];
}

export interface Value {
  nullValue?: "NULL_VALUE" | 0 | null;
  booleanValue?: boolean;
  integerValue?: string | number;
  doubleValue?: number;
  timestampValue?: Timestamp;
  stringValue?: string;
  bytesValue?: Uint8Array;
  referenceValue?: string;
  geoPointValue?: LatLng;
  arrayValue?: ArrayValue;
  mapValue?: MapValue;
}

export type Fields = Record<string, Value>;

/** A stored document. Times are normalised (numbers). */
export interface StoredDocument {
  /** Full resource name: projects/{p}/databases/{d}/documents/{path} */
  name: string;
  fields: Fields;
  createTime: Ts;
  updateTime: Ts;
}

/** Normalised timestamp: integer seconds and nanos (Firestore keeps microsecond precision). */
export interface Ts {
  seconds: number;
  nanos: number;
}

export function tsToProto(ts: Ts): Timestamp {
  return { seconds: String(ts.seconds), nanos: ts.nanos };
}

export function tsFromProto(t: Timestamp | undefined | null): Ts {
  return { seconds: Number(t?.seconds ?? 0), nanos: t?.nanos ?? 0 };
}

export function tsCompare(a: Ts, b: Ts): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos;
}

export function tsToMicros(ts: Ts): number {
  return ts.seconds * 1_000_000 + Math.floor(ts.nanos / 1000);
}

export function tsFromMicros(micros: number): Ts {
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds, nanos: (micros - seconds * 1_000_000) * 1000 };
}
