import { status } from "@grpc/grpc-js";
import type * as http from "node:http";
import { callerFromAuthorization } from "./auth";
import type { Caller } from "./auth";
import type { Engine } from "./engine";
import { RpcError, invalidArgument } from "./errors";
import { readBody, sendError } from "./http";
import type { Logger } from "./log";
import { call } from "./operations";
import { METHODS } from "./protocol";
import type { CallMethod } from "./protocol";
import { fromProto3Json, toProto3Json } from "./protoJson";

/**
 * The REST transport (`/v1/...`, proto3 JSON), as Firestore Lite, the web SDK's unary calls
 * and firebase-admin with `preferRest: true` use it: the routes of the API's HTTP bindings
 * mapped onto the same operations as gRPC. Server-streaming methods answer a JSON array.
 */

interface Route {
  method: CallMethod;
  /** Request fields bound from the URL path. */
  bound: Record<string, unknown>;
  /** `*`: the body is the request; a field name: the body is that field; none: no body. */
  body: "*" | "document" | undefined;
}

const DATABASE_VERBS: Record<string, CallMethod> = {
  batchGet: "BatchGetDocuments",
  beginTransaction: "BeginTransaction",
  commit: "Commit",
  rollback: "Rollback",
  batchWrite: "BatchWrite",
};

const PARENT_VERBS: Record<string, CallMethod> = {
  runQuery: "RunQuery",
  runAggregationQuery: "RunAggregationQuery",
  partitionQuery: "PartitionQuery",
  listCollectionIds: "ListCollectionIds",
};

/** Query parameters that are about the HTTP call, not request fields. */
const SYSTEM_PARAMS = new Set([
  "key",
  "alt",
  "$alt",
  "prettyPrint",
  "$prettyPrint",
  "$httpHeaders",
  "access_token",
]);

/** Maps `VERB /v1/<path>` to a method, as the `google.api.http` bindings of the v1 protos do. */
export function routeOf(verb: string, pathname: string): Route | undefined {
  if (!pathname.startsWith("/v1/")) return undefined;
  const segments = pathname
    .slice("/v1/".length)
    .split("/")
    .map((s) => decodeURIComponent(s));
  const last = segments[segments.length - 1] ?? "";
  const colon = last.lastIndexOf(":");
  const custom = colon >= 0 ? last.slice(colon + 1) : undefined;
  if (custom !== undefined) segments[segments.length - 1] = last.slice(0, colon);
  if (segments[0] !== "projects" || segments[2] !== "databases" || segments[4] !== "documents") {
    return undefined;
  }
  const database = segments.slice(0, 4).join("/");
  const resource = segments.join("/");
  const below = segments.length - 5; // path segments below .../documents
  if (custom !== undefined) {
    if (verb !== "POST") return undefined;
    const dbMethod = DATABASE_VERBS[custom];
    if (dbMethod && below === 0) return { method: dbMethod, bound: { database }, body: "*" };
    const parentMethod = PARENT_VERBS[custom];
    if (parentMethod && below % 2 === 0)
      return { method: parentMethod, bound: { parent: resource }, body: "*" };
    return undefined;
  }
  if (below <= 0) return undefined;
  const parent = segments.slice(0, -1).join("/");
  const collectionId = segments[segments.length - 1];
  const isDocument = below % 2 === 0;
  switch (verb) {
    case "GET":
      return isDocument
        ? { method: "GetDocument", bound: { name: resource }, body: undefined }
        : { method: "ListDocuments", bound: { parent, collectionId }, body: undefined };
    case "POST":
      return isDocument
        ? undefined
        : { method: "CreateDocument", bound: { parent, collectionId }, body: "document" };
    case "PATCH":
      return isDocument
        ? { method: "UpdateDocument", bound: { document: { name: resource } }, body: "document" }
        : undefined;
    case "DELETE":
      return isDocument
        ? { method: "DeleteDocument", bound: { name: resource }, body: undefined }
        : undefined;
  }
  return undefined;
}

/** Sets `a.b.c` (camelCase or snake_case) in a JSON request; repeated parameters become arrays. */
function setParam(target: Record<string, unknown>, dotted: string, values: string[]): void {
  const keys = dotted.split(".");
  let at = target;
  for (const key of keys.slice(0, -1)) {
    const next = at[key];
    if (typeof next === "object" && next !== null && !Array.isArray(next))
      at = next as Record<string, unknown>;
    else at = at[key] = {};
  }
  const leaf = keys[keys.length - 1] ?? "";
  at[leaf] = values.length === 1 ? values[0] : values;
}

/** Headers given in the `$httpHeaders` parameter (`Name:value\r\n...`), as WebChannel and ESF allow. */
export function parseHeaderBlock(block: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (block ?? "").split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

function callerOf(req: http.IncomingMessage, url: URL): Caller {
  const overrides = parseHeaderBlock(url.searchParams.get("$httpHeaders"));
  const header = overrides.authorization ?? req.headers.authorization;
  const token = url.searchParams.get("access_token");
  return callerFromAuthorization(header ?? (token ? `Bearer ${token}` : undefined));
}

function parseJsonBody(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw invalidArgument("Invalid JSON payload received.");
  }
}

/** Handles a `/v1/...` request. */
export async function handleRest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  engine: Engine,
  log: Logger,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const verb = req.method ?? "GET";
  const route = routeOf(verb, url.pathname);
  log.debug(`REST ${verb} ${url.pathname} → ${route?.method ?? "no route"}`);
  if (!route) {
    if (/:(listen|write)$/.test(url.pathname)) {
      throw new RpcError(status.UNIMPLEMENTED, "Listen and Write are streams: use gRPC or WebChannel.");
    }
    throw new RpcError(status.NOT_FOUND, `No REST method for ${verb} ${url.pathname}.`);
  }
  const spec = METHODS[route.method];
  const body = route.body ? parseJsonBody(await readBody(req)) : {};
  const json: Record<string, unknown> = {};
  for (const key of new Set(url.searchParams.keys())) {
    if (!SYSTEM_PARAMS.has(key)) setParam(json, key, url.searchParams.getAll(key));
  }
  if (route.body === "*") {
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw invalidArgument("Invalid JSON payload: the request body must be an object.");
    Object.assign(json, body);
  } else if (route.body) {
    json[route.body] = body;
  }
  for (const [k, v] of Object.entries(route.bound)) {
    const current = json[k];
    json[k] =
      typeof v === "object" && v !== null && typeof current === "object" && current !== null
        ? { ...current, ...v }
        : v;
  }
  const request = fromProto3Json(spec.request, json);
  let out: unknown[];
  try {
    out = await call(engine, log, route.method, request, callerOf(req, url));
  } catch (err) {
    sendError(res, err as RpcError);
    return;
  }
  const encoded =
    spec.kind === "server-stream"
      ? out.map((m) => toProto3Json(spec.response, m))
      : toProto3Json(spec.response, out[0] ?? {});
  res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(encoded));
}
