/**
 * Request ids: the retry keys of startPayment and refundPayment. The backend accepts 8–128 chars of
 * [A-Za-z0-9_-] (and answers `invalid-argument` otherwise); a v4 UUID (36 chars) fits.
 */

/** A random v4 UUID: `crypto.randomUUID` where available, else built from `crypto.getRandomValues`. */
export function newRequestId(): string {
  const webCrypto = (globalThis as { crypto?: Partial<Crypto> }).crypto;
  // randomUUID exists only in secure contexts (https, localhost); getRandomValues everywhere.
  if (typeof webCrypto?.randomUUID === "function") return webCrypto.randomUUID();
  if (typeof webCrypto?.getRandomValues !== "function") {
    throw new Error("No Web Crypto: pass `newRequestId` to createCoursePaymentsClient");
  }
  const bytes = webCrypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
