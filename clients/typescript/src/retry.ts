/**
 * When to try again, and how long to wait first.
 *
 * A request is retried after a timeout, a connection error, a 5xx or a 429; any other answer is
 * final. Before retry `n` (0 for the first) the client waits `retry-after-ms` / `retry-after`
 * when the answer names a wait of at most {@link MAX_RETRY_AFTER_MS}; a longer named wait ends
 * the retries (the caller gets the error, or its fallback, now rather than minutes later).
 * Without a named wait it backs off exponentially with jitter: half to all of
 * `min(BASE_DELAY_MS * 2 ** n, MAX_DELAY_MS)`, so clients that failed together do not come
 * back together.
 */

export const BASE_DELAY_MS = 500;
export const MAX_DELAY_MS = 8_000;
export const MAX_RETRY_AFTER_MS = 60_000;

/** True for the statuses worth another attempt: 429 and every 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** The backoff before retry `retry` (0-based): `random()` in [0, 1) picks the point in its band. */
export function backoffDelay(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BASE_DELAY_MS * 2 ** retry, MAX_DELAY_MS);
  return ceiling * (0.5 + random() / 2);
}

/**
 * The wait an answer asks for, in milliseconds, or null when it names none (or an unreadable one).
 * `retry-after-ms` (milliseconds) wins over `retry-after` (seconds, or an HTTP date).
 */
export function retryAfterMs(headers: { get(name: string): string | null }, now: number = Date.now()): number | null {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Number(ms);
  const value = headers.get("retry-after");
  if (value === null) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const date = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN; // an HTTP date names its day and month
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The wait before retry `retry`: the answer's named wait when there is one, else the backoff.
 * Null when the named wait is longer than {@link MAX_RETRY_AFTER_MS} (do not retry). */
export function delayBeforeRetry(retry: number, named: number | null, random: () => number = Math.random): number | null {
  if (named === null) return backoffDelay(retry, random);
  return named <= MAX_RETRY_AFTER_MS ? named : null;
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
