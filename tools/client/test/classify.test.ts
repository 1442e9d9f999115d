import { FunctionsError, type FunctionsErrorCodeCore } from "firebase/functions";
import {
  DEFAULT_RETRY_TABLE,
  errorCodeOf,
  isNetworkError,
  isRetryable,
  retryTable,
  type RetryCode,
} from "../src/classify";

// Every Firebase Functions code has an entry in the table (compile-time check).
const everyFunctionsCodeIsARetryCode: FunctionsErrorCodeCore extends RetryCode ? true : never = true;

const RETRIED = ["unavailable", "deadline-exceeded", "resource-exhausted", "aborted", "internal"] as const;
const NEVER_RETRIED = [
  "invalid-argument",
  "permission-denied",
  "unauthenticated",
  "not-found",
  "already-exists",
  "failed-precondition",
  "out-of-range",
  "unimplemented",
  "cancelled",
  "unknown",
  "data-loss",
  "ok",
] as const;

describe("the default table", () => {
  it("covers every Firebase Functions code plus 'network', and nothing else", () => {
    expect(everyFunctionsCodeIsARetryCode).toBe(true);
    expect(Object.keys(DEFAULT_RETRY_TABLE).sort()).toEqual([...RETRIED, ...NEVER_RETRIED, "network"].sort());
    expect(Object.isFrozen(DEFAULT_RETRY_TABLE)).toBe(true);
  });

  it.each(RETRIED)("retries %s: as a FunctionsError ('functions/<code>') and as a bare code", (code) => {
    const error = new FunctionsError(code, "x");
    expect(error.code).toBe(`functions/${code}`);
    expect(errorCodeOf(error)).toBe(code);
    expect(isRetryable(error)).toBe(true);
    expect(isRetryable({ code })).toBe(true);
  });

  it.each(NEVER_RETRIED)("never retries %s, in either spelling", (code) => {
    expect(isRetryable(new FunctionsError(code, "x"))).toBe(false);
    expect(isRetryable({ code })).toBe(false);
    expect(isRetryable({ code: `functions/${code}` })).toBe(false);
  });

  it("other Firebase products' codes are read the same way ('firestore/unavailable')", () => {
    expect(errorCodeOf({ code: "firestore/unavailable" })).toBe("unavailable");
    expect(isRetryable({ code: "firestore/unavailable" })).toBe(true);
  });

  it.each<[string, unknown]>([
    ["a plain Error", new Error("boom")],
    ["an unknown code", { code: "functions/teapot" }],
    ["an empty code", { code: "" }],
    ["a numeric code", { code: 14 }],
    ["undefined", undefined],
    ["null", null],
    ["a string", "unavailable"],
    ["an AbortError", new DOMException("aborted", "AbortError")],
  ])("never retries %s", (_label, error) => {
    expect(isRetryable(error)).toBe(false);
  });
});

describe("network failures", () => {
  const undiciFetchFailed = new TypeError("fetch failed", {
    cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
  });
  it.each([
    ["Chrome", new TypeError("Failed to fetch")],
    ["Firefox", new TypeError("NetworkError when attempting to fetch resource.")],
    ["Safari", new TypeError("Load failed")],
    ["React Native", new TypeError("Network request failed")],
    ["Node (undici)", undiciFetchFailed],
    ["a Node socket error", Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })],
    ["a DNS hiccup", { code: "EAI_AGAIN" }],
    ["Firebase Auth", { code: "auth/network-request-failed" }],
    ["a wrapped cause", new Error("outer", { cause: new Error("inner", { cause: { code: "ETIMEDOUT" } }) })],
  ])("%s: code 'network', retried", (_label, error) => {
    expect(isNetworkError(error)).toBe(true);
    expect(errorCodeOf(error)).toBe("network");
    expect(isRetryable(error)).toBe(true);
  });

  it.each([
    ["a TypeError from a bug", new TypeError("Cannot read properties of undefined (reading 'x')")],
    ["an Error with a network-ish message", new Error("Failed to fetch")],
    ["ENOENT", { code: "ENOENT" }],
  ])("%s is not a network failure", (_label, error) => {
    expect(isNetworkError(error)).toBe(false);
    expect(isRetryable(error)).toBe(false);
  });

  it("a cause chain is followed only a few levels (no cycles)", () => {
    const a: { cause?: unknown } = {};
    a.cause = a;
    expect(isNetworkError(a)).toBe(false);
  });
});

describe("overrides", () => {
  it("retryTable changes only the given entries and returns a frozen table", () => {
    const table = retryTable({ internal: false, "not-found": true });
    expect(table.internal).toBe(false);
    expect(table["not-found"]).toBe(true);
    expect(table.unavailable).toBe(true);
    expect(Object.isFrozen(table)).toBe(true);
    expect(DEFAULT_RETRY_TABLE.internal).toBe(true);
    expect(isRetryable(new FunctionsError("internal", "x"), table)).toBe(false);
    expect(isRetryable(new FunctionsError("not-found", "x"), table)).toBe(true);
  });

  it("network failures can be switched off like any code", () => {
    expect(isRetryable(new TypeError("Failed to fetch"), retryTable({ network: false }))).toBe(false);
  });

  it("refuses codes it does not know (a typo would otherwise be ignored silently)", () => {
    expect(() => retryTable({ unavailible: true } as never)).toThrow(RangeError);
  });
});
