import {
  NS_PER_SECOND,
  NULL,
  type RVal,
  bool,
  concrete,
  duration,
  fail,
  float,
  int,
  listContains,
  rEquals,
  show,
  str,
  timestamp,
  toSet,
  typeName,
} from "./rvalue";

/** Accepted argument counts of every method, by name (the union over all receiver types). */
export const METHOD_ARITY: Readonly<Record<string, readonly number[]>> = {
  // map
  keys: [0],
  values: [0],
  size: [0],
  get: [2],
  diff: [1],
  // map_diff
  affectedKeys: [0],
  addedKeys: [0],
  removedKeys: [0],
  changedKeys: [0],
  unchangedKeys: [0],
  // list / set
  hasAll: [1],
  hasAny: [1],
  hasOnly: [1],
  toSet: [0],
  join: [1],
  concat: [1],
  removeAll: [1],
  union: [1],
  intersection: [1],
  difference: [1],
  // string
  matches: [1],
  lower: [0],
  upper: [0],
  split: [1],
  trim: [0],
  replace: [2],
  toUtf8: [0],
  // bytes
  toBase64: [0],
  toHexString: [0],
  // timestamp / duration
  toMillis: [0],
  year: [0],
  month: [0],
  day: [0],
  hours: [0],
  minutes: [0],
  seconds: [0],
  nanos: [0],
  date: [0],
  time: [0],
  dayOfWeek: [0],
  dayOfYear: [0],
  // latlng
  distance: [1],
  latitude: [0],
  longitude: [0],
};

/** Namespaced functions (`math.abs(x)`). */
export const NAMESPACES: Readonly<Record<string, Readonly<Record<string, readonly number[]>>>> = {
  math: { abs: [1], ceil: [1], floor: [1], round: [1], sqrt: [1], pow: [2], isInfinite: [1], isNaN: [1] },
  timestamp: { date: [3], value: [1] },
  duration: { value: [2], time: [4], abs: [1] },
  latlng: { value: [2] },
};

/** Global functions. get/exists/getAfter/existsAfter are implemented by the evaluator. */
export const GLOBAL_FUNCTIONS: Readonly<Record<string, readonly number[]>> = {
  get: [1],
  exists: [1],
  getAfter: [1],
  existsAfter: [1],
  debug: [1],
  int: [1],
  float: [1],
  string: [1],
  path: [1],
};

/** Type names accepted after `is`. */
export const TYPE_NAMES: ReadonlySet<string> = new Set([
  "bool",
  "int",
  "float",
  "number",
  "string",
  "list",
  "map",
  "set",
  "map_diff",
  "timestamp",
  "duration",
  "path",
  "latlng",
  "bytes",
  "null",
]);

export function isType(v: RVal, name: string): boolean {
  if (v.k === "unknown") fail(v.why);
  if (name === "number") return v.k === "int" || v.k === "float";
  if (name === "map_diff") return v.k === "mapdiff";
  return v.k === name;
}

// ---- helpers ----

function asString(v: RVal, what: string): string {
  if (v.k !== "string") fail(`${what} expects a string, got ${typeName(v)}`);
  return v.v;
}

function asInt(v: RVal, what: string): bigint {
  if (v.k !== "int") fail(`${what} expects an int, got ${typeName(v)}`);
  return v.v;
}

function asNumber(v: RVal, what: string): number {
  if (v.k === "int") return Number(v.v);
  if (v.k === "float") return v.v;
  return fail(`${what} expects a number, got ${typeName(v)}`);
}

/** Elements of a list or set argument. */
function asItems(v: RVal, what: string): RVal[] {
  if (v.k === "list") {
    concrete(v);
    return v.v;
  }
  if (v.k === "set") return v.v;
  return fail(`${what} expects a list or set, got ${typeName(v)}`);
}

const regexCache = new Map<string, RegExp>();

