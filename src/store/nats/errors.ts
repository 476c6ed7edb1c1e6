import { NatsError } from "nats";
import { DomainError } from "../../domain/errors.js";

/** How long a client should wait when the log is full: writers drain it in that time, or an operator sees it. */
export const FULL_RETRY_MS = 5000;
const STORE_FAILED = 10077;

/**
 * Any failure talking to NATS means "not known to be stored": the client retries with the same request_id,
 * and the request entry and claims make that retry count the batch once (ingest.ts).
 */
export function logError(e: unknown): DomainError {
  if (e instanceof DomainError) return e;
  if (e instanceof NatsError) {
    const api = e.api_error;
    if (api?.err_code === STORE_FAILED && /maximum (bytes|messages)/.test(api.description ?? "")) {
      return new DomainError(
        "unavailable",
        "the log is full, the writers are behind; nothing was stored, retry later with the same request_id",
        FULL_RETRY_MS,
        { cause: e },
      );
    }
    return new DomainError(
      "unavailable",
      "the log (NATS JetStream) did not answer; nothing is known to be stored, retry with the same request_id",
      1000,
      { cause: e },
    );
  }
  throw e;
}

/** A stream message or entry that is not there (JetStream answers 404). */
export function isNotFound(e: unknown): boolean {
  const x = e as { code?: string; api_error?: { code?: number } } | undefined;
  return x?.code === "404" || x?.api_error?.code === 404;
}
