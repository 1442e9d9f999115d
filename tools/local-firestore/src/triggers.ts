import { randomUUID } from "node:crypto";
import * as http from "node:http";
import * as protobuf from "protobufjs";
import type { StoredDocument } from "./types";
import { tsToProto } from "./types";
import type { Logger } from "./log";
import { canonical } from "./values";

/** A v2 Firestore trigger as the functions emulator's `/backends` (or eventarcTrigger registration) describes it. */
export interface FirestoreTrigger {
  /** e.g. "us-central1-onEnrollmentWritten" */
  id: string;
  eventType: string;
  database: string;
  namespace: string;
  /** Document pattern relative to the documents root, e.g. "users/{uid}/courses/{courseId}" */
  document: string;
  /** Known delivery key (`<id>-<generation>`), learnt from the emulator. */
  key?: string;
}

export interface DocumentChange {
  /** Relative document path ("users/u1"). */
  path: string;
  before: StoredDocument | undefined;
  after: StoredDocument | undefined;
}

const EVENT_PREFIX = "google.cloud.firestore.document.v1.";

/** Matches a document path against a trigger pattern with `{x}` and `{x=**}` wildcards. */
export function matchDocumentPattern(pattern: string, path: string): boolean {
  const p = pattern.replace(/^\/+|\/+$/g, "").split("/");
  const s = path.split("/");
  const go = (i: number, j: number): boolean => {
    if (i === p.length) return j === s.length;
    const seg = p[i] ?? "";
    if (/^\{[^}=]+=\*\*\}$/.test(seg)) {
      for (let k = j; k <= s.length; k++) if (go(i + 1, k)) return true;
      return false;
    }
    if (j >= s.length) return false;
    if (/^\{[^}]+\}$/.test(seg) || seg === "*") return go(i + 1, j + 1);
    return seg === s[j] && go(i + 1, j + 1);
  };
  return go(0, 0);
}

/** Which event kinds a change produces: created/updated/deleted, plus written for all. */
export function eventKinds(change: DocumentChange): string[] {
  if (!change.before && change.after) return ["created", "written"];
  if (change.before && !change.after) return ["deleted", "written"];
  if (change.before && change.after) return ["updated", "written"];
  return [];
}

let eventDataType: protobuf.Type | undefined;

/** protobuf `google.events.cloud.firestore.v1.DocumentEventData` built on the official Document proto. */
function documentEventData(): protobuf.Type {
  if (eventDataType) return eventDataType;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const json = require("@google-cloud/firestore/build/protos/v1.json") as protobuf.INamespace;
  const root = protobuf.Root.fromJSON(json);
  const type = new protobuf.Type("DocumentEventData")
    .add(new protobuf.Field("value", 1, "google.firestore.v1.Document"))
    .add(new protobuf.Field("oldValue", 2, "google.firestore.v1.Document"))
    .add(new protobuf.Field("updateMask", 3, "google.firestore.v1.DocumentMask"));
  root.define("google.events.cloud.firestore.v1").add(type);
  root.resolveAll();
  eventDataType = type;
  return type;
}

function docToProto(doc: StoredDocument): Record<string, unknown> {
  return {
    name: doc.name,
    fields: doc.fields,
    createTime: tsToProto(doc.createTime),
    updateTime: tsToProto(doc.updateTime),
  };
}

/** A field name as one segment of a Firestore field path: backquoted unless a simple identifier. */
function fieldPathSegment(name: string): string {
  return /^[a-zA-Z_][a-zA-Z_0-9]*$/.test(name) ? name : `\`${name.replace(/[\\`]/g, "\\$&")}\``;
}

/** Top-level fields whose value differs (added, removed or changed), as field paths. */
function changedFieldPaths(before: StoredDocument | undefined, after: StoredDocument | undefined): string[] {
  if (!before || !after) return [];
  const keys = new Set([...Object.keys(before.fields), ...Object.keys(after.fields)]);
  const out: string[] = [];
  for (const k of keys) {
    const b = before.fields[k];
    const a = after.fields[k];
    if (b === undefined || a === undefined ? b !== a : canonical(b) !== canonical(a))
      out.push(fieldPathSegment(k));
  }
  return out.sort();
}

/** Encodes the CloudEvent body exactly as the official emulator does: base64 of DocumentEventData. */
export function encodeEventData(change: DocumentChange): string {
  const type = documentEventData();
  const payload: Record<string, unknown> = {};
  if (change.after) payload.value = docToProto(change.after);
  if (change.before) payload.oldValue = docToProto(change.before);
  const mask = changedFieldPaths(change.before, change.after);
  if (mask.length > 0) payload.updateMask = { fieldPaths: mask };
  const bytes = type.encode(type.fromObject(payload)).finish();
  return Buffer.from(bytes).toString("base64");
}

