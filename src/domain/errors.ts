// Domain errors carry a kind, not a transport code: the transport maps kinds to gRPC statuses in one place.
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "unavailable"
  | "resource_exhausted"
  | "unauthenticated"
  | "permission_denied"
  | "failed_precondition";

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Delay a client should wait before retrying, for unavailable. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DomainError";
  }
}

/** A request-level fault in one field; the message names the field first. */
export function invalidArgument(field: string, reason: string): DomainError {
  return new DomainError("invalid_argument", `${field}: ${reason}`);
}
