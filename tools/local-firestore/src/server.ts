import * as grpc from "@grpc/grpc-js";
import { readFile, writeFile } from "node:fs/promises";
import * as http from "node:http";
import * as net from "node:net";
import { Duplex } from "node:stream";
import { Engine } from "./engine";
import type { OperationCounts } from "./engine";
import { FaultInjector } from "./faults";
import { IndexSet } from "./indexes";
import type { IndexesFile } from "./indexes";
import type { FaultRule } from "./faults";
import { buildHandlers, firestoreServiceDefinition } from "./grpcService";
import { createLogger } from "./log";
import type { LogLevel, Logger } from "./log";
import { RulesCompileError } from "./rules";
import { RulesRegistry, createRulesCheck } from "./rulesAccess";
import { Store } from "./store";
import { TransactionManager } from "./transactions";
import type { TransactionOptions } from "./transactions";
import { TriggerDelivery } from "./triggers";
import type { StoredDocument } from "./types";

export interface StartOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Cloud Functions emulator `host:port` to deliver Firestore trigger events to. */
  functionsEmulator?: string;
  /** Project id used for trigger events (default: from GCLOUD_PROJECT or "demo-project"). */
  projectId?: string;
  logLevel?: LogLevel;
  /** Load documents from this JSON export at start. */
  importPath?: string;
  /** Write all documents to this JSON file on close. */
  exportOnClose?: string;
  transactions?: TransactionOptions;
  /**
   * Enforce indexes: the path of a firestore.indexes.json file (or its parsed content). Queries
   * that need a composite or collection-group index it lacks fail with FAILED_PRECONDITION, as in
   * production. Without it no query ever needs an index (like the official emulator).
   */
  indexes?: string | IndexesFile;
}

export interface Stats extends OperationCounts {
  documents: number;
  activeTransactions: number;
  faultsInjected: number;
  triggers: { delivered: number; failed: number; pending: number };
}

export interface LocalFirestore {
  readonly host: string;
  readonly port: number;
  /** `host:port`, the value for FIRESTORE_EMULATOR_HOST. */
  readonly address: string;
  readonly faults: FaultInjector;
  /** Deletes all documents (or one project's, given its id) and aborts open transactions. */
  clear(projectId?: string): Promise<void>;
  stats(): Stats;
  resetStats(): void;
  /** Resolves when every trigger event queued so far has been delivered (or given up on). */
  triggersIdle(): Promise<void>;
  exportTo(path: string): Promise<void>;
  importFrom(path: string): Promise<void>;
  /**
   * Replaces the enforced indexes (a firestore.indexes.json path or content); undefined stops
   * enforcing them.
   */
  setIndexes(indexes: string | IndexesFile | undefined): void;
  /** Compiles and installs security rules for a project (client SDK requests are judged by them). */
  loadRules(projectId: string, source: string): void;
  close(): Promise<void>;
}

interface ExportFile {
  version: 1;
  documents: StoredDocument[];
}

function loadIndexes(indexes: string | IndexesFile | undefined): IndexSet | undefined {
  if (indexes === undefined) return undefined;
  return typeof indexes === "string" ? IndexSet.fromFile(indexes) : new IndexSet(indexes);
}

