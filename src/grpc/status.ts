import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
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
    if (err.retryAfterMs !== undefined) {
      metadata.set("retry-after-ms", String(err.retryAfterMs));
      metadata.set("grpc-status-details-bin", retryDetails(CODES[err.kind], err.message, err.retryAfterMs));
    }
    return { code: CODES[err.kind], details: err.message, metadata };
  }
  log.error("internal error", { method, error: describe(err) });
  return { code: status.INTERNAL, details: "internal error; it has been logged" };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err);
}

const RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo";

/**
 * google.rpc.Status { code = 1, message = 2, details = 3: [Any { type_url = 1, value = 2: RetryInfo { retry_delay = 1:
 * Duration { seconds = 1, nanos = 2 } } }] }, the richer error model gRPC clients read from grpc-status-details-bin.
 * Written by hand: these are the only google.rpc messages the service sends, not worth generated code.
 */
export function retryDetails(code: number, message: string, retryAfterMs: number): Buffer {
  const ms = Math.max(0, Math.round(retryAfterMs));
  const duration = new BinaryWriter();
  if (ms >= 1000) duration.tag(1, WireType.Varint).int64(Math.floor(ms / 1000));
  if (ms % 1000 !== 0) duration.tag(2, WireType.Varint).int32((ms % 1000) * 1_000_000);
  const retryInfo = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(duration.finish()).finish();
  const any = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string(RETRY_INFO_TYPE)
    .tag(2, WireType.LengthDelimited)
    .bytes(retryInfo)
    .finish();
  const st = new BinaryWriter().tag(1, WireType.Varint).int32(code);
  st.tag(2, WireType.LengthDelimited).string(message).tag(3, WireType.LengthDelimited).bytes(any);
  return Buffer.from(st.finish());
}
