/**
 * Shared set-up of the HTTP transport tests (REST, WebChannel): a local Firestore on a free port with
 * the given rules for one project, and unsigned ID tokens like the auth emulator's.
 */
import { start, type LocalFirestore } from "../../src";

/** An unsigned ID token like the auth emulator's (the server trusts claims, as the official emulator does). */
export function idToken(uid: string): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${enc({ alg: "none", typ: "JWT" })}.${enc({ sub: uid, user_id: uid, firebase: { sign_in_provider: "password" } })}.`;
}

export interface HttpServer {
  readonly server: LocalFirestore;
  /** `http://host:port` of the server. */
  readonly base: string;
}

/** Starts the server before the file's tests (with `rules` for `project`) and closes it after them. */
export function useHttpServer(project: string, rules: string): HttpServer {
  let server: LocalFirestore | undefined;
  beforeAll(async () => {
    server = await start({ port: 0 });
    server.loadRules(project, rules);
  });
  afterAll(async () => {
    await server?.close();
  });
  const started = (): LocalFirestore => {
    if (server === undefined) throw new Error("the server starts in beforeAll");
    return server;
  };
  return {
    get server() {
      return started();
    },
    get base() {
      return `http://${started().address}`;
    },
  };
}
