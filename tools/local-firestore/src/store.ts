import type { StoredDocument, Ts } from "./types";
import { tsFromMicros, tsToMicros } from "./types";

interface Version {
  micros: number;
  doc: StoredDocument | undefined;
}

export interface StoreOptions {
  /** How long superseded versions stay readable for readTime reads (production: 1 hour). */
  versionRetentionMs?: number;
  /** Upper bound on versions kept per document. */
  maxVersionsPerDocument?: number;
}

/**
 * In-memory document store with a strictly increasing commit clock and per-document
 * version history (for read-only transactions and readTime reads).
 */
export class Store {
  private readonly docs = new Map<string, StoredDocument>();
  private readonly history = new Map<string, Version[]>();
  /**
   * Every name in `docs` or `history`, by the id of the collection it is in (its parent's last segment): a query
   * reads one collection id (a collection or a collection group), so it looks only at those documents instead of
   * the whole database.
   */
  private readonly byCollection = new Map<string, Set<string>>();
  private lastMicros = 0;
  private readonly retentionMicros: number;
  private readonly maxVersions: number;

  constructor(options: StoreOptions = {}) {
    this.retentionMicros = (options.versionRetentionMs ?? 60 * 60 * 1000) * 1000;
    this.maxVersions = options.maxVersionsPerDocument ?? 200;
  }

  /** A fresh, strictly increasing time in microseconds: every commit and read gets its own. */
  nextTime(): Ts {
    const now = Date.now() * 1000;
    this.lastMicros = Math.max(now, this.lastMicros + 1);
    return tsFromMicros(this.lastMicros);
  }

  /** The latest time handed out (a consistent read time for "now"). */
  currentTime(): Ts {
    if (this.lastMicros === 0) return this.nextTime();
    return tsFromMicros(this.lastMicros);
  }

  get(name: string, readTime?: Ts): StoredDocument | undefined {
    if (!readTime) return this.docs.get(name);
    const at = tsToMicros(readTime);
    const current = this.docs.get(name);
    if (current && tsToMicros(current.updateTime) <= at) return current;
    const versions = this.history.get(name);
    if (!versions) return current && tsToMicros(current.updateTime) <= at ? current : undefined;
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i];
      if (v && v.micros <= at) return v.doc;
    }
    return undefined;
  }

  /** Every document name that exists now or existed at readTime. */
  *all(readTime?: Ts): Iterable<StoredDocument> {
    if (!readTime) {
      yield* this.docs.values();
      return;
    }
    const names = new Set<string>([...this.docs.keys(), ...this.history.keys()]);
    for (const name of names) {
      const d = this.get(name, readTime);
      if (d) yield d;
    }
  }

  /**
   * The documents of every collection named `collectionId` (exists now, or existed at readTime): a superset of what
   * a query on that collection or collection group can select. Undefined: every document (as `all`).
   */
  *inCollection(collectionId: string | undefined, readTime?: Ts): Iterable<StoredDocument> {
    if (collectionId === undefined) {
      yield* this.all(readTime);
      return;
    }
    for (const name of this.byCollection.get(collectionId) ?? []) {
      const d = readTime ? this.get(name, readTime) : this.docs.get(name);
      if (d) yield d;
    }
  }

  private index(name: string): void {
    const id = collectionIdOf(name);
    let names = this.byCollection.get(id);
    if (names === undefined) {
      names = new Set();
      this.byCollection.set(id, names);
    }
    names.add(name);
  }

  private reindex(): void {
    this.byCollection.clear();
    for (const name of this.docs.keys()) this.index(name);
    for (const name of this.history.keys()) this.index(name);
  }

  size(): number {
    return this.docs.size;
  }

  /** Applies the final states of one commit at `time` (undefined = deleted). */
  apply(changes: Map<string, StoredDocument | undefined>, time: Ts): void {
    const micros = tsToMicros(time);
    for (const [name, doc] of changes) {
      this.index(name);
      const prev = this.docs.get(name);
      let versions = this.history.get(name);
      if (!versions) {
        versions = [];
        this.history.set(name, versions);
      }
      if (versions.length === 0 && prev) versions.push({ micros: tsToMicros(prev.updateTime), doc: prev });
      versions.push({ micros, doc });
      const cutoff = micros - this.retentionMicros;
      while (
        versions.length > this.maxVersions ||
        (versions.length > 1 && (versions[1]?.micros ?? 0) < cutoff)
      ) {
        versions.shift();
      }
      if (doc) this.docs.set(name, doc);
      else this.docs.delete(name);
    }
  }

  /** Deletes every document, or only those whose name starts with `prefix` (one database). */
  clear(prefix?: string): void {
    if (prefix === undefined) {
      this.docs.clear();
      this.history.clear();
      this.byCollection.clear();
      return;
    }
    for (const name of [...this.docs.keys()]) if (name.startsWith(prefix)) this.docs.delete(name);
    for (const name of [...this.history.keys()]) if (name.startsWith(prefix)) this.history.delete(name);
    this.reindex();
  }

  /** Replaces all data (import). */
  load(docs: Iterable<StoredDocument>): void {
    this.clear();
    for (const d of docs) {
      this.docs.set(d.name, d);
      this.index(d.name);
    }
  }
}

/** The id of the collection a document is in: `…/documents/users/u1/courses/c1` → `courses`. */
function collectionIdOf(name: string): string {
  const end = name.lastIndexOf("/");
  return name.slice(name.lastIndexOf("/", end - 1) + 1, end);
}
