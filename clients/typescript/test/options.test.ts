/** Construction: defaults, the HEADROOM_* environment, and a clear HeadroomConfigError for every bad option. */

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { inspect } from "node:util";

import { HeadroomClient, HeadroomConfigError, HeadroomError } from "../src/index.js";
import { resolveOptions } from "../src/options.js";

const ENV = ["HEADROOM_BASE_URL", "HEADROOM_API_KEY"] as const;
let saved: Record<string, string | undefined> = {};

beforeEach(() => {
  saved = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
  for (const name of ENV) delete process.env[name];
});

afterEach(() => {
  for (const name of ENV) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

function rejects(options: unknown, mentions: RegExp): void {
  assert.throws(
    () => new HeadroomClient(options as never),
    (error: unknown) => error instanceof HeadroomConfigError && error instanceof HeadroomError && mentions.test(error.message),
  );
}

describe("defaults", () => {
  it("are the documented ones", () => {
    const client = new HeadroomClient();
    assert.deepEqual(
      { baseUrl: client.baseUrl, timeout: client.timeout, retries: client.retries, fallback: client.fallback },
      { baseUrl: "http://localhost:8787", timeout: 30_000, retries: 2, fallback: true },
    );
    assert.equal(resolveOptions({}).apiKey, null);
  });

  it("take the base URL and the token from the environment", () => {
    process.env.HEADROOM_BASE_URL = "http://127.0.0.1:9999/";
    process.env.HEADROOM_API_KEY = "from-env";
    assert.deepEqual([resolveOptions({}).baseUrl, resolveOptions({}).apiKey], ["http://127.0.0.1:9999", "from-env"]);
  });

  it("let the options win over the environment", () => {
    process.env.HEADROOM_BASE_URL = "http://127.0.0.1:9999";
    process.env.HEADROOM_API_KEY = "from-env";
    const resolved = resolveOptions({ baseUrl: "http://127.0.0.1:8000", apiKey: "given" });
    assert.deepEqual([resolved.baseUrl, resolved.apiKey], ["http://127.0.0.1:8000", "given"]);
  });

  it("ignore empty environment variables", () => {
    process.env.HEADROOM_BASE_URL = "";
    process.env.HEADROOM_API_KEY = "";
    assert.deepEqual([resolveOptions({}).baseUrl, resolveOptions({}).apiKey], ["http://localhost:8787", null]);
  });

  it("keep a path prefix of a reverse proxy, without the trailing slash", () => {
    assert.equal(new HeadroomClient({ baseUrl: "https://gateway.example/headroom/" }).baseUrl, "https://gateway.example/headroom");
  });

  it("hide the token from inspection and JSON", () => {
    const client = new HeadroomClient({ apiKey: "s3cret-token" });
    assert.doesNotMatch(JSON.stringify(client), /s3cret/);
    assert.doesNotMatch(inspect(client, { showHidden: true, depth: 5 }), /s3cret/);
  });
});

describe("a bad option throws HeadroomConfigError at construction", () => {
  it("for a base URL that is not an http(s) URL", () => {
    for (const baseUrl of ["localhost:8787", "ftp://host:8787", "http://", "", "   ", 8787, null]) rejects({ baseUrl }, /baseUrl/);
  });

  it("for a base URL ending in /v1, a query, a fragment or credentials", () => {
    for (const baseUrl of ["http://localhost:8787/v1", "http://localhost:8787/v1/", "http://h:1/?a=1", "http://h:1/#x", "http://u:p@h:1"]) {
      rejects({ baseUrl }, /without \/v1/);
    }
  });

  it("naming HEADROOM_BASE_URL when the environment holds the bad value", () => {
    process.env.HEADROOM_BASE_URL = "localhost:8787";
    rejects({}, /HEADROOM_BASE_URL/);
  });

  it("for a timeout that is not a positive number of milliseconds setTimeout can hold", () => {
    for (const timeout of [-1, 0, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, "30000", null]) rejects({ timeout }, /timeout/);
  });

  it("for retries that are not a whole number from 0 to 10", () => {
    for (const retries of [-1, 1.5, 11, "2", null]) rejects({ retries }, /retries/);
  });

  it("for a fallback that is not a boolean", () => {
    for (const fallback of ["yes", 1, null]) rejects({ fallback }, /fallback/);
  });

  it("for an apiKey that is not a one-line string", () => {
    for (const apiKey of [42, "", "a\nb", " padded", "tok\u00e9n", null]) rejects({ apiKey }, /apiKey/);
  });

  it("for an unknown option, naming it", () => {
    rejects({ baseURL: "http://localhost:8787" }, /"baseURL".*accepted: baseUrl, apiKey/);
  });

  it("for options that are not an object", () => {
    for (const options of [null, [], "http://localhost:8787"]) rejects(options, /options/);
  });

  it("without the platform's fetch, says which runtime it needs", () => {
    const platformFetch = globalThis.fetch;
    Reflect.deleteProperty(globalThis, "fetch");
    try {
      assert.throws(() => new HeadroomClient(), { name: "HeadroomError", message: /Node 18 or later/ });
    } finally {
      globalThis.fetch = platformFetch;
    }
  });

  it("accepts the limits", () => {
    const client = new HeadroomClient({ timeout: 2 ** 31 - 1, retries: 0, fallback: false });
    assert.deepEqual([client.timeout, client.retries, client.fallback], [2 ** 31 - 1, 0, false]);
    assert.equal(new HeadroomClient({ retries: 10, timeout: 0.5 }).retries, 10);
    assert.equal(resolveOptions({ apiKey: "two words" }).apiKey, "two words");
  });
});
