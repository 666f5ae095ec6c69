/** Retries: which failures are retried, the backoff with jitter, retry-after, and the count
 * (a scripted server on loopback stands in for the proxy). */

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { HeadroomClient, HeadroomHTTPError } from "../src/index.js";
import { BASE_DELAY_MS, MAX_DELAY_MS, MAX_RETRY_AFTER_MS, backoffDelay, delayBeforeRetry, retryAfterMs } from "../src/retry.js";
import { type Reply, ScriptedServer } from "./support/http.js";

const MESSAGES = [{ role: "user", content: "Say hello." }];
const COMPRESSED = {
  messages: MESSAGES,
  tokens_before: 12,
  tokens_after: 12,
  tokens_saved: 0,
  compression_ratio: 0,
  transforms_applied: [],
  ccr_keys: [],
  mode: "optimize",
  model: "gpt-4o",
  notes: [],
};
/** setTimeout may fire a millisecond before its delay; arrivals are compared with this slack. */
const SLACK_MS = 5;

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(replies: Reply[]): Promise<ScriptedServer> {
  server = await ScriptedServer.start((_seen, index) => replies[Math.min(index, replies.length - 1)] as Reply);
  return server;
}

function gaps(srv: ScriptedServer): number[] {
  return srv.seen.slice(1).map((seen, i) => seen.at - (srv.seen[i]?.at ?? 0));
}

const headers = (values: Record<string, string>) => new Headers(values);

describe("backoff", () => {
  it("doubles from the base delay up to the cap, jittered into the upper half", () => {
    for (let retry = 0; retry < 8; retry++) {
      const ceiling = Math.min(BASE_DELAY_MS * 2 ** retry, MAX_DELAY_MS);
      assert.equal(backoffDelay(retry, () => 0), ceiling / 2);
      assert.ok(backoffDelay(retry, () => 0.999_999) < ceiling);
      assert.ok(backoffDelay(retry, () => 0.999_999) > ceiling * 0.99);
    }
  });

  it("spreads clients that failed together", () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(1)));
    assert.ok(delays.size > 1);
  });
});

describe("retry-after", () => {
  it("reads seconds, milliseconds and HTTP dates", () => {
    const now = Date.parse("2026-11-25T10:00:00Z");
    assert.equal(retryAfterMs(headers({ "retry-after": "2" })), 2000);
    assert.equal(retryAfterMs(headers({ "retry-after": "0.5" })), 500);
    assert.equal(retryAfterMs(headers({ "retry-after-ms": "150", "retry-after": "9" })), 150);
    assert.equal(retryAfterMs(headers({ "retry-after": "Wed, 25 Nov 2026 10:00:03 GMT" }), now), 3000);
    assert.equal(retryAfterMs(headers({ "retry-after": "Wed, 25 Nov 2026 09:00:00 GMT" }), now), 0);
  });

  it("is null when absent or unreadable", () => {
    assert.equal(retryAfterMs(headers({})), null);
    assert.equal(retryAfterMs(headers({ "retry-after": "soon" })), null);
    assert.equal(retryAfterMs(headers({ "retry-after": "-3" })), null);
  });

  it("replaces the backoff, and a wait beyond the cap ends the retries", () => {
    assert.equal(delayBeforeRetry(3, 0), 0);
    assert.equal(delayBeforeRetry(0, MAX_RETRY_AFTER_MS), MAX_RETRY_AFTER_MS);
    assert.equal(delayBeforeRetry(0, MAX_RETRY_AFTER_MS + 1), null);
    assert.equal(delayBeforeRetry(2, null, () => 0), 1000);
  });
});

