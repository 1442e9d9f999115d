import { randomUUID } from "node:crypto";
import * as protobuf from "protobufjs";
import type { StoredDocument } from "./types";
import { tsToProto } from "./types";
import type { Logger } from "./log";

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

function changedFieldPaths(before: StoredDocument | undefined, after: StoredDocument | undefined): string[] {
  if (!before || !after) return [];
  const keys = new Set([...Object.keys(before.fields), ...Object.keys(after.fields)]);
  const out: string[] = [];
  for (const k of keys) {
    if (JSON.stringify(before.fields[k]) !== JSON.stringify(after.fields[k])) out.push(k);
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
  private pending = new Set<Promise<void>>();
  private deliveredCount = 0;
  private failedCount = 0;
  private readonly refreshMs: number;

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

  private async refresh(): Promise<void> {
    if (Date.now() - this.fetchedAt < this.refreshMs) return;
    this.fetchedAt = Date.now();
    try {
      const res = await fetch(`http://${this.opts.functionsEmulator}/backends`);
      if (!res.ok) return;
      const body = (await res.json()) as BackendsReply;
      const found: FirestoreTrigger[] = [];
      for (const backend of body.backends ?? []) {
        for (const t of backend.functionTriggers ?? []) {
          const parsed = parseTrigger(t);
          if (parsed) {
            const known = this.triggers.find((k) => k.id === parsed.id);
            found.push({ ...parsed, key: known?.key });
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
    for (let attempt = 0; attempt < 3; attempt++) {
      const key = trigger.key ?? `${trigger.id}-0`;
      try {
        const res = await fetch(
          `http://${this.opts.functionsEmulator}/functions/projects/${projectId}/triggers/${key}`,
          {
            method: "POST",
            headers,
            body,
          },
        );
        const text = await res.text();
        if (res.status === 404) {
          // The text lists the valid keys: learn the current generation of this trigger.
          const learnt = text.match(new RegExp(`${escapeRe(trigger.id)}-\\d+(?:-[^,\\s]+)?`))?.[0];
          if (learnt && learnt !== key) {
            trigger.key = learnt;
            continue;
          }
          this.failedCount++;
          this.opts.log.info(`trigger ${trigger.id} not found in the functions emulator`);
          return;
        }
        if (res.ok) {
          trigger.key = key;
          this.deliveredCount++;
          this.opts.log.debug(`delivered ${eventType} for ${change.path} to ${key}`);
          return;
        }
        this.opts.log.info(`trigger ${key} answered ${res.status}`);
        this.failedCount++;
        return;
      } catch (err) {
        if (attempt === 2) {
          this.failedCount++;
          this.opts.log.info(`could not deliver ${eventType} for ${change.path}: ${String(err)}`);
        } else {
          await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
        }
      }
    }
  }
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
