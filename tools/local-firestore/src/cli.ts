import { start } from "./server";
import type { LogLevel } from "./log";

const USAGE = `Usage: local-firestore [options]

  --host HOST                 interface to bind (default 127.0.0.1)
  --port PORT                 port for gRPC and the emulator endpoints (default 8080; 0 = any free port)
  --functions_emulator H:P    deliver Firestore trigger events to this Cloud Functions emulator
  --project ID                project id for trigger events (default $GCLOUD_PROJECT or demo-project)
  --indexes FILE              enforce the indexes of a firestore.indexes.json file: a query that
                              needs a composite or collection-group index missing from it fails
                              with FAILED_PRECONDITION, as in production
  --import FILE               load documents from a JSON export at start
  --export_on_exit FILE       write all documents to FILE on shutdown
  --log LEVEL                 silent | info | debug (one line per request) (default info)
  --help                      show this help
`;

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("--")) throw new Error(`unexpected argument: ${arg}`);
    const eq = arg.indexOf("=");
    if (eq > 0) {
      out.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (arg === "--help") {
      out.set("help", "true");
    } else {
      const value = argv[i + 1];
      if (value === undefined) throw new Error(`missing value for ${arg}`);
      out.set(arg.slice(2), value);
      i++;
    }
  }
  return out;
}

export function main(argv: string[]): void {
  let args: Map<string, string>;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.has("help")) {
    process.stdout.write(USAGE);
    return;
  }
  const known = new Set([
    "host",
    "port",
    "functions_emulator",
    "project",
    "import",
    "export_on_exit",
    "log",
    "indexes",
  ]);
  for (const k of args.keys()) {
    if (!known.has(k)) {
      process.stderr.write(`unknown option --${k}\n\n${USAGE}`);
      process.exit(2);
    }
  }
  const level = (args.get("log") ?? "info") as LogLevel;
  if (!["silent", "info", "debug"].includes(level)) {
    process.stderr.write(`--log must be silent, info or debug\n`);
    process.exit(2);
  }
  const startedAt = process.hrtime.bigint();
  start({
    host: args.get("host") ?? "127.0.0.1",
    port: Number(args.get("port") ?? 8080),
    functionsEmulator: args.get("functions_emulator"),
    projectId: args.get("project"),
    importPath: args.get("import"),
    indexes: args.get("indexes"),
    exportOnClose: args.get("export_on_exit"),
    logLevel: level,
  }).then(
    (server) => {
      let closing = false;
      const shutdown = (signal: string): void => {
        if (closing) return;
        closing = true;
        process.stdout.write(`local-firestore: ${signal}, shutting down\n`);
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`shutdown failed: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => {
        shutdown("SIGINT");
      });
      process.on("SIGTERM", () => {
        shutdown("SIGTERM");
      });
      // Announce readiness only once the signal handlers are in place.
      const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
      process.stdout.write(
        `local-firestore ready on ${server.address} in ${ms.toFixed(0)} ms\nexport FIRESTORE_EMULATOR_HOST=${server.address}\n`,
      );
    },
    (err: unknown) => {
      process.stderr.write(
        `local-firestore failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
