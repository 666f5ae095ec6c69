/**
 * headroom-context-client: Headroom for Node services, through the Headroom proxy.
 *
 * - {@link HeadroomClient}: `compress(messages, { model, mode, query })` and `retrieve(key)`
 *   over the proxy's own API, with retries, a timeout and fallback to the original messages.
 * - {@link withHeadroom}, {@link openAIClientOptions}, {@link anthropicClientOptions}: send an
 *   `openai` or `@anthropic-ai/sdk` client's requests through the proxy, compressed on the way.
 */

export { HeadroomClient } from "./client.js";
export {
  HeadroomConfigError,
  HeadroomConnectionError,
  HeadroomError,
  HeadroomHTTPError,
  HeadroomInvalidArgumentError,
  HeadroomProtocolError,
  HeadroomTimeoutError,
} from "./errors.js";
export { DEFAULT_BASE_URL, DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, type HeadroomClientOptions } from "./options.js";
export {
  anthropicClientOptions,
  openAIClientOptions,
  type Provider,
  type RoutableClient,
  type RouteOptions,
  type SdkClientOptions,
  withHeadroom,
} from "./sdk.js";
export { TOKEN_HEADER } from "./transport.js";
export type {
  ChatMessage,
  CompressedResult,
  CompressMode,
  CompressOptions,
  CompressOverrides,
  CompressResult,
  FallbackResult,
  RetrievedMatches,
  RetrievedOriginal,
  RetrieveOptions,
} from "./types.js";
