/**
 * Route an `openai` or `@anthropic-ai/sdk` client through the Headroom proxy: its requests go to
 * the proxy, which compresses them and forwards them to the provider. Nothing is patched: the
 * SDK is simply given another base URL (and the proxy token as a default header).
 *
 *     const openai = withHeadroom(new OpenAI());                 // baseURL http://localhost:8787/v1
 *     const claude = withHeadroom(new Anthropic());              // baseURL http://localhost:8787
 *     const openai2 = new OpenAI({ ...openAIClientOptions() });  // the same, at construction
 *
 * The SDK keeps its own API key, sent to the provider as before; the proxy forwards to its
 * configured upstream (`--openai-upstream`, `--anthropic-upstream`), not to the client's old
 * base URL. The proxy token travels in `x-headroom-proxy-token`, which the proxy removes before
 * forwarding.
 */

import { HeadroomConfigError, isRecord } from "./errors.js";
import { resolveOptions } from "./options.js";
import { TOKEN_HEADER } from "./transport.js";

/** Where the proxy is, and its token; the same defaults as HeadroomClient (HEADROOM_BASE_URL, HEADROOM_API_KEY). */
export interface RouteOptions {
  baseUrl?: string;
  apiKey?: string;
}

/** Constructor options for an SDK client: spread them into `new OpenAI({...})` / `new Anthropic({...})`. */
export interface SdkClientOptions {
  baseURL: string;
  defaultHeaders: Record<string, string>;
}

/** A client of the `openai` or `@anthropic-ai/sdk` package (both have `withOptions`). */
export interface RoutableClient {
  withOptions(options: { baseURL?: string | null | undefined; defaultHeaders?: unknown }): unknown;
}

export type Provider = "openai" | "anthropic";

function route(options: RouteOptions, accepted = "baseUrl, apiKey"): { baseUrl: string; apiKey: string | null } {
  if (!isRecord(options)) throw new HeadroomConfigError("options", options, `an object with ${accepted}`);
  const unknown = Object.keys(options).find((name) => name !== "baseUrl" && name !== "apiKey");
  if (unknown !== undefined) throw new HeadroomConfigError(`option ${JSON.stringify(unknown)}`, options[unknown], accepted);
  const { baseUrl, apiKey } = resolveOptions({ baseUrl: options.baseUrl, apiKey: options.apiKey });
  return { baseUrl, apiKey };
}

function sdkOptions(provider: Provider, options: RouteOptions): SdkClientOptions {
  const { baseUrl, apiKey } = route(options);
  return {
    baseURL: provider === "openai" ? `${baseUrl}/v1` : baseUrl,
    defaultHeaders: apiKey === null ? {} : { [TOKEN_HEADER]: apiKey },
  };
}

/** Options for `new OpenAI({ apiKey, ...openAIClientOptions() })`: the proxy's `/v1` and its token. */
export function openAIClientOptions(options: RouteOptions = {}): SdkClientOptions {
  return sdkOptions("openai", options);
}

/** Options for `new Anthropic({ apiKey, ...anthropicClientOptions() })`: the proxy's base URL and its token. */
export function anthropicClientOptions(options: RouteOptions = {}): SdkClientOptions {
  return sdkOptions("anthropic", options);
}

function detectProvider(client: object): Provider {
  const { chat, messages } = client as { chat?: unknown; messages?: unknown };
  if (isRecord(chat) && "completions" in chat) return "openai";
  if (isRecord(messages) && typeof messages.create === "function") return "anthropic";
  throw new HeadroomConfigError(
    "provider",
    undefined,
    '"openai" or "anthropic": the client has neither chat.completions nor messages.create, so say which API it speaks',
  );
}

function isTokenHeader(name: unknown): boolean {
  return typeof name === "string" && name.toLowerCase() === TOKEN_HEADER;
}

/** The client's own default headers with the proxy token added (replacing any earlier one). */
function withToken(existing: unknown, token: string): unknown {
  if (existing === undefined || existing === null) return { [TOKEN_HEADER]: token };
  if (existing instanceof Headers) {
    const headers = new Headers(existing);
    headers.set(TOKEN_HEADER, token);
    return headers;
  }
  if (Array.isArray(existing)) {
    return [...existing.filter((pair) => !(Array.isArray(pair) && isTokenHeader(pair[0]))), [TOKEN_HEADER, token]];
  }
  if (isRecord(existing)) {
    const kept = Object.entries(existing).filter(([name]) => !isTokenHeader(name));
    return { ...Object.fromEntries(kept), [TOKEN_HEADER]: token };
  }
  throw new HeadroomConfigError("the client's defaultHeaders", existing, "a Headers object, an array of pairs or a plain object");
}

/**
 * A copy of `client` that sends its requests through the Headroom proxy (the original is left
 * as it was). The API is detected from the client (`chat.completions`: OpenAI, `messages.create`:
 * Anthropic) unless `provider` says it; the client's own default headers are kept.
 */
export function withHeadroom<C extends RoutableClient>(client: C, options: RouteOptions & { provider?: Provider } = {}): C {
  if (!isRecord(client) || typeof client.withOptions !== "function") {
    throw new HeadroomConfigError("client", client, "a client of the openai or @anthropic-ai/sdk package (it has withOptions)");
  }
  if (!isRecord(options)) throw new HeadroomConfigError("options", options, "an object with baseUrl, apiKey, provider");
  const { provider: given, ...where } = options;
  if (given !== undefined && given !== "openai" && given !== "anthropic") {
    throw new HeadroomConfigError("provider", given, '"openai" or "anthropic"');
  }
  const provider = given ?? detectProvider(client);
  const { baseUrl, apiKey } = route(where, "baseUrl, apiKey, provider");
  const baseURL = provider === "openai" ? `${baseUrl}/v1` : baseUrl;
  if (apiKey === null) return client.withOptions({ baseURL }) as C;
  const current = (client as { _options?: { defaultHeaders?: unknown } })._options?.defaultHeaders;
  return client.withOptions({ baseURL, defaultHeaders: withToken(current, apiKey) }) as C;
}