/** RE2 patterns as JavaScript regular expressions (the common subset: flags via a leading (?i) etc.). */
export function compileRegex(pattern: string, anchored: boolean): RegExp {
  const key = `${anchored ? "A" : "U"}${pattern}`;
  const cached = regexCache.get(key);
  if (cached) return cached;
  let body = pattern;
  let flags = "u";
  const m = /^\(\?([imsU]+)\)/.exec(body);
  if (m?.[1]) {
    body = body.slice(m[0].length);
    for (const f of m[1]) {
      if (f === "U") fail("regex flag U is not supported");
      if (!flags.includes(f)) flags += f;
    }
  }
  if (/\(\?P</.test(body)) body = body.replace(/\(\?P</g, "(?<");
  let re: RegExp;
  try {
    re = new RegExp(anchored ? `^(?:${body})$` : body, anchored ? flags : flags + "g");
  } catch (e) {
    return fail(`invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
  regexCache.set(key, re);
  return re;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function utcParts(ns: bigint): Date {
  return new Date(Number(floorDiv(ns, 1_000_000n)));
}

const NS_PER_DAY = 86_400n * NS_PER_SECOND;

function mapDiffKeys(v: { left: Map<string, RVal>; right: Map<string, RVal> }, which: string): RVal {
  const { left, right } = v;
  const added = [...left.keys()].filter((k) => !right.has(k));
  const removed = [...right.keys()].filter((k) => !left.has(k));
  const both = [...left.keys()].filter((k) => right.has(k));
  const changed = both.filter((k) => !rEquals(left.get(k) ?? NULL, right.get(k) ?? NULL));
  const unchanged = both.filter((k) => rEquals(left.get(k) ?? NULL, right.get(k) ?? NULL));
  const pick: Record<string, string[]> = {
    addedKeys: added,
    removedKeys: removed,
    changedKeys: changed,
    unchangedKeys: unchanged,
    affectedKeys: [...added, ...removed, ...changed],
  };
  return toSet((pick[which] ?? []).map(str));
}

function hasAll(self: RVal[], partial: string | undefined, other: RVal[]): boolean {
  return other.every((x) => listContains(self, x, partial));
}

function hasAny(self: RVal[], partial: string | undefined, other: RVal[]): boolean {
  if (other.some((x) => self.some((y) => rEquals(x, y)))) return true;
  if (partial !== undefined && other.length > 0) fail(partial);
  return false;
}

function hasOnly(self: RVal[], other: RVal[]): boolean {
  return self.every((x) => other.some((y) => rEquals(x, y)));
}

function listOrSetMethod(
  self: RVal[],
  isSet: boolean,
  partial: string | undefined,
  name: string,
  args: RVal[],
): RVal {
  const arg = (i: number): RVal[] => asItems(args[i] ?? NULL, `${name}()`);
  switch (name) {
    case "hasAll":
      return bool(hasAll(self, partial, arg(0)));
    case "hasAny":
      return bool(hasAny(self, partial, arg(0)));
  }
  if (partial !== undefined) fail(partial);
  switch (name) {
    case "hasOnly":
      return bool(hasOnly(self, arg(0)));
    case "size":
      return int(BigInt(self.length));
  }
  if (!isSet) {
    switch (name) {
      case "toSet":
        return toSet(self);
      case "join": {
        const sep = asString(args[0] ?? NULL, "join()");
        return str(self.map((x) => asString(x, "join() on a list element")).join(sep));
      }
      case "concat":
        return { k: "list", v: [...self, ...arg(0)] };
      case "removeAll": {
        const drop = arg(0);
        return { k: "list", v: self.filter((x) => !drop.some((y) => rEquals(x, y))) };
      }
    }
  } else {
    switch (name) {
      case "union":
        return toSet([...self, ...arg(0)]);
      case "intersection": {
        const o = arg(0);
        return toSet(self.filter((x) => o.some((y) => rEquals(x, y))));
      }
      case "difference": {
        const o = arg(0);
        return toSet(self.filter((x) => !o.some((y) => rEquals(x, y))));
      }
    }
  }
  return fail(`${isSet ? "set" : "list"} has no method ${name}()`);
}

function mapGet(m: Map<string, RVal>, partial: string | undefined, key: RVal, dflt: RVal): RVal {
  const keys =
    key.k === "list" ? key.v.map((k) => asString(k, "map.get() key path")) : [asString(key, "map.get()")];
  let cur: RVal = { k: "map", v: m, ...(partial !== undefined ? { partial } : {}) };
  for (const k of keys) {
    if (cur.k !== "map") return dflt;
    const next = cur.v.get(k);
    if (next === undefined) {
      if (cur.partial !== undefined) fail(`${cur.partial}.${k}`);
      return dflt;
    }
    cur = next;
  }
  if (cur.k === "unknown") fail(cur.why);
  return cur;
}

function stringMethod(s: string, name: string, args: RVal[]): RVal {
  switch (name) {
    case "size":
      return int(BigInt(Array.from(s).length));
    case "lower":
      return str(s.toLowerCase());
    case "upper":
      return str(s.toUpperCase());
    case "trim":
      return str(s.trim());
    case "matches":
      return bool(compileRegex(asString(args[0] ?? NULL, "matches()"), true).test(s));
    case "split": {
      const re = compileRegex(asString(args[0] ?? NULL, "split()"), false);
      return { k: "list", v: s.split(re).map(str) };
    }
    case "replace": {
      const re = compileRegex(asString(args[0] ?? NULL, "replace()"), false);
      const sub = asString(args[1] ?? NULL, "replace()");
      return str(s.replace(re, () => sub));
    }
    case "toUtf8":
      return { k: "bytes", v: new Uint8Array(Buffer.from(s, "utf8")) };
  }
  return fail(`string has no method ${name}()`);
}

function timestampMethod(ns: bigint, name: string): RVal {
  const d = utcParts(ns);
  const n = (x: number): RVal => int(BigInt(x));
  switch (name) {
    case "toMillis":
      return int(floorDiv(ns, 1_000_000n));
    case "year":
      return n(d.getUTCFullYear());
    case "month":
      return n(d.getUTCMonth() + 1);
    case "day":
      return n(d.getUTCDate());
    case "hours":
      return n(d.getUTCHours());
    case "minutes":
      return n(d.getUTCMinutes());
    case "seconds":
      return n(d.getUTCSeconds());
    case "nanos":
      return int(ns - floorDiv(ns, NS_PER_SECOND) * NS_PER_SECOND);
    case "dayOfWeek":
      return n(d.getUTCDay() === 0 ? 7 : d.getUTCDay());
    case "dayOfYear": {
      const start = Date.UTC(d.getUTCFullYear(), 0, 1);
      return n(Math.floor((d.getTime() - start) / 86_400_000) + 1);
    }
    case "date":
      return timestamp(floorDiv(ns, NS_PER_DAY) * NS_PER_DAY);
    case "time":
      return duration(ns - floorDiv(ns, NS_PER_DAY) * NS_PER_DAY);
  }
  return fail(`timestamp has no method ${name}()`);
}

function durationMethod(ns: bigint, name: string): RVal {
  switch (name) {
    case "seconds":
      return int(ns / NS_PER_SECOND);
    case "nanos":
      return int(ns % NS_PER_SECOND);
  }
  return fail(`duration has no method ${name}()`);
}

function haversine(aLat: number, aLng: number, bLat: number, bLng: number): number {
  const r = 6_371_010; // mean earth radius in meters
  const rad = (x: number): number => (x * Math.PI) / 180;
  const dLat = rad(bLat - aLat);
  const dLng = rad(bLng - aLng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(aLat)) * Math.cos(rad(bLat)) * Math.sin(dLng / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** `target.name(args)` for built-in types. */
export function callMethod(target: RVal, name: string, args: RVal[]): RVal {
  switch (target.k) {
    case "map": {
      if (name === "get") return mapGet(target.v, target.partial, args[0] ?? NULL, args[1] ?? NULL);
      if (target.partial !== undefined) fail(target.partial);
      switch (name) {
        case "keys":
          return { k: "list", v: [...target.v.keys()].map(str) };
        case "values":
          return { k: "list", v: [...target.v.values()] };
        case "size":
          return int(BigInt(target.v.size));
        case "diff": {
          const other = concrete(args[0] ?? NULL);
          if (other.k !== "map") fail(`map.diff() expects a map, got ${typeName(other)}`);
          return { k: "mapdiff", left: target.v, right: other.v };
        }
      }
      break;
    }
    case "mapdiff":
      if (METHOD_ARITY[name] && name.endsWith("Keys")) return mapDiffKeys(target, name);
      break;
    case "list":
      return listOrSetMethod(target.v, false, target.partial, name, args);
    case "set":
      return listOrSetMethod(target.v, true, undefined, name, args);
    case "string":
      return stringMethod(target.v, name, args);
    case "bytes":
      switch (name) {
        case "size":
          return int(BigInt(target.v.length));
        case "toBase64":
          return str(Buffer.from(target.v).toString("base64"));
        case "toHexString":
          return str(Buffer.from(target.v).toString("hex").toUpperCase());
      }
      break;
    case "timestamp":
      return timestampMethod(target.ns, name);
    case "duration":
      return durationMethod(target.ns, name);
    case "latlng":
      switch (name) {
        case "latitude":
          return float(target.lat);
        case "longitude":
          return float(target.lng);
        case "distance": {
          const o = args[0] ?? NULL;
          if (o.k !== "latlng") fail(`latlng.distance() expects a latlng, got ${typeName(o)}`);
          return float(haversine(target.lat, target.lng, o.lat, o.lng));
        }
      }
      break;
    case "null":
      return fail(`Null value error: cannot call ${name}() on null`);
    case "unknown":
      return fail(target.why);
    default:
      break;
  }
  return fail(`${typeName(target)} has no method ${name}()`);
}

const NS_PER_HOUR = 3600n * NS_PER_SECOND;
const NS_PER_MINUTE = 60n * NS_PER_SECOND;

const DURATION_UNITS: Readonly<Record<string, bigint>> = {
  w: 7n * NS_PER_DAY,
  d: NS_PER_DAY,
  h: NS_PER_HOUR,
  m: NS_PER_MINUTE,
  s: NS_PER_SECOND,
  ms: 1_000_000n,
  ns: 1n,
};

function toIntRounded(x: number, what: string): RVal {
  if (!Number.isFinite(x)) fail(`${what}: cannot convert ${x} to int`);
  return int(BigInt(x));
}

/** `ns.name(args)` for math, timestamp, duration and latlng. */
export function callNamespace(ns: string, name: string, args: RVal[]): RVal {
  const a0 = args[0] ?? NULL;
  const a1 = args[1] ?? NULL;
  const key = `${ns}.${name}`;
  switch (key) {
    case "math.abs":
      if (a0.k === "int") return int(a0.v < 0n ? -a0.v : a0.v);
      return float(Math.abs(asNumber(a0, key)));
    case "math.ceil":
      return a0.k === "int" ? a0 : toIntRounded(Math.ceil(asNumber(a0, key)), key);
    case "math.floor":
      return a0.k === "int" ? a0 : toIntRounded(Math.floor(asNumber(a0, key)), key);
    case "math.round": {
      if (a0.k === "int") return a0;
      const x = asNumber(a0, key);
      return toIntRounded(Math.sign(x) * Math.round(Math.abs(x)), key);
    }
    case "math.sqrt":
      return float(Math.sqrt(asNumber(a0, key)));
    case "math.pow":
      return float(Math.pow(asNumber(a0, key), asNumber(a1, key)));
    case "math.isInfinite":
      return bool(!Number.isNaN(asNumber(a0, key)) && !Number.isFinite(asNumber(a0, key)));
    case "math.isNaN":
      return bool(Number.isNaN(asNumber(a0, key)));
    case "timestamp.date": {
      const y = Number(asInt(a0, key));
      const m = Number(asInt(a1, key));
      const d = Number(asInt(args[2] ?? NULL, key));
      if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
        fail(`${key}: invalid date ${y}-${m}-${d}`);
      const date = new Date(0);
      date.setUTCFullYear(y, m - 1, d);
      if (date.getUTCMonth() !== m - 1) fail(`${key}: invalid date ${y}-${m}-${d}`);
      return timestamp(BigInt(date.getTime()) * 1_000_000n);
    }
    case "timestamp.value":
      return timestamp(asInt(a0, key) * 1_000_000n);
    case "duration.value": {
      const unit = DURATION_UNITS[asString(a1, key)];
      if (unit === undefined) fail(`${key}: unknown unit ${show(a1)} (use w, d, h, m, s, ms or ns)`);
      return duration(asInt(a0, key) * unit);
    }
    case "duration.time": {
      const [h, m, s, n] = [0, 1, 2, 3].map((i) => asInt(args[i] ?? NULL, key));
      return duration(
        (h ?? 0n) * NS_PER_HOUR + (m ?? 0n) * NS_PER_MINUTE + (s ?? 0n) * NS_PER_SECOND + (n ?? 0n),
      );
    }
    case "duration.abs":
      if (a0.k !== "duration") fail(`${key} expects a duration, got ${typeName(a0)}`);
      return duration(a0.ns < 0n ? -a0.ns : a0.ns);
    case "latlng.value": {
      const lat = asNumber(a0, key);
      const lng = asNumber(a1, key);
      if (lat < -90 || lat > 90 || lng < -180 || lng > 180) fail(`${key}: coordinates out of range`);
      return { k: "latlng", lat, lng };
    }
  }
  return fail(`unknown function ${key}()`);
}

function formatFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return x.toFixed(1);
  return String(x);
}

/** Conversion and utility functions that need no data access. */
export function callPureGlobal(name: string, a: RVal): RVal {
  switch (name) {
    case "debug":
      return a;
    case "int":
      switch (a.k) {
        case "int":
          return a;
        case "float":
          return toIntRounded(Math.trunc(a.v), "int()");
        case "string": {
          if (!/^[+-]?\d+$/.test(a.v.trim())) fail(`int(): cannot parse ${JSON.stringify(a.v)}`);
          return int(BigInt(a.v.trim()));
        }
        default:
          return fail(`int() cannot convert ${typeName(a)}`);
      }
    case "float":
      switch (a.k) {
        case "int":
          return float(Number(a.v));
        case "float":
          return a;
        case "string": {
          const x = Number(a.v.trim());
          if (a.v.trim() === "" || (Number.isNaN(x) && a.v.trim() !== "NaN"))
            fail(`float(): cannot parse ${JSON.stringify(a.v)}`);
          return float(x);
        }
        default:
          return fail(`float() cannot convert ${typeName(a)}`);
      }
    case "string":
      switch (a.k) {
        case "string":
          return a;
        case "bool":
          return str(String(a.v));
        case "int":
          return str(a.v.toString());
        case "float":
          return str(formatFloat(a.v));
        case "null":
          return str("null");
        case "path":
          return str("/" + a.segs.join("/"));
        default:
          return fail(`string() cannot convert ${typeName(a)}`);
      }
    case "path": {
      const s = asString(a, "path()");
      return { k: "path", segs: s.split("/").filter((x) => x !== "") };
    }
  }
  return fail(`unknown function ${name}()`);
}