export interface TriggerDeliveryOptions {
  functionsEmulator: string;
  projectId: string;
  log: Logger;
  /** How long a fetched list of triggers is trusted before it is fetched again. */
  refreshMs?: number;
}

interface BackendsReply {
  backends?: Array<{ functionTriggers?: Array<Record<string, unknown>> }>;
}

/**
 * Delivers document events to the Cloud Functions emulator the way the official Firestore
 * emulator does: one binary-mode CloudEvent per matching trigger per document per commit.
 */
export class TriggerDelivery {
  private triggers: FirestoreTrigger[] = [];
  private registered: FirestoreTrigger[] = [];
  private fetchedAt = 0;
  private refreshing: Promise<void> | undefined;
  private pending = new Set<Promise<void>>();
  private deliveredCount = 0;
  private failedCount = 0;
  private readonly refreshMs: number;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(private readonly opts: TriggerDeliveryOptions) {
    this.refreshMs = opts.refreshMs ?? 2000;
  }

  get stats(): { delivered: number; failed: number; pending: number } {
    return { delivered: this.deliveredCount, failed: this.failedCount, pending: this.pending.size };
  }

  /** Registration as the functions emulator does it when Firestore is part of the same run. */
  register(
    key: string,
    bundle: { eventType?: string; database?: string; namespace?: string; document?: { value?: string } },
  ): void {
    const id = key.replace(/-\d+(-.*)?$/, "");
    this.registered = this.registered.filter((t) => t.key !== key);
    this.registered.push({
      id,
      key,
      eventType: bundle.eventType ?? "",
      database: bundle.database ?? "(default)",
      namespace: bundle.namespace ?? "(default)",
      document: bundle.document?.value ?? "",
    });
  }

