import type * as http from "node:http";
import type { Engine } from "./engine";
import type { FaultRule } from "./faults";
import { readBody, sendJson } from "./http";
import type { Logger } from "./log";
import { RulesCompileError } from "./rules";
import type { LocalFirestore } from "./server";
import type { TriggerDelivery } from "./triggers";

/**
 * The emulator's control endpoints (HTTP/1.1, `/emulator/v1/...`): clearing data, loading
 * rules, registering triggers, counters, faults, import/export. Apart from the Firestore API
 * transports; they act on the server as a whole.
 */

export interface ControlContext {
  api: LocalFirestore;
  engine: Engine;
  triggers: TriggerDelivery | undefined;
  log: Logger;
  projectId: string;
}

/** Emulator endpoints (HTTP/1.1), as the Firebase tooling calls them on the Firestore emulator's port. */
export async function handleControl(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: ControlContext,
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
    sendJson(res, 200, {});
    return;
  }
  const rulesPath = /^\/emulator\/v1\/projects\/([^/:]+):securityRules$/.exec(path);
  if (rulesPath && method === "PUT") {
    const body = JSON.parse(await readBody(req)) as {
      rules?: { files?: Array<{ name?: string; content?: string }> };
    };
    const files = body.rules?.files ?? [];
    if (files.length !== 1 || typeof files[0]?.content !== "string") {
      sendJson(res, 400, {
        error: { code: 400, message: "expected exactly one rules file: {rules: {files: [{content}]}}" },
      });
      return;
    }
    try {
      ctx.api.loadRules(rulesPath[1] ?? "", files[0].content);
    } catch (err) {
      if (err instanceof RulesCompileError) {
        sendJson(res, 400, {
          error: { code: 400, message: err.message, line: err.line, column: err.column },
        });
        return;
      }
      throw err;
    }
    sendJson(res, 200, {});
    return;
  }
  const trig = /^\/emulator\/v1\/projects\/[^/]+\/eventarcTrigger$/.exec(path);
  if (trig && method === "POST") {
    const key = url.searchParams.get("eventarcTriggerId");
    if (!key || !ctx.triggers) {
      sendJson(res, 400, {
        error: { code: 400, message: "eventarcTriggerId is required and --functions_emulator must be set" },
      });
      return;
    }
    ctx.triggers.register(key, JSON.parse(await readBody(req)) as Parameters<TriggerDelivery["register"]>[1]);
    sendJson(res, 200, {});
    return;
  }
  if (path === "/emulator/v1/stats" && method === "GET") {
    sendJson(res, 200, ctx.api.stats());
    return;
  }
  if (path === "/emulator/v1/process" && method === "GET") {
    // The server's own process, for a benchmark that runs it apart from its clients (as the official emulator
    // runs): CPU time in microseconds since the process started, and resident memory.
    const cpu = process.cpuUsage();
    sendJson(res, 200, {
      pid: process.pid,
      cpuMicros: { user: cpu.user, system: cpu.system },
      rssBytes: process.memoryUsage.rss(),
    });
    return;
  }
  if (path === "/emulator/v1/stats:reset" && method === "POST") {
    ctx.api.resetStats();
    sendJson(res, 200, {});
    return;
  }
  if (path === "/emulator/v1/faults") {
    if (method === "GET") {
      sendJson(res, 200, { rules: ctx.api.faults.list() });
      return;
    }
    if (method === "DELETE") {
      ctx.api.faults.clear();
      sendJson(res, 200, {});
      return;
    }
    if (method === "POST") {
      const body = JSON.parse(await readBody(req)) as { rules?: FaultRule[]; seed?: number };
      try {
        if (typeof body.seed === "number") ctx.api.faults.seed(body.seed);
        ctx.api.faults.inject(...(body.rules ?? []));
      } catch (err) {
        sendJson(res, 400, {
          error: { code: 400, message: err instanceof Error ? err.message : String(err) },
        });
        return;
      }
      sendJson(res, 200, { rules: ctx.api.faults.list() });
      return;
    }
  }
  if (path === "/emulator/v1/triggers:idle" && method === "POST") {
    await ctx.api.triggersIdle();
    sendJson(res, 200, ctx.triggers?.stats ?? {});
    return;
  }
  if ((path === "/emulator/v1/export" || path === "/emulator/v1/import") && method === "POST") {
    const body = JSON.parse(await readBody(req)) as { path?: string };
    if (!body.path) {
      sendJson(res, 400, { error: { code: 400, message: "path is required" } });
      return;
    }
    if (path.endsWith("export")) await ctx.api.exportTo(body.path);
    else await ctx.api.importFrom(body.path);
    sendJson(res, 200, {});
    return;
  }
  sendJson(res, 404, { error: { code: 404, message: `Not found: ${method} ${path}` } });
}
