import { HOLD_TTL_MS } from "../../src/domain/refundHolds";
import {
  PROVIDER_KEY_WINDOW_MS,
  decideRefundRequest,
  isFinalRefundRequestStatus,
  sameRefundRequest,
  type StoredRefundRequest,
} from "../../src/domain/refundRequests";
import { refundRequestIdFor } from "../../src/domain/ids";
import { isRefundOfRequest } from "../../src/services/payments/provider";

const NOW = 1_900_000_000_000;
const params = { uid: "u1", courseId: "c1", paymentId: "pi_1", requestedAmount: 300 };
const stored = (
  status: StoredRefundRequest["status"],
  ageMs: number,
  over: Partial<StoredRefundRequest> = {},
): StoredRefundRequest => ({ ...params, status, createdAtMs: NOW - ageMs, ...over });

describe("refund requests", () => {
  it("a new request is recorded; one for other params under the same key is a conflict, at any status", () => {
    expect(decideRefundRequest(undefined, params, NOW)).toEqual({ kind: "new" });
    for (const status of ["pending", "answered", "refused"] as const) {
      for (const over of [
        { paymentId: "pi_2" },
        { courseId: "c2" },
        { uid: "u2" },
        { requestedAmount: 301 },
        { requestedAmount: null },
      ]) {
        expect(decideRefundRequest(stored(status, 0, over), params, NOW)).toEqual({ kind: "conflict" });
      }
    }
    // "Everything refundable" is a request of its own, not any amount.
    const full = { ...params, requestedAmount: null };
    expect(sameRefundRequest(full, full)).toBe(true);
    expect(sameRefundRequest(full, params)).toBe(false);
  });

  it("a final request is answered from the record at any age", () => {
    for (const age of [0, PROVIDER_KEY_WINDOW_MS, HOLD_TTL_MS, 365 * 24 * 3600 * 1000]) {
      expect(decideRefundRequest(stored("answered", age), params, NOW)).toEqual({ kind: "answered" });
      expect(decideRefundRequest(stored("refused", age), params, NOW)).toEqual({ kind: "refused" });
    }
    expect(isFinalRefundRequestStatus("pending")).toBe(false);
    expect(isFinalRefundRequestStatus("answered")).toBe(true);
    expect(isFinalRefundRequestStatus("refused")).toBe(true);
  });

  it("a pending request asks the provider again only within its key window; past it, it looks the refund up first", () => {
    expect(decideRefundRequest(stored("pending", 0), params, NOW)).toEqual({ kind: "resume" });
    expect(decideRefundRequest(stored("pending", PROVIDER_KEY_WINDOW_MS - 1), params, NOW)).toEqual({
      kind: "resume",
    });
    expect(decideRefundRequest(stored("pending", PROVIDER_KEY_WINDOW_MS), params, NOW)).toEqual({
      kind: "lookup",
    });
    expect(decideRefundRequest(stored("pending", 40 * 24 * 3600 * 1000), params, NOW)).toEqual({
      kind: "lookup",
    });
    // Once the provider said it has no refund of the request, it is resumed whatever its age.
    expect(decideRefundRequest(stored("pending", HOLD_TTL_MS * 3), params, NOW, true)).toEqual({
      kind: "resume",
    });
    // The key window ends before the hold expires: a retry that trusts the key always still has its hold.
    expect(PROVIDER_KEY_WINDOW_MS).toBeLessThan(HOLD_TTL_MS);
  });

  it("ids: (uid, requestId) names one request, whatever the separators in either", () => {
    expect(refundRequestIdFor("u1", "req-00000001")).toBe(refundRequestIdFor("u1", "req-00000001"));
    expect(refundRequestIdFor("u1", "req-00000001")).not.toBe(refundRequestIdFor("u2", "req-00000001"));
    expect(refundRequestIdFor("a:b", "c")).not.toBe(refundRequestIdFor("a", "b:c"));
    expect(refundRequestIdFor("u1", "r")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a provider refund belongs to a request only by its refundRequest metadata", () => {
    const key = refundRequestIdFor("u1", "req-00000001");
    expect(isRefundOfRequest({ metadata: { uid: "u1", courseId: "c1", refundRequest: key } }, key)).toBe(
      true,
    );
    expect(isRefundOfRequest({ metadata: { refundRequest: `${key}x` } }, key)).toBe(false);
    // Refunds made elsewhere (the Dashboard) or before the metadata existed never match.
    expect(isRefundOfRequest({ metadata: { uid: "u1", courseId: "c1" } }, key)).toBe(false);
    expect(isRefundOfRequest({ metadata: {} }, key)).toBe(false);
    expect(isRefundOfRequest({ metadata: null }, key)).toBe(false);
    expect(isRefundOfRequest({}, key)).toBe(false);
  });
});