  /**
   * Refreshes the trigger list when it is older than `refreshMs`. Every caller waits for the fetch in
   * flight, so commits made while the first list is loading are matched against it, not against [].
   */
  private refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.fetchedAt < this.refreshMs) return Promise.resolve();
    this.refreshing = this.fetchTriggers().finally(() => {
      this.fetchedAt = Date.now();
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async fetchTriggers(): Promise<void> {
    try {
      const res = await fetch(`http://${this.opts.functionsEmulator}/backends`);
      if (!res.ok) {
        this.opts.log.debug(`functions emulator answered ${res.status} to GET /backends`);
        return;
      }
      const body = (await res.json()) as BackendsReply;
      const found: FirestoreTrigger[] = [];
      for (const backend of body.backends ?? []) {
        for (const t of backend.functionTriggers ?? []) {
          const parsed = parseTrigger(t);
          if (parsed) {
            const known = this.triggers.find((k) => k.id === parsed.id);
            // The emulator lists a trigger once per generation (a re-enable adds one): deliver once per id.
            if (!found.some((f) => f.id === parsed.id)) found.push({ ...parsed, key: known?.key });
          }
        }
      }
      this.triggers = found;
    } catch (err) {
      this.opts.log.debug(`functions emulator not reachable for trigger discovery: ${String(err)}`);
    }
  }

  /** Queues deliveries for one commit's changes; never blocks or fails the commit. */
  onCommit(changes: DocumentChange[]): void {
    if (changes.length === 0) return;
    const p = this.deliver(changes).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Closes the kept-alive connections to the functions emulator. */
  close(): void {
    this.agent.destroy();
  }

  /** Resolves when every queued delivery has finished. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async deliver(changes: DocumentChange[]): Promise<void> {
    await this.refresh();
    const all = [
      ...this.registered,
      ...this.triggers.filter((t) => !this.registered.some((r) => r.id === t.id)),
    ];
    const sends: Promise<void>[] = [];
    for (const change of changes) {
      const kinds = eventKinds(change);
      for (const trigger of all) {
        if (trigger.database !== "(default)" && trigger.database !== "") continue;
        const kind = trigger.eventType.replace(/\.withAuthContext$/, "").slice(EVENT_PREFIX.length);
        if (!trigger.eventType.startsWith(EVENT_PREFIX) || !kinds.includes(kind)) continue;
        if (!matchDocumentPattern(trigger.document, change.path)) continue;
        sends.push(this.send(trigger, trigger.eventType, change));
      }
    }
    await Promise.all(sends);
  }

  private async send(trigger: FirestoreTrigger, eventType: string, change: DocumentChange): Promise<void> {
    const { projectId } = this.opts;
    const body = encodeEventData(change);
    const headers: Record<string, string> = {
      "content-type": "application/protobuf",
      "ce-specversion": "1.0",
      "ce-id": randomUUID(),
      "ce-type": eventType,
      "ce-source": `//firestore.googleapis.com/projects/${projectId}/databases/(default)`,
      "ce-subject": `documents/${change.path}`,
      "ce-time": new Date().toISOString(),
      "ce-project": projectId,
      "ce-database": "(default)",
      "ce-namespace": "(default)",
      "ce-document": change.path,
      "ce-location": "us-central1",
      "ce-dataschema":
        "https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/firestore/v1/data.proto",
    };
    let networkErrors = 0;
    let lookups = 0;
    for (;;) {
      const key = trigger.key ?? `${trigger.id}-0`;
      let res: PostResponse;
      let text: string;
      try {
        res = await this.post(key, headers, body);
        text = res.text;
      } catch (err) {
        if (++networkErrors === 3) {
          this.failedCount++;
          this.opts.log.info(`could not deliver ${eventType} for ${change.path}: ${String(err)}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * networkErrors));
        continue;
      }
      if (res.status === 404 || res.status === 204) {
        // 404: unknown key; its text lists the valid keys. 204: this key's generation is disabled
        // ("Background triggers are currently disabled."), e.g. by the hub's disableBackgroundTriggers;
        // re-enabling registers every trigger again under the next generation, so look for it.
        const keys = res.status === 404 ? parseValidKeys(text) : await this.validKeys();
        const newest = newestKey(trigger.id, keys);
        if (newest && newest !== key && lookups++ < 2) {
          trigger.key = newest;
          continue;
        }
        if (res.status === 204) {
          this.opts.log.info(`trigger ${key} is disabled in the functions emulator; ${eventType} dropped`);
          return;
        }
        this.failedCount++;
        this.opts.log.info(
          `trigger ${trigger.id} not found in the functions emulator (valid: ${keys.join(", ")})`,
        );
        return;
      }
      if (res.ok) {
        trigger.key = key;
        this.deliveredCount++;
        this.opts.log.debug(`delivered ${eventType} for ${change.path} to ${key}`);
        return;
      }
      this.opts.log.info(`trigger ${key} answered ${res.status}: ${text.slice(0, 200)}`);
      this.failedCount++;
      return;
    }
  }

  /**
   * One POST over a kept-alive connection (node:http with a keep-alive agent: a commit's events reuse sockets,
   * and it costs less CPU per request than fetch).
   */
  private post(key: string, headers: Record<string, string>, body: string): Promise<PostResponse> {
    const url = `http://${this.opts.functionsEmulator}/functions/projects/${this.opts.projectId}/triggers/${key}`;
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        {
          method: "POST",
          headers: { ...headers, "content-length": Buffer.byteLength(body) },
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            resolve({
              status,
              ok: status >= 200 && status < 300,
              text: Buffer.concat(chunks).toString("utf8"),
            });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  /** The functions emulator's current trigger keys, from the 404 that an unknown key gets. */
  private async validKeys(): Promise<string[]> {
    try {
      const res = await this.post("local-firestore-key-probe", { "content-type": "text/plain" }, "");
      return res.status === 404 ? parseValidKeys(res.text) : [];
    } catch {
      return [];
    }
  }
}

/** Keys from the functions emulator's "Function X does not exist, valid functions are: k1, k2" reply. */
export function parseValidKeys(text: string): string[] {
  const marker = "valid functions are:";
  const at = text.indexOf(marker);
  if (at < 0) return [];
  return text
    .slice(at + marker.length)
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

/** The key of the newest generation of Firestore trigger `id` (`<id>-<generation>`; no channel suffix). */
export function newestKey(id: string, keys: string[]): string | undefined {
  const re = new RegExp(`^${escapeRe(id)}-(\\d+)$`);
  let best: { key: string; generation: number } | undefined;
  for (const key of keys) {
    const m = re.exec(key);
    if (!m) continue;
    const generation = Number(m[1]);
    if (!best || generation > best.generation) best = { key, generation };
  }
  return best?.key;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function parseTrigger(t: Record<string, unknown>): FirestoreTrigger | undefined {
  const id = typeof t.id === "string" ? t.id : undefined;
  const et = t.eventTrigger as
    | {
        eventType?: string;
        eventFilters?: Record<string, string>;
        eventFilterPathPatterns?: Record<string, string>;
      }
    | undefined;
  if (!id || !et?.eventType?.startsWith(EVENT_PREFIX)) return undefined;
  const document = et.eventFilterPathPatterns?.document ?? et.eventFilters?.document;
  if (!document) return undefined;
  return {
    id,
    eventType: et.eventType,
    database: et.eventFilters?.database ?? "(default)",
    namespace: et.eventFilters?.namespace ?? "(default)",
    document,
  };
}

/** A delivery's answer, read whole. */
interface PostResponse {
  status: number;
  ok: boolean;
  text: string;
}
