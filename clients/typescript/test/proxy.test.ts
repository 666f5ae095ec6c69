/**
 * HeadroomClient against the real proxy (`headroom proxy --port 0 --stateless`, started here on
 * a free loopback port) with real tool output: compress, retrieve byte for byte, the proxy's 400
 * and 404, modes and overrides, and the token gate.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { HeadroomClient, HeadroomHTTPError } from "../src/index.js";
import { ScriptedServer, providerReply } from "./support/http.js";
import { type GatedProxy, PROXY_TOKEN, type RunningProxy, skipWithoutProxy, startGatedProxy, startProxy } from "./support/proxy.js";
import { type Message, agentTurn, failedRun } from "./support/samples.js";

const skip = skipWithoutProxy();

function toolContent(messages: Message[]): string {
  const tool = messages.find((message) => message.role === "tool");
  assert.ok(tool && typeof tool.content === "string");
  return tool.content;
}

describe("HeadroomClient against the real proxy", { skip }, () => {
  let upstream: ScriptedServer;
  let proxy: RunningProxy;
  let client: HeadroomClient;

  before(async () => {
    upstream = await ScriptedServer.start(providerReply);
    proxy = await startProxy({ upstream: upstream.url });
    client = new HeadroomClient({ baseUrl: proxy.url, fallback: false });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it("compresses real tool output and reports the figures", async () => {
    const messages = agentTurn();
    const result = await client.compress(messages, { model: "gpt-4o" });
    assert.equal(result.fallback, false);
    if (result.fallback) return;
    assert.ok(result.tokensAfter < result.tokensBefore / 2, `${result.tokensBefore} -> ${result.tokensAfter}`);
    assert.equal(result.tokensSaved, result.tokensBefore - result.tokensAfter);
    assert.equal(result.compressionRatio, Number((result.tokensSaved / result.tokensBefore).toFixed(4)));
    assert.ok(result.transformsApplied.length > 0 && result.ccrKeys.length > 0);
    assert.deepEqual([result.mode, result.model], ["optimize", "gpt-4o"]);
    assert.deepEqual(result.messages.slice(0, 3), messages.slice(0, 3));
  });

  it("keeps the failed run in the compressed tool output", async () => {
    const result = await client.compress(agentTurn());
    const kept = JSON.parse(toolContent(result.messages)) as { id?: number }[];
    assert.ok(kept.some((item) => item.id === failedRun().id));
  });

  it("leaves the input messages unchanged", async () => {
    const messages = agentTurn();
    await client.compress(messages);
    assert.deepEqual(messages, agentTurn());
  });

  it("retrieves every key's original byte for byte", async () => {
    const messages = agentTurn();
    const result = await client.compress(messages);
    assert.ok(result.ccrKeys.length > 0);
    for (const key of result.ccrKeys) {
      const got = await client.retrieve(key);
      assert.equal(got.key, key);
      assert.equal(got.content, toolContent(messages));
    }
  });

  it("retrieves the items matching a query", async () => {
    const [key] = (await client.compress(agentTurn())).ccrKeys;
    const got = await client.retrieve(key as string, { query: String(failedRun().id) });
    assert.equal(got.query, String(failedRun().id));
    assert.equal((got.matches[0] as { id: number }).id, failedRun().id);
  });

  it("throws HeadroomHTTPError 404 for an unknown key", async () => {
    await assert.rejects(client.retrieve("hr_0000000000000000"), { name: "HeadroomHTTPError", status: 404, errorType: "not_found_error" });
  });

  it("throws the proxy's 400 for bad input, even with fallback on", async () => {
    const lenient = new HeadroomClient({ baseUrl: proxy.url, fallback: true });
    await assert.rejects(lenient.compress([{ content: "no role" } as never]), (error: unknown) => {
      assert.ok(error instanceof HeadroomHTTPError);
      assert.deepEqual([error.status, error.errorType, error.attempts], [400, "invalid_request_error", 1]);
      assert.match(error.message, /role/);
      return true;
    });
    await assert.rejects(lenient.compress(agentTurn(), { mode: "fast" as never }), { status: 400 });
  });

  it("audit mode gives back the messages unchanged", async () => {
    const messages = agentTurn();
    const result = await client.compress(messages, { mode: "audit" });
    assert.deepEqual(result.messages, messages);
    assert.deepEqual([result.mode, result.tokensSaved], ["audit", 0]);
  });

  it("sends the query and the overrides the way the proxy reads them", async () => {
    const messages = agentTurn();
    const skipped = await client.compress(messages, {
      query: "failed runs",
      config: { keepTurns: 2, outputBufferTokens: 1024, optimizationMode: "token", toolProfiles: { list_workflow_runs: { skip_compression: true } } },
    });
    assert.deepEqual(skipped.messages, messages);
  });

  it("runs the example script", async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const example = join(here, "..", "..", "examples", "compress-and-retrieve.mjs");
    const { stdout } = await promisify(execFile)(process.execPath, [example], {
      env: { ...process.env, HEADROOM_BASE_URL: proxy.url },
    });
    assert.match(stdout, /tokens: \d+ -> \d+ \(\d+% fewer\)/);
    assert.match(stdout, /restored byte for byte: true/);
  });
});

describe("the token gate of a proxy with HEADROOM_PROXY_TOKEN (remote callers through a reverse proxy)", { skip }, () => {
  let upstream: ScriptedServer;
  let gated: GatedProxy;

  before(async () => {
    upstream = await ScriptedServer.start(providerReply);
    gated = await startGatedProxy(upstream.url);
  });

  after(async () => {
    await gated?.stop();
    await upstream?.close();
  });

  it("lets a caller on this machine in without the token", async () => {
    const result = await new HeadroomClient({ baseUrl: gated.proxy.url, fallback: false }).compress(agentTurn());
    assert.ok(result.ccrKeys.length > 0);
  });

  it("refuses a remote caller without the token with a 401, even with fallback on", async () => {
    await assert.rejects(new HeadroomClient({ baseUrl: gated.remoteUrl }).compress(agentTurn()), {
      name: "HeadroomHTTPError",
      status: 401,
      errorType: "authentication_error",
    });
    await assert.rejects(new HeadroomClient({ baseUrl: gated.remoteUrl }).retrieve("hr_0000000000000000"), { status: 401 });
  });

  it("refuses a remote caller with a wrong token", async () => {
    await assert.rejects(new HeadroomClient({ baseUrl: gated.remoteUrl, apiKey: "guess" }).compress(agentTurn()), { status: 401 });
  });

  it("serves a remote caller whose apiKey is the token", async () => {
    const client = new HeadroomClient({ baseUrl: gated.remoteUrl, apiKey: PROXY_TOKEN, fallback: false });
    const result = await client.compress(agentTurn());
    assert.equal((await client.retrieve(result.ccrKeys[0] as string)).content, toolContent(agentTurn()));
  });

  it("takes the token from HEADROOM_API_KEY", async () => {
    process.env.HEADROOM_API_KEY = PROXY_TOKEN;
    try {
      const result = await new HeadroomClient({ baseUrl: gated.remoteUrl, fallback: false }).compress(agentTurn());
      assert.equal(result.fallback, false);
    } finally {
      delete process.env.HEADROOM_API_KEY;
    }
  });
});
