import { type Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type {
  IngestServiceClient,
  RecordFetchesRequest,
  RecordFetchesResponse,
} from "../gen/webmasterid/crawldiag/v1/ingest.js";
import { retryDelayMs, STATUS_DETAILS_KEY } from "./retry-info.js";

export interface RetryPolicy {
  /** Wait before the second attempt; it doubles after each failed attempt. */
  initialBackoffMs: number;
  /** Longest wait between attempts chosen by the client (a server's RetryInfo delay is honoured as given). */
  maxBackoffMs: number;
  /** Attempts per batch, the first included, before the batch is given up. */
  maxAttempts: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  maxAttempts: 12,
});

export interface SendOptions {
  retry: RetryPolicy;
  /** Deadline of one attempt. */
  deadlineMs: number;
  /** Metadata of each attempt (the authorization header, for instance). */
  metadata: () => Metadata;
  /** Told before each wait, so callers can count and log retries. */
  onRetry?: (info: { attempt: number; code: status; delayMs: number }) => void;
  random?: () => number;
}

/** A batch that was given up: the last error, and how many attempts were made. */
export class BatchError extends Error {
  override name = "BatchError";
  constructor(
    readonly code: status,
    readonly attempts: number,
    readonly requestId: string,
    options: { cause: unknown },
  ) {
    super(
      `${status[code] ?? code}: ${describe(options.cause)} (request ${requestId}, ${attempts} attempt(s))`,
      options,
    );
  }
}

/**
 * Sends one batch until it is answered, retrying with the same request_id so that a batch the server committed
 * before its answer was lost is replayed, not stored twice. A refused request (INVALID_ARGUMENT and the like)
 * fails at once: sending the same bytes again cannot succeed.
 */
export async function sendBatch(
  client: IngestServiceClient,
  request: RecordFetchesRequest,
  o: SendOptions,
): Promise<RecordFetchesResponse> {
  const random = o.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(client, request, o);
    } catch (e) {
      const err = e as ServiceError;
      const hinted = serverDelayMs(err);
      const retryable =
        err.code === status.UNAVAILABLE ||
        err.code === status.DEADLINE_EXCEEDED ||
        (err.code === status.RESOURCE_EXHAUSTED && hinted !== undefined);
      if (!retryable || attempt >= o.retry.maxAttempts) {
        throw new BatchError(err.code ?? status.UNKNOWN, attempt, request.requestId, { cause: err });
      }
      const delayMs = hinted ?? backoffMs(o.retry, attempt, random);
      o.onRetry?.({ attempt, code: err.code, delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Exponential backoff with "equal jitter": half the step is fixed, half random, so clients spread out. */
export function backoffMs(p: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(p.maxBackoffMs, p.initialBackoffMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** The delay the server asked for: a RetryInfo in the status details, else this service's retry-after-ms. */
export function serverDelayMs(err: Partial<ServiceError>): number | undefined {
  const md = err.metadata;
  if (md === undefined) return undefined;
  for (const value of md.get(STATUS_DETAILS_KEY)) {
    const ms = typeof value === "string" ? undefined : retryDelayMs(value);
    if (ms !== undefined) return ms;
  }
  const after = md.get("retry-after-ms")[0];
  const ms = typeof after === "string" && /^[0-9]{1,9}$/.test(after) ? Number(after) : undefined;
  return ms;
}

function once(
  client: IngestServiceClient,
  request: RecordFetchesRequest,
  o: SendOptions,
): Promise<RecordFetchesResponse> {
  return new Promise((resolve, reject) => {
    client.recordFetches(request, o.metadata(), { deadline: Date.now() + o.deadlineMs }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

function describe(e: unknown): string {
  if (e !== null && typeof e === "object" && "details" in e && typeof e.details === "string") return e.details;
  return e instanceof Error ? e.message : String(e);
}
