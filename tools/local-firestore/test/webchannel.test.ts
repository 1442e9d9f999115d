/**
 * The WebChannel transport, spoken exactly as the Firebase web SDK's closure WebChannel client
 * speaks it (wire version 8): handshake POST with the Authorization header encoded in the body,
 * forward-channel POSTs with `count/ofs/reqN___data__` forms, the length-prefixed back channel
 * (streaming and long-poll), acknowledgements, terminate and unknown sessions. The SDK itself is
 * driven in Chromium by the browser tests; this pins the protocol and measures listener latency.
 */
import { start } from "../src";
import { idToken, useHttpServer } from "./support/httpTransport";

const PROJECT = "demo-webchannel";
const DB = `projects/${PROJECT}/databases/(default)`;
const DOCS = `${DB}/documents`;

const http = useHttpServer(
  PROJECT,
  `rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /public/{id} { allow read: if true; }
    match /users/{uid} {
      allow read: if request.auth != null && request.auth.uid == uid;
      allow write: if request.auth != null && request.auth.uid == uid && !('amountPaid' in request.resource.data);
    }
  }
}`,
);

/** Splits `<len>\n<json>` chunks; returns the parsed chunks and what is left over. */
function parseChunks(text: string): { chunks: unknown[]; rest: string } {
  const chunks: unknown[] = [];
  let at = 0;
  for (;;) {
    const nl = text.indexOf("\n", at);
    if (nl < 0) break;
    const size = Number(text.slice(at, nl));
    if (nl + 1 + size > text.length) break;
    chunks.push(JSON.parse(text.slice(nl + 1, nl + 1 + size)));
    at = nl + 1 + size;
  }
  return { chunks, rest: text.slice(at) };
}

type ArrayEntry = [number, unknown[]];

/** A minimal WebChannel client with the wire behaviour of closure's WebChannelBase. */
class Channel {
  readonly received: ArrayEntry[] = [];
  private lastArrayId = 0;
  private nextMapId = 0;
  private rid = 50_000;
  private closed = false;
  private waiters: Array<() => void> = [];
  sessionHeader: string | null = null;

  private constructor(
    private readonly url: string,
    readonly sid: string,
  ) {}