/** Starts the local Firestore: gRPC (HTTP/2) and emulator endpoints (HTTP/1.1) on one port. */
export async function start(options: StartOptions = {}): Promise<LocalFirestore> {
  const host = options.host ?? "127.0.0.1";
  const log = createLogger(options.logLevel ?? "silent");
  const projectId = options.projectId ?? process.env.GCLOUD_PROJECT ?? "demo-project";
  const store = new Store();
  const transactions = new TransactionManager(options.transactions);
  const faults = new FaultInjector();
  const triggers = options.functionsEmulator
    ? new TriggerDelivery({ functionsEmulator: options.functionsEmulator, projectId, log })
    : undefined;
  const engine = new Engine({ store, transactions, faults, log, triggers });
  engine.indexes = loadIndexes(options.indexes);
  const rules = new RulesRegistry();
  engine.accessCheck = createRulesCheck(rules, store);

  const grpcServer = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
  grpcServer.addService(firestoreServiceDefinition(), buildHandlers(engine, log));
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());

  const api: LocalFirestore = {
    host,
    port: 0,
    address: "",
    faults,
    clear: (project) => {
      engine.clear(project === undefined ? undefined : `projects/${project}/databases/(default)`);
      return Promise.resolve();
    },
    stats: () => ({
      ...structuredClone(engine.counts),
      documents: store.size(),
      activeTransactions: transactions.activeCount(),
      faultsInjected: faults.injected,
      triggers: triggers?.stats ?? { delivered: 0, failed: 0, pending: 0 },
    }),
    resetStats: () => {
      engine.resetCounts();
      faults.resetCount();
    },
    setIndexes: (indexes) => {
      engine.indexes = loadIndexes(indexes);
    },
    triggersIdle: async () => {
      await triggers?.idle();
    },
    exportTo: async (path) => {
      const file: ExportFile = { version: 1, documents: [...store.all()] };
      await writeFile(path, JSON.stringify(file, bytesReplacer));
    },
    importFrom: async (path) => {
      const file = JSON.parse(await readFile(path, "utf8"), bytesReviver) as ExportFile;
      if ((file.version as number) !== 1 || !Array.isArray(file.documents))
        throw new Error(`${path} is not a local-firestore export`);
      engine.clear();
      store.load(file.documents);
    },
    loadRules: (project, source) => {
      rules.load(project, source);
    },
    close: async () => {
      if (options.exportOnClose) await api.exportTo(options.exportOnClose);
      transactions.close();
      await new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        netServer.close(() => {
          resolve();
        });
      });
      grpcServer.forceShutdown();
      injector.destroy();
    },
  };

  if (options.importPath) await api.importFrom(options.importPath);

  const httpServer = http.createServer((req, res) => {
    handleHttp(req, res, { api, engine, triggers, log, projectId }).catch((err: unknown) => {
      log.info(`http handler failed: ${String(err)}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: 500, message: "internal error" } }));
    });
  });

  const sockets = new Set<net.Socket>();
  const netServer = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      if (chunk.subarray(0, 3).toString("latin1") === "PRI") {
        injector.injectConnection(wrapWithPrefix(socket, chunk));
      } else {
        socket.unshift(chunk);
        httpServer.emit("connection", socket);
      }
      socket.resume();
    });
  });

  await new Promise<void>((resolve, reject) => {
    netServer.once("error", reject);
    netServer.listen(options.port ?? 8080, host, () => {
      netServer.off("error", reject);
      resolve();
    });
  });
  const addr = netServer.address() as net.AddressInfo;
  const bracketed = host.includes(":") ? `[${host}]` : host;
  Object.assign(api, { port: addr.port, address: `${bracketed}:${addr.port}` });
  log.info(`listening on ${api.address}`);
  return api;
}

/**
 * Node's HTTP/2 session cannot take a socket whose first bytes were already read, so the
 * sniffed connection is handed over as a Duplex that replays the first chunk.
 */
function wrapWithPrefix(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  duplex.push(first);
  socket.on("data", (d: Buffer) => {
    if (!duplex.push(d)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("close", () => duplex.destroy());
  return duplex;
}

function bytesReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (value && typeof value === "object" && (value as { type?: string }).type === "Buffer") {
    const data = (value as { data?: number[] }).data;
    if (Array.isArray(data)) return { $bytes: Buffer.from(data).toString("base64") };
  }
  return value;
}

function bytesReviver(_key: string, value: unknown): unknown {
  if (value && typeof value === "object" && typeof (value as { $bytes?: unknown }).$bytes === "string") {
    return Buffer.from((value as { $bytes: string }).$bytes, "base64");
  }
  return value;
}

interface HttpContext {
  api: LocalFirestore;
  engine: Engine;
  triggers: TriggerDelivery | undefined;
  log: Logger;
  projectId: string;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 16 * 1024 * 1024) throw new Error("body too large");
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Emulator endpoints (HTTP/1.1), as the Firebase tooling calls them on the Firestore emulator's port. */
async function handleHttp(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: HttpContext,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const path = url.pathname;
  const method = req.method ?? "GET";
  ctx.log.debug(`HTTP ${method} ${path}`);

  if (path === "/" && method === "GET") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("Ok");
    return;
  }
  const clearPath = /^\/emulator\/v1\/projects\/([^/]+)\/databases\/([^/]+)\/documents$/.exec(path);
  if (method === "DELETE" && clearPath) {
    // Only that project's database, as the official emulator does.
    ctx.engine.clear(`projects/${clearPath[1] ?? ""}/databases/${decodeURIComponent(clearPath[2] ?? "")}`);
    send(res, 200, {});
    return;
  }
  const rulesPath = /^\/emulator\/v1\/projects\/([^/:]+):securityRules$/.exec(path);
  if (rulesPath && method === "PUT") {
    const body = JSON.parse(await readBody(req)) as {
      rules?: { files?: Array<{ name?: string; content?: string }> };
    };
    const files = body.rules?.files ?? [];
    if (files.length !== 1 || typeof files[0]?.content !== "string") {
      send(res, 400, {
        error: { code: 400, message: "expected exactly one rules file: {rules: {files: [{content}]}}" },
      });
      return;
    }
    try {
      ctx.api.loadRules(rulesPath[1] ?? "", files[0].content);
    } catch (err) {
      if (err instanceof RulesCompileError) {
        send(res, 400, { error: { code: 400, message: err.message, line: err.line, column: err.column } });
        return;
      }
      throw err;
    }
    send(res, 200, {});
    return;
  }
  const trig = /^\/emulator\/v1\/projects\/[^/]+\/eventarcTrigger$/.exec(path);
  if (trig && method === "POST") {
    const key = url.searchParams.get("eventarcTriggerId");
    if (!key || !ctx.triggers) {
      send(res, 400, {
        error: { code: 400, message: "eventarcTriggerId is required and --functions_emulator must be set" },
      });
      return;
    }
    ctx.triggers.register(key, JSON.parse(await readBody(req)) as Parameters<TriggerDelivery["register"]>[1]);
    send(res, 200, {});
    return;
  }
  if (path === "/emulator/v1/stats" && method === "GET") {
    send(res, 200, ctx.api.stats());
    return;
  }
  if (path === "/emulator/v1/stats:reset" && method === "POST") {
    ctx.api.resetStats();
    send(res, 200, {});
    return;
  }
  if (path === "/emulator/v1/faults") {
    if (method === "GET") {
      send(res, 200, { rules: ctx.api.faults.list() });
      return;
    }
    if (method === "DELETE") {
      ctx.api.faults.clear();
      send(res, 200, {});
      return;
    }
    if (method === "POST") {
      const body = JSON.parse(await readBody(req)) as { rules?: FaultRule[]; seed?: number };
      try {
        if (typeof body.seed === "number") ctx.api.faults.seed(body.seed);
        ctx.api.faults.inject(...(body.rules ?? []));
      } catch (err) {
        send(res, 400, { error: { code: 400, message: err instanceof Error ? err.message : String(err) } });
        return;
      }
      send(res, 200, { rules: ctx.api.faults.list() });
      return;
    }
  }
  if (path === "/emulator/v1/triggers:idle" && method === "POST") {
    await ctx.api.triggersIdle();
    send(res, 200, ctx.triggers?.stats ?? {});
    return;
  }
  if ((path === "/emulator/v1/export" || path === "/emulator/v1/import") && method === "POST") {
    const body = JSON.parse(await readBody(req)) as { path?: string };
    if (!body.path) {
      send(res, 400, { error: { code: 400, message: "path is required" } });
      return;
    }
    if (path.endsWith("export")) await ctx.api.exportTo(body.path);
    else await ctx.api.importFrom(body.path);
    send(res, 200, {});
    return;
  }
  send(res, 404, { error: { code: 404, message: `Not found: ${method} ${path}` } });
}
