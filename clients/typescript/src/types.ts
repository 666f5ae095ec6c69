/**
 * What `compress` and `retrieve` take and return. Field names are the TypeScript spelling of
 * the Python `CompressResult` (`tokens_before` -> `tokensBefore`, `ccr_keys` -> `ccrKeys`, ...).
 */

import type { HeadroomError } from "./errors.js";

/** An OpenAI-format chat message (role, content, tool_calls, tool_call_id, ...). The messages of
 * the `openai` SDK's `ChatCompletionMessageParam` fit, and come back with that type. */
export interface ChatMessage {
  role: string;
  content?: unknown;
}

/** `optimize` applies compression; `audit` changes nothing and reports what optimize would
 * save; `simulate` returns the would-be messages and the plan. */
export type CompressMode = "optimize" | "audit" | "simulate";

/** Per-request overrides of the proxy's configuration. */
export interface CompressOverrides {
  /** The last N user turns are never compressed or dropped. */
  keepTurns?: number;
  /** Tokens kept free in the model's window for its answer. */
  outputBufferTokens?: number;
  /** `token` (fewest tokens) or `cache` (keep the provider's prompt cache warm). */
  optimizationMode?: "token" | "cache";
  /** Per-tool settings by tool name, e.g. `{ list_runs: { skip_compression: true } }`. */
  toolProfiles?: Record<string, Record<string, unknown>>;
}

/** Options of one `compress` call. */
export interface CompressOptions {
  /** The model the messages are for (token counts and window); the proxy's default is gpt-4o. */
  model?: string;
  /** Default `optimize`. */
  mode?: CompressMode;
  /** What the next model call is about: what matches it is kept. */
  query?: string;
  /** Per-request overrides. */
  config?: CompressOverrides;
}

/** The answer of a `compress` call that reached the proxy. */
export interface CompressedResult<M extends ChatMessage = ChatMessage> {
  readonly fallback: false;
  /** The messages to send on: compressed where it paid off, otherwise as given. */
  readonly messages: M[];
  readonly tokensBefore: number;
  readonly tokensAfter: number;
  readonly tokensSaved: number;
  /** Share of tokens removed, `tokensSaved / tokensBefore` (0 when nothing was saved). */
  readonly compressionRatio: number;
  readonly transformsApplied: string[];
  /** Keys under which whatever was left out is stored; `retrieve(key)` gives it back. */
  readonly ccrKeys: string[];
  readonly mode: string;
  readonly model: string;
  /** Why parts were passed through unchanged, if they were. */
  readonly notes: string[];
}

/** The answer of a `compress` call that could not reach a working proxy (with `fallback: true`):
 * the original messages, unchanged, and why. */
export interface FallbackResult<M extends ChatMessage = ChatMessage> {
  readonly fallback: true;
  /** The messages that were passed in (the same array). */
  readonly messages: M[];
  /** Unknown: nothing counted them. */
  readonly tokensBefore: null;
  readonly tokensAfter: null;
  readonly tokensSaved: 0;
  readonly compressionRatio: 0;
  readonly transformsApplied: [];
  readonly ccrKeys: [];
  /** The mode and model that were asked for, if any. */
  readonly mode: CompressMode | null;
  readonly model: string | null;
  readonly notes: [];
  /** Why the original messages came back (the error's message). */
  readonly reason: string;
  /** The error that ended the attempts (a timeout, connection error, or 5xx / 429). */
  readonly error: HeadroomError;
}

/** What `compress` resolves to; `result.fallback` tells which. */
export type CompressResult<M extends ChatMessage = ChatMessage> = CompressedResult<M> | FallbackResult<M>;

/** Options of one `retrieve` call. */
export interface RetrieveOptions {
  /** Return only the parts of the original that match this (JSON items, or numbered lines). */
  query?: string;
}

/** The original stored under a key, byte for byte. */
export interface RetrievedOriginal {
  readonly key: string;
  readonly content: string;
}

/** The parts of the original that match a query. */
export interface RetrievedMatches {
  readonly key: string;
  readonly query: string;
  /** Matching JSON items of an array, or matching lines as `N: line`. */
  readonly matches: unknown[];
}
