/**
 * The errors this client throws on purpose, one hierarchy under {@link HeadroomError}.
 *
 * - {@link HeadroomConfigError}: an option given to `new HeadroomClient()` (or read from
 *   `HEADROOM_BASE_URL` / `HEADROOM_API_KEY`) cannot be used; thrown at construction.
 * - {@link HeadroomInvalidArgumentError}: an argument of `compress` / `retrieve` has the wrong
 *   type (messages that are not an array, an empty key); thrown before anything is sent.
 * - {@link HeadroomConnectionError}: the proxy could not be reached or dropped the connection;
 *   {@link HeadroomTimeoutError} (a subclass, as in the OpenAI SDK) when it did not answer in time.
 * - {@link HeadroomHTTPError}: the proxy answered with an error status (`status`, `body`, and
 *   the `errorType` of its `{"error": {"type", "message"}}` answer).
 * - {@link HeadroomProtocolError}: the proxy answered 2xx with something that is not the
 *   Headroom API's answer (usually a `baseUrl` that points at another server).
 *
 * Errors that end a retried call carry `attempts`, the number of requests made.
 */

/** Base class of every error this client throws on purpose. */
export class HeadroomError extends Error {
  override name = "HeadroomError";
}

/** A client option is invalid; the message names the option and what is accepted. */
export class HeadroomConfigError extends HeadroomError {
  override name = "HeadroomConfigError";

  /** The option (or environment variable) that was wrong. */
  readonly option: string;

  constructor(option: string, value: unknown, accepted: string) {
    super(`invalid ${option}: ${describe(value)}; accepted: ${accepted}`);
    this.option = option;
  }
}

/** An argument of a call cannot be sent (wrong type or empty). */
export class HeadroomInvalidArgumentError extends HeadroomError {
  override name = "HeadroomInvalidArgumentError";
}

/** The proxy could not be reached, or the connection broke before a full answer arrived. */
export class HeadroomConnectionError extends HeadroomError {
  override name = "HeadroomConnectionError";

  /** How many requests were made before giving up. */
  readonly attempts: number;

  constructor(message: string, options: { attempts: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.attempts = options.attempts;
  }
}

/** The proxy did not answer within `timeout` milliseconds (on the last attempt). */
export class HeadroomTimeoutError extends HeadroomConnectionError {
  override name = "HeadroomTimeoutError";
}

/** The proxy answered with an error status. */
export class HeadroomHTTPError extends HeadroomError {
  override name = "HeadroomHTTPError";

  /** The HTTP status (401 without the proxy token, 400 for bad input, 404 for an unknown key, 5xx...). */
  readonly status: number;
  /** The body of the answer as text, as the proxy sent it. */
  readonly body: string;
  /** `error.type` of the proxy's JSON error (`invalid_request_error`, `not_found_error`, ...), if any. */
  readonly errorType: string | null;
  /** How many requests were made before giving up. */
  readonly attempts: number;

  constructor(status: number, body: string, attempts: number) {
    const parsed = parseError(body);
    super(`Headroom proxy answered ${status}${parsed.message ? `: ${parsed.message}` : ""}`);
    this.status = status;
    this.body = body;
    this.errorType = parsed.type;
    this.attempts = attempts;
  }
}

/** A 2xx answer that is not what the Headroom API returns (not JSON, or missing fields). */
export class HeadroomProtocolError extends HeadroomError {
  override name = "HeadroomProtocolError";
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== "object") return `${String(value)} (${typeof value})`;
  return Array.isArray(value) ? "an array" : "an object";
}

function parseError(body: string): { type: string | null; message: string | null } {
  try {
    const data: unknown = JSON.parse(body);
    if (isRecord(data) && isRecord(data.error)) {
      const { type, message } = data.error;
      return {
        type: typeof type === "string" ? type : null,
        message: typeof message === "string" ? message : null,
      };
    }
  } catch {
    // Not JSON: the status alone says what happened; the raw text stays in `body`.
  }
  return { type: null, message: null };
}

/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
