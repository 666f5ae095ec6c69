/** Small node:http servers on 127.0.0.1 for the tests: a scripted stand-in for the proxy, an
 * OpenAI/Anthropic-speaking upstream that records what reaches it, and a forwarding reverse proxy. */

import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

/** A request as the server saw it. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  /** When it arrived (performance.now(), milliseconds). */
  at: number;
}

/** What a scripted server does with one request. */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { hang: true }
  | { headersThenHang: true }
  | { drop: true };

async function readBytes(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBytes(req)).toString("utf8");
}

function answer(res: ServerResponse, reply: Reply): void {
  if ("hang" in reply) return;
  if ("drop" in reply) {
    res.socket?.destroy();
    return;
  }
  if ("headersThenHang" in reply) {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"messages": [');
    return;
  }
  const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body ?? {});
  res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
  res.end(text);
}

/** An HTTP server on a free loopback port that answers with `script(seen, index)` and records every request. */
export class ScriptedServer {
  readonly seen: Seen[] = [];
  #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(script: (seen: Seen, index: number) => Reply): Promise<ScriptedServer> {
    let holder: ScriptedServer | undefined;
    const server = createServer((req, res) => {
      const at = performance.now();
      void readBody(req).then((raw) => {
        const seen: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, raw, at };
        const self = holder as ScriptedServer;
        self.seen.push(seen);
        answer(res, script(seen, self.seen.length - 1));
      });
    });
    holder = new ScriptedServer(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return holder;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The JSON body of the last request. */
  lastBody<T = Record<string, unknown>>(): T {
    const last = this.seen.at(-1);
    if (last === undefined) throw new Error("no request reached the server");
    return JSON.parse(last.raw) as T;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The upstream the proxy forwards to: answers OpenAI chat completions and Anthropic messages. */
export function providerReply(seen: Seen): Reply {
  if (seen.method === "POST" && seen.url === "/v1/chat/completions") {
    return {
      status: 200,
      body: {
        id: "chatcmpl-scripted",
        object: "chat.completion",
        created: 1764000000,
        model: "gpt-4o",
        choices: [{ index: 0, message: { role: "assistant", content: "One run failed." }, finish_reason: "stop", logprobs: null }],
        usage: { prompt_tokens: 100, completion_tokens: 4, total_tokens: 104 },
      },
    };
  }
  if (seen.method === "POST" && seen.url === "/v1/messages") {
    return {
      status: 200,
      body: {
        id: "msg_scripted",
        type: "message",
        role: "assistant",
        model: "claude-haiku-4-5",
        content: [{ type: "text", text: "One run failed." }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: 100, output_tokens: 4 },
      },
    };
  }
  return { status: 404, body: { error: { type: "not_found_error", message: `no route ${seen.method} ${seen.url}` } } };
}

/**
 * A reverse proxy on loopback in front of `target` that says which client it forwards for, as
 * nginx's `proxy_set_header X-Forwarded-For` does. The Headroom proxy's server (uvicorn) takes
 * the caller's address from that header when the connection comes from loopback, so callers
 * through this forwarder are seen as `forwardedFor`, not as loopback.
 */
export async function startForwarder(target: string, forwardedFor: string): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    // The whole body first, as nginx buffers it: the proxy may answer (401) without reading it.
    void readBytes(req).then((body) => {
      const upstream = request(
        {
          host: to.hostname,
          port: to.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: to.host, "x-forwarded-for": forwardedFor },
        },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
