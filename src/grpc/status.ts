import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { DomainError, type ErrorKind } from "../domain/errors.js";
import type { Logger } from "../log.js";

const CODES: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  unavailable: status.UNAVAILABLE,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  failed_precondition: status.FAILED_PRECONDITION,
};

/**
 * The one place where an error becomes a gRPC status. Domain errors carry a message meant for the client;
 * anything else is a bug or an outage: its details go to the log only, the client gets INTERNAL.
 */
export function toServiceError(err: unknown, method: string, log: Logger): Partial<ServiceError> {
  if (err instanceof DomainError) {
    if (err.cause !== undefined) log.error("storage error", { method, error: describe(err.cause) });
    const metadata = new Metadata();
    if (err.retryAfterMs !== undefined) metadata.set("retry-after-ms", String(err.retryAfterMs));
    return { code: CODES[err.kind], details: err.message, metadata };
  }
  log.error("internal error", { method, error: describe(err) });
  return { code: status.INTERNAL, details: "internal error; it has been logged" };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err);
}
