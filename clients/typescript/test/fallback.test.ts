/**
 * Fallback both ways: with `fallback: true` a proxy that is down, slow or failing gives back the
 * original messages and says why; with `fallback: false` the typed error is thrown. Answers that
 * say the request or the setup is wrong are thrown either way. A scripted server on loopback
 * stands in for the proxy; a released port stands for a proxy that is not running.
 */

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import {
  type CompressResult,
  HeadroomClient,
  HeadroomConnectionError,
  HeadroomError,
  HeadroomHTTPError,
  HeadroomInvalidArgumentError,
  HeadroomProtocolError,
  HeadroomTimeoutError,
} from "../src/index.js";
import { type Reply, ScriptedServer, closedPort } from "./support/http.js";

const MESSAGES = [
  { role: "system", content: "You answer questions about CI runs." },
  { role: "user", content: "Which run failed?" },
];

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(reply: Reply): Promise<ScriptedServer> {
  server = await ScriptedServer.start(() => reply);
  return server;
}

function assertFellBack(result: CompressResult, errorClass: new (...args: never[]) => HeadroomError, reason: RegExp): void {
  assert.equal(result.fallback, true);
  if (!result.fallback) return;
  assert.equal(result.messages, MESSAGES);
  assert.ok(result.error instanceof errorClass, `${result.error.name} is not a ${errorClass.name}`);
  assert.match(result.reason, reason);
  assert.deepEqual([result.tokensBefore, result.tokensSaved, result.ccrKeys], [null, 0, []]);
}

describe("a proxy that does not answer in time", () => {
  it("with fallback, gives back the original messages", async () => {
    const srv = await serve({ hang: true });
    const result = await new HeadroomClient({ baseUrl: srv.url, timeout: 200, retries: 0 }).compress(MESSAGES, { model: "gpt-4o" });
    assertFellBack(result, HeadroomTimeoutError, /did not answer within 200 ms/);
    assert.equal(result.model, "gpt-4o");
  });

  it("without fallback, throws HeadroomTimeoutError (a HeadroomConnectionError)", async () => {
    const srv = await serve({ hang: true });
    const client = new HeadroomClient({ baseUrl: srv.url, timeout: 200, retries: 1, fallback: false });
    await assert.rejects(client.compress(MESSAGES), (error: unknown) => {
      assert.ok(error instanceof HeadroomTimeoutError && error instanceof HeadroomConnectionError);
      assert.equal(error.attempts, 2);
      assert.match(error.message, /\(2 attempts\)/);
      return true;
    });
    assert.equal(srv.seen.length, 2);
  });

  it("times out a body that stops half way", async () => {
    const srv = await serve({ headersThenHang: true });
    const client = new HeadroomClient({ baseUrl: srv.url, timeout: 200, retries: 0, fallback: false });
    await assert.rejects(client.compress(MESSAGES), HeadroomTimeoutError);
  });
});

describe("a proxy that is not running", () => {
  it("with fallback, gives back the original messages and names the refusal", async () => {
    const port = await closedPort();
    const result = await new HeadroomClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 0 }).compress(MESSAGES);
    assertFellBack(result, HeadroomConnectionError, new RegExp(`cannot reach the Headroom proxy at http://127.0.0.1:${port}/v1/compress: .*ECONNREFUSED`));
  });

  it("without fallback, throws HeadroomConnectionError after the retries", async () => {
    const port = await closedPort();
    const client = new HeadroomClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 1, fallback: false });
    await assert.rejects(client.compress(MESSAGES), (error: unknown) => {
      assert.ok(error instanceof HeadroomConnectionError && !(error instanceof HeadroomTimeoutError));
      assert.equal(error.attempts, 2);
      return true;
    });
  });

  it("a connection dropped before the answer counts the same", async () => {
    const srv = await serve({ drop: true });
    const result = await new HeadroomClient({ baseUrl: srv.url, retries: 0 }).compress(MESSAGES);
    assertFellBack(result, HeadroomConnectionError, /cannot reach/);
  });
});

