import * as grpc from "@grpc/grpc-js";
import * as http from "node:http";
import * as net from "node:net";
import { Duplex } from "node:stream";
import { Engine } from "./engine";
import type { OperationCounts } from "./engine";
import { FaultInjector } from "./faults";
import { IndexSet } from "./indexes";
import type { IndexesFile } from "./indexes";
import { handleControl } from "./control";
import { buildHandlers, firestoreServiceDefinition } from "./grpcService";
import { answerPreflight, applyCors, guard } from "./http";
import { createLogger } from "./log";
import type { LogLevel } from "./log";
import { readExport, writeExport } from "./persistence";
import { handleRest } from "./rest";
import { RulesRegistry, createRulesCheck } from "./rulesAccess";
import { Store } from "./store";
import { TransactionManager } from "./transactions";
import type { TransactionOptions } from "./transactions";
import { TriggerDelivery } from "./triggers";
import { WebChannelServer } from "./webchannel";

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
  /** A WebChannel session without a back channel for this long expires (default 60 s). */
  webChannelSessionIdleMs?: number;
}

export interface Stats extends OperationCounts {
  documents: number;
  activeTransactions: number;
  faultsInjected: number;
  triggers: { delivered: number; failed: number; pending: number };
  /** Open WebChannel sessions (one per browser Listen or Write stream). */
  webChannelSessions: number;
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
      webChannelSessions: webChannel.sessionCount,
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
    exportTo: (path) => writeExport(path, store.all()),
    importFrom: async (path) => {
      const documents = await readExport(path);
      engine.clear();
      store.load(documents);
    },
    loadRules: (project, source) => {
      rules.load(project, source);
    },
    close: async () => {
      if (options.exportOnClose) await api.exportTo(options.exportOnClose);
      webChannel.closeAll();
      transactions.close();
      await new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        netServer.close(() => {
          resolve();
        });
      });
      grpcServer.forceShutdown();
      injector.destroy();
      triggers?.close();
    },
  };

  if (options.importPath) await api.importFrom(options.importPath);

  // HTTP/1.1 on the same port: the REST and WebChannel transports of the Firestore API (what
  // browsers and `preferRest` clients speak) and the emulator's control endpoints. CORS on all.
  const webChannel = new WebChannelServer(engine, log, options.webChannelSessionIdleMs);
  const control = { api, engine, triggers, log, projectId };
  const httpServer = http.createServer(
    guard(log, async (req, res) => {
      applyCors(req, res);
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (req.method === "OPTIONS") answerPreflight(req, res);
      else if (WebChannelServer.matches(path)) await webChannel.handle(req, res);
      else if (path.startsWith("/v1/")) await handleRest(req, res, engine, log);
      else await handleControl(req, res, control);
    }),
  );

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