describe("compress retries", () => {
  it("a proxy that fails twice then succeeds: three requests, the compressed answer", async () => {
    const srv = await serve([
      { status: 503, headers: { "retry-after": "0" }, body: { error: { type: "store_error", message: "busy" } } },
      { status: 502, headers: { "retry-after": "0" }, body: "bad gateway" },
      { status: 200, body: COMPRESSED },
    ]);
    const result = await new HeadroomClient({ baseUrl: srv.url, fallback: false }).compress(MESSAGES);
    assert.equal(result.fallback, false);
    assert.equal(result.tokensBefore, 12);
    assert.equal(srv.seen.length, 3);
    assert.deepEqual(new Set(srv.seen.map((seen) => seen.raw)).size, 1);
  });

  it("a 429 is retried like a 5xx", async () => {
    const srv = await serve([{ status: 429, headers: { "retry-after": "0" }, body: {} }, { status: 200, body: COMPRESSED }]);
    const result = await new HeadroomClient({ baseUrl: srv.url, fallback: false }).compress(MESSAGES);
    assert.equal(result.fallback, false);
    assert.equal(srv.seen.length, 2);
  });

  it("without retry-after, waits an exponential backoff between attempts", async () => {
    const srv = await serve([{ status: 500, body: {} }, { status: 500, body: {} }, { status: 200, body: COMPRESSED }]);
    await new HeadroomClient({ baseUrl: srv.url, fallback: false }).compress(MESSAGES);
    const [first, second] = gaps(srv);
    assert.ok((first as number) >= BASE_DELAY_MS / 2 - SLACK_MS, `first wait ${first} ms`);
    assert.ok((second as number) >= BASE_DELAY_MS - SLACK_MS, `second wait ${second} ms`);
  });

  it("honours retry-after", async () => {
    const srv = await serve([{ status: 503, headers: { "retry-after": "1" }, body: {} }, { status: 200, body: COMPRESSED }]);
    await new HeadroomClient({ baseUrl: srv.url, fallback: false }).compress(MESSAGES);
    assert.ok((gaps(srv)[0] as number) >= 1000 - SLACK_MS, `waited ${gaps(srv)[0]} ms`);
  });

  it("stops at once when retry-after asks for more than a minute", async () => {
    const srv = await serve([{ status: 503, headers: { "retry-after": "600" }, body: {} }, { status: 200, body: COMPRESSED }]);
    const result = await new HeadroomClient({ baseUrl: srv.url }).compress(MESSAGES);
    assert.equal(result.fallback, true);
    assert.equal(srv.seen.length, 1);
  });

  it("makes retries + 1 attempts, then gives up", async () => {
    const srv = await serve([{ status: 503, headers: { "retry-after": "0" }, body: {} }]);
    const client = new HeadroomClient({ baseUrl: srv.url, retries: 4, fallback: false });
    await assert.rejects(client.compress(MESSAGES), (error: unknown) => error instanceof HeadroomHTTPError && error.attempts === 5);
    assert.equal(srv.seen.length, 5);
  });

  it("with retries 0, makes one attempt", async () => {
    const srv = await serve([{ status: 503, headers: { "retry-after": "0" }, body: {} }, { status: 200, body: COMPRESSED }]);
    const result = await new HeadroomClient({ baseUrl: srv.url, retries: 0 }).compress(MESSAGES);
    assert.equal(result.fallback, true);
    assert.equal(srv.seen.length, 1);
  });

  it("does not retry a 4xx other than 429", async () => {
    for (const status of [400, 401, 403, 404, 409, 422]) {
      const srv = await serve([{ status, headers: { "retry-after": "0" }, body: {} }, { status: 200, body: COMPRESSED }]);
      await assert.rejects(new HeadroomClient({ baseUrl: srv.url }).compress(MESSAGES), { name: "HeadroomHTTPError", status });
      assert.equal(srv.seen.length, 1, `status ${status}`);
      await srv.close();
      server = undefined;
    }
  });
});

describe("retrieve retries", () => {
  it("retries a 503 and returns the original", async () => {
    const srv = await serve([
      { status: 503, headers: { "retry-after": "0" }, body: {} },
      { status: 200, body: { key: "hr_0123456789abcdef", content: "the original" } },
    ]);
    const got = await new HeadroomClient({ baseUrl: srv.url }).retrieve("hr_0123456789abcdef");
    assert.deepEqual(got, { key: "hr_0123456789abcdef", content: "the original" });
    assert.equal(srv.seen.length, 2);
  });
});
