/**
 * The client's options: what a caller passes, what the environment supplies, and the checks
 * that make a bad value fail at construction instead of on the first request.
 *
 * Precedence, the first given wins: the option -> `HEADROOM_BASE_URL` / `HEADROOM_API_KEY` ->
 * the default. `baseUrl` is the proxy's own address (`http://localhost:8787`), optionally with a
 * path prefix when a reverse proxy mounts Headroom under one; never with `/v1`, which the client
 * appends to each call.
 */

import { HeadroomConfigError } from "./errors.js";

/** Options of `new HeadroomClient(options)`. */
export interface HeadroomClientOptions {
  /** Where the proxy listens. Default `HEADROOM_BASE_URL`, else `http://localhost:8787`. */
  baseUrl?: string;
  /** The proxy token, sent as `x-headroom-proxy-token`. Default `HEADROOM_API_KEY`, else none. */
  apiKey?: string;
  /** Milliseconds one request may take, from sending to the end of the answer. Default 30000. */
  timeout?: number;
  /** On a timeout, connection error, 5xx or 429 that outlasts the retries, `compress` returns
   * the original messages (`fallback: true` in the result) instead of throwing. Default true. */
  fallback?: boolean;
  /** Further attempts after a timeout, connection error, 5xx or 429. Default 2. */
  retries?: number;
}

/** The options after defaults, environment and checks. */
export interface ResolvedOptions {
  readonly baseUrl: string;
  readonly apiKey: string | null;
  readonly timeout: number;
  readonly fallback: boolean;
  readonly retries: number;
}

export const DEFAULT_BASE_URL = "http://localhost:8787";
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRIES = 2;
/** setTimeout fires at once for longer delays, so a longer timeout could never work. */
export const MAX_TIMEOUT_MS = 2_147_483_647;
/** More would keep a caller waiting minutes behind a proxy that is down. */
export const MAX_RETRIES = 10;

const KNOWN = new Set(["baseUrl", "apiKey", "timeout", "fallback", "retries"]);

/** The value of an environment variable, or undefined outside Node or when unset or empty. */
export function environment(name: string): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.[name];
  return value === undefined || value === "" ? undefined : value;
}

/**
 * The proxy's base URL without a trailing slash: http(s), a host, no query, fragment or
 * credentials, and no trailing `/v1` (the client adds `/v1/compress`, the SDK helpers `/v1`).
 */
export function parseBaseUrl(value: unknown, option = "baseUrl"): string {
  const accepted = "an http(s) URL of the Headroom proxy such as http://localhost:8787 (without /v1)";
  if (typeof value !== "string" || value.trim() === "") throw new HeadroomConfigError(option, value, accepted);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new HeadroomConfigError(option, value, accepted);
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.hostname === "" ||
    url.search !== "" ||
    url.hash !== "" ||
    url.username !== "" ||
    url.password !== "" ||
    /\/v1$/.test(path)
  ) {
    throw new HeadroomConfigError(option, value, accepted);
  }
  return `${url.origin}${path}`;
}

function parseApiKey(value: unknown, option: string): string | null {
  if (value === undefined) return null;
  // A header value: printable ASCII, no spaces at either end (HTTP would strip them).
  if (typeof value !== "string" || !/^[!-~](?:[ -~]*[!-~])?$/.test(value)) {
    throw new HeadroomConfigError(option, value, "printable ASCII without surrounding spaces (the proxy's HEADROOM_PROXY_TOKEN)");
  }
  return value;
}

function parseTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_TIMEOUT_MS) {
    throw new HeadroomConfigError("timeout", value, `milliseconds, a number above 0 and at most ${MAX_TIMEOUT_MS}`);
  }
  return value;
}

function parseRetries(value: unknown): number {
  if (value === undefined) return DEFAULT_RETRIES;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_RETRIES) {
    throw new HeadroomConfigError("retries", value, `a whole number from 0 to ${MAX_RETRIES}`);
  }
  return value;
}

function parseFallback(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== "boolean") throw new HeadroomConfigError("fallback", value, "true or false");
  return value;
}

/** Apply defaults and the environment to `options` and check every value. */
export function resolveOptions(options: unknown = {}): ResolvedOptions {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new HeadroomConfigError("options", options, `an object with ${[...KNOWN].join(", ")}`);
  }
  const given = options as Record<string, unknown>;
  const unknown = Object.keys(given).filter((name) => !KNOWN.has(name));
  if (unknown.length > 0) {
    throw new HeadroomConfigError(`option ${JSON.stringify(unknown[0])}`, given[unknown[0] as string], [...KNOWN].join(", "));
  }
  const envUrl = environment("HEADROOM_BASE_URL");
  const baseUrl =
    given.baseUrl !== undefined
      ? parseBaseUrl(given.baseUrl)
      : envUrl !== undefined
        ? parseBaseUrl(envUrl, "HEADROOM_BASE_URL")
        : DEFAULT_BASE_URL;
  const apiKey =
    given.apiKey !== undefined
      ? parseApiKey(given.apiKey, "apiKey")
      : parseApiKey(environment("HEADROOM_API_KEY"), "HEADROOM_API_KEY");
  return {
    baseUrl,
    apiKey,
    timeout: parseTimeout(given.timeout),
    fallback: parseFallback(given.fallback),
    retries: parseRetries(given.retries),
  };
}
