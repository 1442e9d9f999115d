/**
 * A small static web server for pages built on the Firebase web SDK: it serves the SDK's own browser ESM builds
 * from node_modules (the `firebase` package ships the CDN files, e.g. firebase-firestore.js, which import
 * firebase-app.js by its gstatic URL: those URLs are rewritten to this server at serve time), the client
 * package's ESM build, and one or more site folders. Every HTML page gets an import map, so pages import
 * `firebase/app`, `firebase/app-check`, `firebase/firestore`, `firebase/firestore/lite`, `firebase/auth`, `firebase/functions` and
 * `@course-payments/client` by their package names, as a bundled app would.
 *
 *   /__/firebase/<file>.js    node_modules/firebase/<file>.js (gstatic imports rewritten)
 *   /__/client/<file>.js      tools/client/lib/esm (built by `npm run build`)
 *   /__/config.json           the `config` option, as JSON (the app's Firebase and emulator settings)
 *   POST /__/api/<name>       the `api` option's handler <name>, JSON in and out
 *   anything else             the first site folder whose prefix matches; "/" serves index.html
 */
import { readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

const FIREBASE_DIR = path.dirname(require.resolve("firebase/package.json"));
const CLIENT_ESM_DIR = path.join(
  path.dirname(require.resolve("@course-payments/client/package.json")),
  "lib/esm",
);
const GSTATIC_PREFIX = /https:\/\/www\.gstatic\.com\/firebasejs\/[0-9][^/]*\//g;
const MAX_BODY_BYTES = 64 * 1024;

/** The bare specifiers pages may import, and where they are served. */
export const IMPORT_MAP = Object.freeze({
  imports: {
    "firebase/app": "/__/firebase/firebase-app.js",
    "firebase/app-check": "/__/firebase/firebase-app-check.js",
    "firebase/auth": "/__/firebase/firebase-auth.js",
    "firebase/firestore": "/__/firebase/firebase-firestore.js",
    "firebase/firestore/lite": "/__/firebase/firebase-firestore-lite.js",
    "firebase/functions": "/__/firebase/firebase-functions.js",
    "@course-payments/client": "/__/client/index.js",
  },
});

const IMPORT_MAP_TAG = `<script type="importmap">${JSON.stringify(IMPORT_MAP)}</script>`;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

/** A POST /__/api/<name> handler: the parsed JSON body in, a JSON-serialisable result out. */
export type ApiHandler = (body: unknown) => Promise<unknown>;

export interface WebServerOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** URL prefix ("/" or "/pages/") → folder. Longest prefix first wins. */
  sites: Readonly<Record<string, string>>;
  config?: unknown;
  api?: Readonly<Record<string, ApiHandler>>;
}

export interface WebServer {
  /** "http://host:port" */
  url: string;
  close(): Promise<void>;
}

/** Thrown by an api handler (or the server) to answer with this status and message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Resolves `relative` inside `root`, refusing anything that escapes it. */
function inside(root: string, relative: string): string {
  const resolved = path.resolve(root, `.${path.posix.normalize(`/${relative}`)}`);
  if (resolved !== root && !resolved.startsWith(`${root}${path.sep}`)) throw new HttpError(404, "not found");
  return resolved;
}

async function readOr404(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch {
    throw new HttpError(404, "not found");
  }
}

async function readBody(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "body too large");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return text === "" ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
}

/** The SDK's builds, rewritten once per process: every page of every test loads the same few megabytes. */
const firebaseFiles = new Map<string, Promise<Buffer | string>>();

function firebaseFile(name: string): Promise<Buffer | string> {
  if (!/^firebase-[a-z-]+\.js(\.map)?$/.test(name)) return Promise.reject(new HttpError(404, "not found"));
  let file = firebaseFiles.get(name);
  if (file === undefined) {
    file = readOr404(path.join(FIREBASE_DIR, name)).then((content) =>
      name.endsWith(".map") ? content : content.toString("utf8").replace(GSTATIC_PREFIX, "/__/firebase/"),
    );
    // A missing file is not remembered (a 404 stays cheap and nothing stale is kept).
    file.catch(() => firebaseFiles.delete(name));
    firebaseFiles.set(name, file);
  }
  return file;
}

/** Adds the import map before the page's first script (or at the start of <head>). */
export function withImportMap(html: string): string {
  const at = html.indexOf("<head>");
  if (at === -1) return `${IMPORT_MAP_TAG}\n${html}`;
  const end = at + "<head>".length;
  return `${html.slice(0, end)}\n    ${IMPORT_MAP_TAG}${html.slice(end)}`;
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const host = options.host ?? "127.0.0.1";
  const sites = Object.entries(options.sites)
    .map(([prefix, dir]) => [prefix.endsWith("/") ? prefix : `${prefix}/`, path.resolve(dir)] as const)
    .sort(([a], [b]) => b.length - a.length);

  const siteFile = async (pathname: string): Promise<[Buffer | string, string]> => {
    for (const [prefix, dir] of sites) {
      if (!pathname.startsWith(prefix)) continue;
      let relative = pathname.slice(prefix.length);
      if (relative === "" || relative.endsWith("/")) relative += "index.html";
      const file = inside(dir, relative);
      const content = await readOr404(file);
      const ext = path.extname(file);
      return [ext === ".html" ? withImportMap(content.toString("utf8")) : content, ext];
    }
    throw new HttpError(404, "not found");
  };

  const route = async (request: http.IncomingMessage): Promise<[Buffer | string, string]> => {
    const { pathname } = new URL(request.url ?? "/", "http://localhost");
    const method = request.method ?? "GET";
    if (pathname.startsWith("/__/api/")) {
      const handler = options.api?.[pathname.slice("/__/api/".length)];
      if (handler === undefined) throw new HttpError(404, "no such api");
      if (method !== "POST") throw new HttpError(405, "POST only");
      return [JSON.stringify((await handler(await readBody(request))) ?? null), ".json"];
    }
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "GET only");
    if (pathname === "/favicon.ico") return ["", ".ico"];
    if (pathname === "/__/config.json") return [JSON.stringify(options.config ?? {}), ".json"];
    if (pathname.startsWith("/__/firebase/")) {
      const name = pathname.slice("/__/firebase/".length);
      return [await firebaseFile(name), path.extname(name)];
    }
    if (pathname.startsWith("/__/client/")) {
      const file = inside(CLIENT_ESM_DIR, pathname.slice("/__/client/".length));
      return [await readOr404(file), path.extname(file)];
    }
    return siteFile(decodeURIComponent(pathname));
  };

  const server = http.createServer((request, response) => {
    route(request).then(
      ([body, ext]) => {
        response.writeHead(200, {
          "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream",
          "cache-control": "no-store",
        });
        response.end(request.method === "HEAD" ? undefined : body);
      },
      (error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        // An api handler's own message is the page's to show; never a stack.
        const message = error instanceof Error ? error.message : "internal error";
        response.writeHead(status, { "content-type": CONTENT_TYPES[".json"], "cache-control": "no-store" });
        response.end(JSON.stringify({ error: message }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
