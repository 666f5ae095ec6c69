/**
 * The openai and @anthropic-ai/sdk clients routed through the real proxy: the request reaches a
 * scripted upstream (node:http on loopback, speaking the OpenAI and Anthropic APIs) compressed,
 * with the client's own key and headers, and the answer comes back to the SDK.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";

import {
  HeadroomConfigError,
  TOKEN_HEADER,
  anthropicClientOptions,
  openAIClientOptions,
  withHeadroom,
} from "../src/index.js";
import { ScriptedServer, providerReply } from "./support/http.js";
import { type GatedProxy, PROXY_TOKEN, type RunningProxy, skipWithoutProxy, startGatedProxy, startProxy } from "./support/proxy.js";
import { agentTurn, anthropicTurn, failedRun } from "./support/samples.js";

const skip = skipWithoutProxy();

/** The text of the first tool_result block: a string, or the proxy's list of text blocks. */
function toolResultText(messages: { content: unknown }[]): string {
  for (const message of messages) {
    for (const block of Array.isArray(message.content) ? (message.content as Record<string, unknown>[]) : []) {
      if (block.type !== "tool_result") continue;
      const content = block.content;
      return typeof content === "string" ? content : (content as { text?: string }[]).map((part) => part.text ?? "").join("");
    }
  }
  throw new Error("no tool_result sent");
}

function openAITurn(): ChatCompletionMessageParam[] {
  return agentTurn() as ChatCompletionMessageParam[];
}

describe("routing options", () => {
  it("point the OpenAI SDK at the proxy's /v1 and the Anthropic SDK at its root", () => {
    assert.deepEqual(openAIClientOptions({ baseUrl: "http://127.0.0.1:8787/" }), { baseURL: "http://127.0.0.1:8787/v1", defaultHeaders: {} });
    assert.deepEqual(anthropicClientOptions({ baseUrl: "http://127.0.0.1:8787", apiKey: PROXY_TOKEN }), {
      baseURL: "http://127.0.0.1:8787",
      defaultHeaders: { [TOKEN_HEADER]: PROXY_TOKEN },
    });
  });

  it("withHeadroom returns a rerouted copy and leaves the original alone", () => {
    const original = new OpenAI({ apiKey: "sk-test" });
    const routed = withHeadroom(original, { baseUrl: "http://127.0.0.1:8787" });
    assert.equal(routed.baseURL, "http://127.0.0.1:8787/v1");
    assert.equal(routed.apiKey, "sk-test");
    assert.equal(original.baseURL, "https://api.openai.com/v1");
    assert.equal(withHeadroom(new Anthropic({ apiKey: "sk-ant" }), { baseUrl: "http://127.0.0.1:8787" }).baseURL, "http://127.0.0.1:8787");
  });

  it("withHeadroom refuses what it cannot route", () => {
    assert.throws(() => withHeadroom({} as never), HeadroomConfigError);
    assert.throws(() => withHeadroom({ withOptions: () => ({}) }), /provider/);
    assert.throws(() => withHeadroom(new OpenAI({ apiKey: "k" }), { provider: "gemini" as never }), /provider/);
    assert.throws(() => withHeadroom(new OpenAI({ apiKey: "k" }), { baseURL: "http://x" } as never), /"baseURL"/);
    assert.throws(() => openAIClientOptions({ baseUrl: "http://127.0.0.1:8787/v1" }), /without \/v1/);
  });
});