  static async open(
    method: "Listen" | "Write",
    first: unknown,
    opts: { token?: string; longPoll?: boolean } = {},
  ): Promise<Channel> {
    const url = `${http.base}/google.firestore.v1.Firestore/${method}/channel?database=${encodeURIComponent(DB)}`;
    const headers = `X-Goog-Api-Client:gl-js/ fire/12\r\nContent-Type:text/plain\r\n${
      opts.token ? `Authorization:Bearer ${opts.token}\r\n` : ""
    }`;
    const body = `headers=${encodeURIComponent(headers)}&count=1&ofs=0&req0___data__=${encodeURIComponent(JSON.stringify(first))}`;
    const res = await fetch(`${url}&VER=8&RID=49999&CVER=22&X-HTTP-Session-Id=gsessionid&zx=t1&t=1`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    expect(res.status).toBe(200);
    const { chunks } = parseChunks(await res.text());
    const handshake = chunks[0] as ArrayEntry[];
    const c = handshake[0]?.[1] as [string, string, string, number, number, number];
    expect(handshake[0]?.[0]).toBe(0);
    expect(c[0]).toBe("c");
    expect(c[3]).toBe(8);
    const channel = new Channel(url, c[1]);
    channel.sessionHeader = res.headers.get("x-http-session-id");
    channel.nextMapId = 1;
    void channel.backChannel(opts.longPoll === true);
    return channel;
  }

  /** Runs the back channel: one streaming GET (CI=0), or long polls (CI=1) until closed. */
  private async backChannel(longPoll: boolean): Promise<void> {
    do {
      const res = await fetch(
        `${this.url}&VER=8&RID=rpc&SID=${this.sid}&AID=${this.lastArrayId}&CI=${longPoll ? 1 : 0}&TYPE=xmlhttp&zx=b&t=1`,
      ).catch(() => undefined);
      if (!res?.body) return;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let text = "";
      for (;;) {
        const chunk: { value?: Uint8Array; done: boolean } = await reader
          .read()
          .catch(() => ({ value: undefined, done: true }));
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
        const parsed = parseChunks(text);
        text = parsed.rest;
        for (const chunk of parsed.chunks) {
          for (const entry of chunk as ArrayEntry[]) {
            this.lastArrayId = entry[0];
            if (entry[1][0] !== "noop") this.received.push(entry);
          }
        }
        for (const w of this.waiters.splice(0)) w();
      }
    } while (longPoll && !this.closed);
  }

  /** Resolves with the first received message (after `from`) matching the predicate. */
  async next<T>(
    predicate: (m: T) => boolean,
    from = 0,
    timeoutMs = 5000,
  ): Promise<{ msg: T; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((e, i) => i >= from && predicate(e[1][0] as T));
      if (index >= 0) return { msg: this.received[index]?.[1][0] as T, index };
      if (Date.now() > deadline) throw new Error(`no matching message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** A forward-channel POST with the given messages (`ids` to re-send earlier ones, as a retry does). */
  async send(messages: unknown[], ofs = this.nextMapId): Promise<unknown[]> {
    const parts = [`count=${messages.length}`, `ofs=${ofs}`];
    messages.forEach((m, i) => parts.push(`req${i}___data__=${encodeURIComponent(JSON.stringify(m))}`));
    this.nextMapId = Math.max(this.nextMapId, ofs + messages.length);
    const res = await fetch(
      `${this.url}&VER=8&gsessionid=${this.sessionHeader ?? ""}&SID=${this.sid}&RID=${this.rid++}&AID=${this.lastArrayId}&zx=f&t=1`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: parts.join("&"),
      },
    );
    expect(res.status).toBe(200);
    return parseChunks(await res.text()).chunks[0] as unknown[];
  }

  async terminate(): Promise<number> {
    this.closed = true;
    const res = await fetch(
      `${this.url}&VER=8&gsessionid=${this.sessionHeader ?? ""}&SID=${this.sid}&RID=${this.rid++}&TYPE=terminate&zx=x&t=1`,
    );
    return res.status;
  }
}

async function commitAsOwner(writes: unknown[]): Promise<void> {
  const res = await fetch(`${http.base}/v1/${DB}/documents:commit`, {
    method: "POST",
    headers: { authorization: "Bearer owner" },
    body: JSON.stringify({ writes }),
  });
  expect(res.status).toBe(200);
}

const setN = (path: string, n: number): unknown => ({
  update: { name: `${DOCS}/${path}`, fields: { n: { integerValue: String(n) } } },
});

interface ListenResponse {
  targetChange?: {
    targetChangeType?: string;
    targetIds?: number[];
    cause?: { code: number };
    resumeToken?: string;
  };
  documentChange?: { document: { name: string; fields: { n?: { integerValue: string } } } };
}

const isCurrent = (m: ListenResponse): boolean => m.targetChange?.targetChangeType === "CURRENT";
const hasN =
  (n: number) =>
  (m: ListenResponse): boolean =>
    m.documentChange?.document.fields.n?.integerValue === String(n);

describe("WebChannel Listen", () => {
  it.each([
    ["streaming back channel (CI=0)", false],
    ["long polling (CI=1)", true],
  ])("%s: a document target gets its snapshot, then every committed change", async (_label, longPoll) => {
    const path = `public/doc-${longPoll ? "lp" : "st"}`;
    await commitAsOwner([setN(path, 0)]);
    const ch = await Channel.open(
      "Listen",
      { database: DB, addTarget: { targetId: 2, documents: { documents: [`${DOCS}/${path}`] } } },
      { longPoll },
    );
    expect(ch.sessionHeader).toMatch(/^[0-9a-f]+$/);
    const current = await ch.next(isCurrent);
    expect(current.msg.targetChange?.targetIds).toEqual([2]);
    expect(typeof current.msg.targetChange?.resumeToken).toBe("string");
    await ch.next(hasN(0));
    await commitAsOwner([setN(path, 1)]);
    await ch.next(hasN(1));
    expect(await ch.terminate()).toBe(200);
  });

  it("measures commit → listener delivery over 30 commits (median printed)", async () => {
    const path = "public/latency";
    await commitAsOwner([setN(path, -1)]);
    const ch = await Channel.open("Listen", {
      database: DB,
      addTarget: { targetId: 4, documents: { documents: [`${DOCS}/${path}`] } },
    });
    await ch.next(hasN(-1));
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const from = ch.received.length;
      const t0 = performance.now();
      await commitAsOwner([setN(path, i)]);
      await ch.next(hasN(i), from);
      times.push(performance.now() - t0);
    }
    await ch.terminate();
    times.sort((a, b) => a - b);
    const median = times[15] ?? Number.NaN;
    process.stdout.write(
      `[webchannel] commit → Listen delivery over REST commit + streaming back channel: median ${median.toFixed(1)} ms, max ${(times[29] ?? Number.NaN).toFixed(1)} ms (30 commits)\n`,
    );
    expect(times).toHaveLength(30);
  });

  it("a target the rules deny is removed with PERMISSION_DENIED; the session stays usable", async () => {
    const ch = await Channel.open(
      "Listen",
      { database: DB, addTarget: { targetId: 2, documents: { documents: [`${DOCS}/users/bob`] } } },
      { token: idToken("alice") },
    );
    const removed = await ch.next<ListenResponse>((m) => m.targetChange?.targetChangeType === "REMOVE");
    expect(removed.msg.targetChange?.cause?.code).toBe(7);
    await ch.send([{ addTarget: { targetId: 4, documents: { documents: [`${DOCS}/public/any`] } } }]);
    await ch.next<ListenResponse>((m) => isCurrent(m) && m.targetChange?.targetIds?.[0] === 4);
    await ch.terminate();
  });
});

describe("WebChannel Write", () => {
  const handshake = { database: DB };

  it("an allowed write commits; a denied one ends the stream with PERMISSION_DENIED within a second", async () => {
    const ch = await Channel.open("Write", handshake, { token: idToken("alice") });
    const hello = await ch.next<{ streamToken?: string; streamId?: string }>((m) => m.streamId !== undefined);
    const ok = {
      streamToken: hello.msg.streamToken,
      writes: [{ update: { name: `${DOCS}/users/alice`, fields: { displayName: { stringValue: "A" } } } }],
    };
    const ack = await ch.send([ok]);
    expect(ack[0]).toBe(1); // back channel present
    const result = await ch.next<{ writeResults?: unknown[]; commitTime?: string }>(
      (m) => m.writeResults !== undefined,
    );
    expect(result.msg.writeResults).toHaveLength(1);
    expect(result.msg.commitTime).toMatch(/Z$/);

    const t0 = performance.now();
    await ch.send([
      {
        writes: [
          { update: { name: `${DOCS}/users/alice`, fields: { amountPaid: { integerValue: "100" } } } },
        ],
      },
    ]);
    const denied = await ch.next<{ error?: { status: string; code: number } }>(
      (m) => m.error !== undefined,
      0,
      1000,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(denied.msg.error).toMatchObject({ status: "PERMISSION_DENIED", code: 403 });
    const read = await fetch(`${http.base}/v1/${DOCS}/users/alice`, {
      headers: { authorization: "Bearer owner" },
    });
    expect(((await read.json()) as { fields: unknown }).fields).toEqual({
      displayName: { stringValue: "A" },
    });
    await ch.terminate();
  });

  it("a forward POST retried with the same message ids is applied once", async () => {
    await commitAsOwner([setN("public/counter", 0)]);
    const ch = await Channel.open("Write", handshake, { token: "owner" });
    await ch.next<{ streamId?: string }>((m) => m.streamId !== undefined);
    const increment = {
      writes: [
        {
          update: { name: `${DOCS}/public/counter`, fields: {} },
          updateMask: { fieldPaths: [] },
          updateTransforms: [{ fieldPath: "n", increment: { integerValue: "1" } }],
        },
      ],
    };
    await ch.send([increment], 1);
    await ch.send([increment], 1); // the same map id again, as a retried POST carries
    await ch.send([increment], 2);
    await ch.next<{ writeResults?: Array<{ transformResults?: unknown[] }> }>(
      (m) =>
        m.writeResults?.[0]?.transformResults?.[0] !== undefined &&
        JSON.stringify(m.writeResults[0].transformResults[0]) === JSON.stringify({ integerValue: "2" }),
    );
    const read = await fetch(`${http.base}/v1/${DOCS}/public/counter`, {
      headers: { authorization: "Bearer owner" },
    });
    expect(((await read.json()) as { fields: unknown }).fields).toEqual({ n: { integerValue: "2" } });
    await ch.terminate();
  });
});

describe("WebChannel sessions", () => {
  it("a session left without a back channel expires and its stream stops", async () => {
    const short = await start({ port: 0, webChannelSessionIdleMs: 200 });
    try {
      const url = `http://${short.address}/google.firestore.v1.Firestore/Listen/channel?VER=8`;
      const first = JSON.stringify({
        database: DB,
        addTarget: { targetId: 2, documents: { documents: [`${DOCS}/public/e`] } },
      });
      const created = await fetch(`${url}&RID=1&CVER=22`, {
        method: "POST",
        body: `count=1&ofs=0&req0___data__=${encodeURIComponent(first)}`,
      });
      const handshake = parseChunks(await created.text()).chunks[0] as ArrayEntry[];
      const sid = String(handshake[0]?.[1][1]);
      expect(short.stats().webChannelSessions).toBe(1);
      // No back channel is ever opened and nothing is sent: the session expires.
      const deadline = Date.now() + 5000;
      while (short.stats().webChannelSessions > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(short.stats().webChannelSessions).toBe(0);
      const late = await fetch(`${url}&SID=${sid}&RID=2&AID=0`, { method: "POST", body: "count=0" });
      expect(late.status).toBe(400);
    } finally {
      await short.close();
    }
  });

  it("unknown and terminated sessions are answered 400 'Unknown SID' (the SDK then opens a new one)", async () => {
    const url = `${http.base}/google.firestore.v1.Firestore/Listen/channel?VER=8&SID=nope&RID=rpc&AID=0&CI=0&TYPE=xmlhttp`;
    const res = await fetch(url);
    expect(res.status).toBe(400);
    expect((await res.text()).indexOf("Unknown SID")).toBeGreaterThan(0);

    const ch = await Channel.open("Listen", {
      database: DB,
      addTarget: { targetId: 2, documents: { documents: [`${DOCS}/public/x`] } },
    });
    await ch.next(isCurrent);
    await ch.terminate();
    const after = await fetch(
      `${http.base}/google.firestore.v1.Firestore/Listen/channel?VER=8&SID=${ch.sid}&RID=9&AID=0`,
      {
        method: "POST",
        body: "count=0",
      },
    );
    expect(after.status).toBe(400);
  });

  it("arrays not acknowledged are re-sent on a new back channel; acknowledged ones are not", async () => {
    const ch = await Channel.open("Listen", {
      database: DB,
      addTarget: { targetId: 2, documents: { documents: [`${DOCS}/public/y`] } },
    });
    const current = await ch.next(isCurrent);
    const ids = ch.received.map((e) => e[0]);
    const lastId = ch.received[current.index]?.[0] ?? 0;
    const poll = async (aid: number): Promise<number[]> => {
      const res = await fetch(
        `${http.base}/google.firestore.v1.Firestore/Listen/channel?VER=8&RID=rpc&SID=${ch.sid}&AID=${aid}&CI=1&TYPE=xmlhttp`,
      );
      return (parseChunks(await res.text()).chunks[0] as ArrayEntry[]).map((e) => e[0]);
    };
    // Nothing acknowledged beyond the handshake: a long poll gets everything again at once.
    expect(await poll(0)).toEqual(expect.arrayContaining(ids));
    // Acknowledging up to the last id: the next long poll waits for new data.
    const next = poll(lastId);
    await commitAsOwner([setN("public/y", 5)]);
    const fresh = await next;
    expect(Math.min(...fresh)).toBeGreaterThan(lastId);
    await ch.terminate();
  });
});
