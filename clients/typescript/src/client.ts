/**
 * `HeadroomClient`: `headroom.compress` and `headroom.retrieve` for Node, through the proxy's
 * `POST /v1/compress` and `POST /v1/retrieve`.
 *
 *     const headroom = new HeadroomClient();                  // http://localhost:8787, or HEADROOM_BASE_URL
 *     const result = await headroom.compress(messages, { model: "gpt-4o" });
 *     await openai.chat.completions.create({ model: "gpt-4o", messages: result.messages });
 *
 * Fallback: when the proxy is down, slow or failing (a timeout, a connection error, a 5xx or a
 * 429 on the last of `retries + 1` attempts), `compress` resolves to the original messages with
 * `fallback: true` and the `reason`, so an agent loop keeps running uncompressed; with
 * `fallback: false` it throws the error instead. An answer that says the request or the setup is
 * wrong is always thrown, whatever `fallback` says: a 400 (bad input), a 401 (missing or wrong
 * proxy token), a 404 (a baseUrl that is not the proxy), any other 4xx, and a 2xx that is not the
 * Headroom API's answer. Passing such failures through silently would hide a mistake that no
 * retry can fix. `retrieve` has nothing to fall back to and always throws.
 */

import {
  HeadroomConnectionError,
  HeadroomError,
  HeadroomHTTPError,
  HeadroomInvalidArgumentError,
  HeadroomProtocolError,
  isRecord,
} from "./errors.js";
import { type HeadroomClientOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { isRetryableStatus } from "./retry.js";
import { send } from "./transport.js";
import type {
  ChatMessage,
  CompressOptions,
  CompressOverrides,
  CompressResult,
  CompressedResult,
  FallbackResult,
  RetrievedMatches,
  RetrievedOriginal,
  RetrieveOptions,
} from "./types.js";

const COMPRESS_OPTIONS = new Set(["model", "mode", "query", "config"]);
const OVERRIDES: Readonly<Record<keyof CompressOverrides, string>> = {
  keepTurns: "keep_turns",
  outputBufferTokens: "output_buffer_tokens",
  optimizationMode: "optimization_mode",
  toolProfiles: "tool_profiles",
};

/** The client of a Headroom proxy's own API. */
export class HeadroomClient {
  readonly #options: ResolvedOptions;

  /** Throws HeadroomConfigError for an option it cannot use (see HeadroomClientOptions). */
  constructor(options: HeadroomClientOptions = {}) {
    this.#options = resolveOptions(options);
    if (typeof fetch !== "function") {
      throw new HeadroomError("HeadroomClient needs the platform's fetch: Node 18 or later, or a runtime that has it");
    }
  }

  /** The proxy's base URL, as resolved from the option, HEADROOM_BASE_URL or the default. */
  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  get timeout(): number {
    return this.#options.timeout;
  }

  get retries(): number {
    return this.#options.retries;
  }

  get fallback(): boolean {
    return this.#options.fallback;
  }

  /**
   * Compress OpenAI-format chat messages; the input array is never changed.
   *
   *     const { messages, tokensSaved, ccrKeys } = await headroom.compress(history, { query: "failed runs" });
   */
  async compress<M extends ChatMessage>(messages: M[], options: CompressOptions = {}): Promise<CompressResult<M>> {
    if (!Array.isArray(messages)) {
      throw new HeadroomInvalidArgumentError("messages must be an array of OpenAI-format chat messages");
    }
    const body = serialise(compressBody(messages, options), "messages");
    try {
      const answer = await send(this.#options, { path: "/v1/compress", body });
      return compressedResult<M>(answer);
    } catch (error) {
      if (this.#options.fallback && fallsBack(error)) return fallbackResult(messages, options, error);
      throw error;
    }
  }

  /** The original stored under `key`, byte for byte (throws HeadroomHTTPError 404 for an unknown key). */
  retrieve(key: string): Promise<RetrievedOriginal>;
  /** The parts of the original under `key` that match `query`. */
  retrieve(key: string, options: RetrieveOptions & { query: string }): Promise<RetrievedMatches>;
  retrieve(key: string, options?: RetrieveOptions): Promise<RetrievedOriginal | RetrievedMatches>;
  async retrieve(key: string, options: RetrieveOptions = {}): Promise<RetrievedOriginal | RetrievedMatches> {
    if (typeof key !== "string" || key.trim() === "") {
      throw new HeadroomInvalidArgumentError("key must be a non-empty CCR key such as hr_0123456789abcdef");
    }
    const { query } = options;
    if (query !== undefined && (typeof query !== "string" || query === "")) {
      throw new HeadroomInvalidArgumentError("query must be a non-empty string when given");
    }
    const body = serialise(query === undefined ? { key } : { key, query }, "the retrieve request");
    return retrievedResult(await send(this.#options, { path: "/v1/retrieve", body }), query);
  }
}

/** True for the failures fallback covers: no answer, or a 5xx / 429 after the retries. */
function fallsBack(error: unknown): error is HeadroomError {
  if (error instanceof HeadroomConnectionError) return true;
  return error instanceof HeadroomHTTPError && isRetryableStatus(error.status);
}

function compressBody(messages: ChatMessage[], options: CompressOptions): Record<string, unknown> {
  if (!isRecord(options as unknown)) throw new HeadroomInvalidArgumentError("compress options must be an object");
  const unknown = Object.keys(options).find((name) => !COMPRESS_OPTIONS.has(name));
  if (unknown !== undefined) {
    throw new HeadroomInvalidArgumentError(`unknown compress option ${JSON.stringify(unknown)}; accepted: ${[...COMPRESS_OPTIONS].join(", ")}`);
  }
  const body: Record<string, unknown> = { messages };
  if (options.model !== undefined) body.model = options.model;
  if (options.mode !== undefined) body.mode = options.mode;
  if (options.query !== undefined) body.query = options.query;
  if (options.config !== undefined) body.config = overrides(options.config);
  return body;
}

function overrides(config: CompressOverrides): Record<string, unknown> {
  if (!isRecord(config as unknown)) throw new HeadroomInvalidArgumentError("config must be an object of overrides");
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(config)) {
    const wire = OVERRIDES[name as keyof CompressOverrides];
    if (wire === undefined) {
      throw new HeadroomInvalidArgumentError(`unknown config override ${JSON.stringify(name)}; accepted: ${Object.keys(OVERRIDES).join(", ")}`);
    }
    if (value !== undefined) out[wire] = value;
  }
  return out;
}

function serialise(value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new HeadroomInvalidArgumentError(`${what} cannot be sent as JSON: ${(error as Error).message}`);
  }
}

function protocolError(what: string): HeadroomProtocolError {
  return new HeadroomProtocolError(`the proxy's answer is not a Headroom API answer: ${what}`);
}

function numberField(answer: Record<string, unknown>, name: string): number {
  const value = answer[name];
  if (typeof value !== "number") throw protocolError(`'${name}' is not a number`);
  return value;
}

function stringField(answer: Record<string, unknown>, name: string): string {
  const value = answer[name];
  if (typeof value !== "string") throw protocolError(`'${name}' is not a string`);
  return value;
}

function stringsField(answer: Record<string, unknown>, name: string): string[] {
  const value = answer[name];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw protocolError(`'${name}' is not a list of strings`);
  }
  return value as string[];
}

function compressedResult<M extends ChatMessage>(answer: unknown): CompressedResult<M> {
  if (!isRecord(answer) || !Array.isArray(answer.messages)) throw protocolError("no 'messages' list");
  return {
    fallback: false,
    messages: answer.messages as M[],
    tokensBefore: numberField(answer, "tokens_before"),
    tokensAfter: numberField(answer, "tokens_after"),
    tokensSaved: numberField(answer, "tokens_saved"),
    compressionRatio: numberField(answer, "compression_ratio"),
    transformsApplied: stringsField(answer, "transforms_applied"),
    ccrKeys: stringsField(answer, "ccr_keys"),
    mode: stringField(answer, "mode"),
    model: stringField(answer, "model"),
    notes: stringsField(answer, "notes"),
  };
}

function fallbackResult<M extends ChatMessage>(messages: M[], options: CompressOptions, error: HeadroomError): FallbackResult<M> {
  return {
    fallback: true,
    messages,
    tokensBefore: null,
    tokensAfter: null,
    tokensSaved: 0,
    compressionRatio: 0,
    transformsApplied: [],
    ccrKeys: [],
    mode: options.mode ?? null,
    model: options.model ?? null,
    notes: [],
    reason: error.message,
    error,
  };
}

function retrievedResult(answer: unknown, query: string | undefined): RetrievedOriginal | RetrievedMatches {
  if (!isRecord(answer)) throw protocolError("not a JSON object");
  const key = stringField(answer, "key");
  if (query === undefined) return { key, content: stringField(answer, "content") };
  if (!Array.isArray(answer.matches)) throw protocolError("'matches' is not a list");
  return { key, query: stringField(answer, "query"), matches: answer.matches };
}