describe("SDK clients through the real proxy", { skip }, () => {
  let upstream: ScriptedServer;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await ScriptedServer.start(providerReply);
    proxy = await startProxy({ upstream: upstream.url });
  });

  after(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it("the openai SDK's request arrives compressed at the upstream", async () => {
    const openai = withHeadroom(new OpenAI({ apiKey: "sk-test-key", maxRetries: 0 }), { baseUrl: proxy.url });
    const messages = openAITurn();
    const completion = await openai.chat.completions.create({ model: "gpt-4o", messages });
    assert.equal(completion.choices[0]?.message.content, "One run failed.");

    const sent = upstream.lastBody<{ messages: { role: string; content: string }[]; tools?: { function: { name: string } }[] }>();
    const before = (messages[3] as { content: string }).content;
    const after = sent.messages[3]?.content as string;
    assert.ok(after.length < before.length / 2, `tool output ${before.length} -> ${after.length} characters`);
    assert.ok(after.includes(String(failedRun().id)));
    assert.match(after, /headroom_retrieve/); // the omission marker names the retrieval tool and the key
    assert.deepEqual(sent.messages.slice(0, 3), messages.slice(0, 3));
    assert.equal(upstream.seen.at(-1)?.headers.authorization, "Bearer sk-test-key");
  });

  it("keeps the client's own default headers and forwards no x-headroom header", async () => {
    const openai = withHeadroom(new OpenAI({ apiKey: "sk-test-key", maxRetries: 0, defaultHeaders: { "x-team": "search" } }), {
      baseUrl: proxy.url,
      apiKey: PROXY_TOKEN,
    });
    await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Say hello." }] });
    const headers = upstream.seen.at(-1)?.headers ?? {};
    assert.equal(headers["x-team"], "search");
    assert.deepEqual(Object.keys(headers).filter((name) => name.startsWith("x-headroom")), []);
  });

  it("constructor options route a new client the same way", async () => {
    const openai = new OpenAI({ apiKey: "sk-test-key", maxRetries: 0, ...openAIClientOptions({ baseUrl: proxy.url }) });
    await openai.chat.completions.create({ model: "gpt-4o", messages: openAITurn() });
    assert.ok((upstream.lastBody<{ messages: { content: string }[] }>().messages[3]?.content.length ?? 0) < (openAITurn()[3]?.content?.length ?? 0) / 2);
  });

  it("the Anthropic SDK's request arrives compressed at the upstream", async () => {
    const claude = withHeadroom(new Anthropic({ apiKey: "sk-ant-test", maxRetries: 0 }), { baseUrl: proxy.url });
    const message = await claude.messages.create({ model: "claude-haiku-4-5", max_tokens: 256, messages: anthropicTurn() as never });
    assert.deepEqual(message.content, [{ type: "text", text: "One run failed." }]);

    const seen = upstream.seen.at(-1);
    assert.equal(seen?.url, "/v1/messages");
    const key = seen?.headers["x-api-key"] ?? seen?.headers.authorization?.replace(/^Bearer /, ""); // this SDK version sends a Bearer header
    assert.equal(key, "sk-ant-test");
    const sent = toolResultText(upstream.lastBody<{ messages: { content: unknown }[] }>().messages);
    const original = toolResultText(anthropicTurn());
    assert.ok(sent.length < original.length / 2, `tool result ${original.length} -> ${sent.length} characters`);
    assert.ok(sent.includes(String(failedRun().id)));
  });

  it("the example script routes the openai SDK", async () => {
    const example = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "openai-through-proxy.mjs");
    const { stdout } = await promisify(execFile)(process.execPath, [example], {
      env: { ...process.env, HEADROOM_BASE_URL: proxy.url, OPENAI_API_KEY: "sk-example" },
    });
    assert.equal(stdout.trim(), "One run failed.");
    assert.equal(upstream.seen.at(-1)?.headers.authorization, "Bearer sk-example");
  });
});

describe("SDK clients through a proxy with HEADROOM_PROXY_TOKEN, behind a reverse proxy that reports a remote caller", { skip }, () => {
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

  it("without the token the SDK gets the proxy's 401", async () => {
    const openai = withHeadroom(new OpenAI({ apiKey: "sk-test-key", maxRetries: 0 }), { baseUrl: gated.remoteUrl });
    await assert.rejects(openai.chat.completions.create({ model: "gpt-4o", messages: openAITurn() }), OpenAI.AuthenticationError);
    assert.equal(upstream.seen.length, 0);
  });

  it("with the token the request goes through, and the token is not forwarded", async () => {
    for (const client of [
      withHeadroom(new OpenAI({ apiKey: "sk-test-key", maxRetries: 0 }), { baseUrl: gated.remoteUrl, apiKey: PROXY_TOKEN }),
      new OpenAI({ apiKey: "sk-test-key", maxRetries: 0, ...openAIClientOptions({ baseUrl: gated.remoteUrl, apiKey: PROXY_TOKEN }) }),
    ]) {
      const completion = await client.chat.completions.create({ model: "gpt-4o", messages: openAITurn() });
      assert.equal(completion.choices[0]?.message.content, "One run failed.");
      assert.equal(upstream.seen.at(-1)?.headers[TOKEN_HEADER], undefined);
    }
    const claude = withHeadroom(new Anthropic({ apiKey: "sk-ant-test", maxRetries: 0 }), { baseUrl: gated.remoteUrl, apiKey: PROXY_TOKEN });
    await claude.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "Say hello." }] });
    assert.equal(upstream.seen.at(-1)?.url, "/v1/messages");
  });
});