describe("a proxy that keeps failing", () => {
  const storeDown = { error: { type: "store_error", message: "store down" } };
  const failing: Reply = { status: 502, headers: { "retry-after": "0" }, body: storeDown };

  it("with fallback, gives back the original messages after the retries", async () => {
    const srv = await serve(failing);
    const result = await new HeadroomClient({ baseUrl: srv.url }).compress(MESSAGES);
    assertFellBack(result, HeadroomHTTPError, /502: store down/);
    assert.equal(srv.seen.length, 3);
  });

  it("without fallback, throws HeadroomHTTPError with the status and body", async () => {
    const srv = await serve(failing);
    await assert.rejects(new HeadroomClient({ baseUrl: srv.url, fallback: false }).compress(MESSAGES), (thrown: unknown) => {
      assert.ok(thrown instanceof HeadroomHTTPError);
      assert.deepEqual([thrown.status, thrown.errorType, thrown.attempts], [502, "store_error", 3]);
      assert.deepEqual(JSON.parse(thrown.body), storeDown);
      return true;
    });
  });
});

describe("what fallback never hides", () => {
  it("a 400 for bad input", async () => {
    const srv = await serve({ status: 400, body: { error: { type: "invalid_request_error", message: "'model' must be a non-empty model name" } } });
    await assert.rejects(new HeadroomClient({ baseUrl: srv.url }).compress(MESSAGES), {
      name: "HeadroomHTTPError",
      status: 400,
      errorType: "invalid_request_error",
      message: "Headroom proxy answered 400: 'model' must be a non-empty model name",
    });
  });

  it("a 404 from a server that is not the proxy", async () => {
    const srv = await serve({ status: 404, body: "<html>Not Found</html>" });
    await assert.rejects(new HeadroomClient({ baseUrl: srv.url }).compress(MESSAGES), { name: "HeadroomHTTPError", status: 404, errorType: null });
  });

  it("a 2xx that is not JSON", async () => {
    const srv = await serve({ status: 200, body: "<html>captive portal</html>" });
    await assert.rejects(new HeadroomClient({ baseUrl: srv.url }).compress(MESSAGES), HeadroomProtocolError);
  });

  it("a JSON 2xx that is not a compress answer", async () => {
    const srv = await serve({ status: 200, body: { messages: [], tokens_before: "many" } });
    await assert.rejects(new HeadroomClient({ baseUrl: srv.url }).compress(MESSAGES), /'tokens_before' is not a number/);
  });
});

describe("arguments that cannot be sent throw before any request", () => {
  it("messages that are not an array, unknown options, values JSON cannot hold", async () => {
    const srv = await serve({ status: 500, body: {} });
    const client = new HeadroomClient({ baseUrl: srv.url });
    const circular: Record<string, unknown> = { role: "user" };
    circular.content = circular;
    const bad: [unknown, unknown, RegExp][] = [
      [{ role: "user", content: "hi" }, {}, /must be an array/],
      [MESSAGES, { Model: "gpt-4o" }, /unknown compress option "Model"/],
      [MESSAGES, { config: { keep_turns: 2 } }, /unknown config override "keep_turns".*keepTurns/],
      [[circular], {}, /cannot be sent as JSON/],
      [[{ role: "user", content: 10n }], {}, /cannot be sent as JSON/],
    ];
    for (const [messages, options, message] of bad) {
      await assert.rejects(client.compress(messages as never, options as never), (error: unknown) => {
        return error instanceof HeadroomInvalidArgumentError && message.test(error.message);
      });
    }
    await assert.rejects(client.retrieve(""), HeadroomInvalidArgumentError);
    await assert.rejects(client.retrieve("hr_0123456789abcdef", { query: "" }), HeadroomInvalidArgumentError);
    assert.equal(srv.seen.length, 0);
  });
});

describe("retrieve", () => {
  it("has nothing to fall back to: a proxy that is down throws", async () => {
    const port = await closedPort();
    await assert.rejects(new HeadroomClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 0 }).retrieve("hr_0123456789abcdef"), HeadroomConnectionError);
  });
});
