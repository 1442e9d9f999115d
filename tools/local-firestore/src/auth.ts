/** Who a request comes from, as the emulator understands it. */
export type Caller =
  /** `Bearer owner`: the admin SDKs and tooling; bypasses security rules, as in production. */
  | { kind: "admin" }
  /** A client SDK request with a (possibly unsigned, emulator-style) ID token. */
  | { kind: "user"; uid: string; token: Record<string, unknown> }
  /** A client SDK request without credentials. */
  | { kind: "anonymous" };

function decodeJwtPayload(jwt: string): Record<string, unknown> | undefined {
  const parts = jwt.split(".");
  if (parts.length < 2) return undefined;
  try {
    const json = Buffer.from((parts[1] ?? "").replace(/-/g, "+").replace(/_/g, "/"), "base64").toString(
      "utf8",
    );
    const payload: unknown = JSON.parse(json);
    return payload && typeof payload === "object" && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Identifies the caller from an `Authorization` header (gRPC metadata, an HTTP header, or a
 * header carried in a WebChannel handshake), once per request or stream; the operations get
 * the resolved caller, never transport metadata. Like the official emulator, ID token
 * signatures are not verified: the emulator trusts the token's claims.
 */
export function callerFromAuthorization(value: string | undefined): Caller {
  if (!value) return { kind: "anonymous" };
  const m = /^Bearer\s+(.+)$/i.exec(value.trim());
  const token = m?.[1];
  if (!token) return { kind: "anonymous" };
  if (token === "owner") return { kind: "admin" };
  const claims = decodeJwtPayload(token);
  // A service account's self-signed JWT (what firebase-admin sends with `preferRest: true` and
  // application default credentials) is a server identity: rules do not apply, as in production.
  if (isServiceAccount(claims)) return { kind: "admin" };
  const uid = claims?.user_id ?? claims?.sub;
  if (!claims || typeof uid !== "string" || uid.length === 0) return { kind: "anonymous" };
  return { kind: "user", uid, token: { ...claims, uid } };
}

function isServiceAccount(claims: Record<string, unknown> | undefined): boolean {
  if (!claims || claims.firebase !== undefined || claims.user_id !== undefined) return false;
  const sub = claims.sub;
  return typeof sub === "string" && sub === claims.iss && sub.endsWith(".gserviceaccount.com");
}
