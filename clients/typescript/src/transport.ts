/**
 * One call to the proxy's API: build the request, send it with a timeout, retry what is worth
 * retrying (see retry.ts), and turn every way it can fail into one of the client's errors.
 *
 * Each attempt has its own `timeout`, covering the answer's body as well as its headers.
 * The proxy token goes in `x-headroom-proxy-token`, never in `Authorization`, so it cannot be
 * mistaken for (or forwarded as) a provider key.
 */

import {
  HeadroomConnectionError,
  HeadroomError,
  HeadroomHTTPError,
  HeadroomProtocolError,
  HeadroomTimeoutError,
} from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import { delayBeforeRetry, isRetryableStatus, retryAfterMs, sleep } from "./retry.js";

/** The header the proxy reads its token from (HEADROOM_PROXY_TOKEN on the proxy's side). */
export const TOKEN_HEADER = "x-headroom-proxy-token";

/** A call of the proxy's own API: a POST of a JSON body. */
export interface ApiCall {
  /** Path below the base URL, e.g. `/v1/compress`. */
  readonly path: string;
  /** The JSON body, already serialised. */
  readonly body: string;
}

type Attempt =
  | { readonly kind: "answer"; readonly status: number; readonly headers: Headers; readonly text: string }
  | { readonly kind: "timeout" }
  | { readonly kind: "unreachable"; readonly cause: unknown };

/** What went wrong below fetch's "fetch failed": the socket error (ECONNREFUSED, ...) when there is one. */
function describeCause(cause: unknown): string {
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
  if (!(inner instanceof Error)) return String(inner);
  // Trying IPv6 and IPv4 in turn fails with an AggregateError whose own message is empty.
  const message = inner.message || (inner instanceof AggregateError ? inner.errors.map(String).join("; ") : inner.name);
  const code = (inner as { code?: unknown }).code;
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}

async function attempt(url: string, init: RequestInit, timeout: number): Promise<Attempt> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeout);
  try {
    const response = await fetch(url, { ...init, signal: controller.signal });
    const text = await response.text();
    return { kind: "answer", status: response.status, headers: response.headers, text };
  } catch (error) {
    return timedOut ? { kind: "timeout" } : { kind: "unreachable", cause: error };
  } finally {
    clearTimeout(timer);
  }
}

function failure(outcome: Attempt, url: string, options: ResolvedOptions, attempts: number): HeadroomError {
  const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
  switch (outcome.kind) {
    case "answer":
      return new HeadroomHTTPError(outcome.status, outcome.text, attempts);
    case "timeout":
      return new HeadroomTimeoutError(
        `the Headroom proxy at ${url} did not answer within ${options.timeout} ms${tries}`,
        { attempts },
      );
    case "unreachable":
      return new HeadroomConnectionError(
        `cannot reach the Headroom proxy at ${url}: ${describeCause(outcome.cause)}${tries}`,
        { attempts, cause: outcome.cause },
      );
  }
}

/**
 * Send `call` and return its JSON answer. Throws HeadroomHTTPError for an error status that is
 * not retried (or outlasts the retries), HeadroomTimeoutError / HeadroomConnectionError when the
 * last attempt got no answer, HeadroomProtocolError for a 2xx that is not JSON.
 */
export async function send(options: ResolvedOptions, call: ApiCall): Promise<unknown> {
  const url = `${options.baseUrl}${call.path}`;
  const headers: Record<string, string> = { accept: "application/json", "content-type": "application/json" };
  if (options.apiKey !== null) headers[TOKEN_HEADER] = options.apiKey;
  const init: RequestInit = { method: "POST", headers, body: call.body };
  for (let attempts = 1; ; attempts++) {
    const outcome = await attempt(url, init, options.timeout);
    if (outcome.kind === "answer" && outcome.status >= 200 && outcome.status < 300) {
      try {
        return JSON.parse(outcome.text) as unknown;
      } catch {
        throw new HeadroomProtocolError(
          `the server at ${url} answered ${outcome.status} with something that is not JSON: is baseUrl a Headroom proxy?`,
        );
      }
    }
    const error = failure(outcome, url, options, attempts);
    if (outcome.kind === "answer" && !isRetryableStatus(outcome.status)) throw error;
    if (attempts > options.retries) throw error;
    const delay = delayBeforeRetry(attempts - 1, outcome.kind === "answer" ? retryAfterMs(outcome.headers) : null);
    if (delay === null) throw error;
    await sleep(delay);
  }
}
