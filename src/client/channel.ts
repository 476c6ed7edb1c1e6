import { type ChannelCredentials, type ClientOptions, credentials, Metadata } from "@grpc/grpc-js";
import { DiagnosisServiceClient } from "../gen/webmasterid/crawldiag/v1/diagnosis.js";
import { IngestServiceClient } from "../gen/webmasterid/crawldiag/v1/ingest.js";
import { StatusServiceClient } from "../gen/webmasterid/crawldiag/v1/status.js";

export const DEFAULT_ADDRESS = "127.0.0.1:50051";

export interface ConnectOptions {
  /** host:port of a crawldiag server. */
  address: string;
  /** Channel credentials; plaintext when absent (loopback or a trusted network only). */
  credentials?: ChannelCredentials | undefined;
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string | undefined;
  /** Extra grpc-js channel options. */
  channelOptions?: Partial<ClientOptions> | undefined;
}

// grpc-js backs off reconnecting up to two minutes by default: a server restarted after a crash would stay
// unreachable long after it is back. The callers retry on their own, so the channel may try again sooner.
const CHANNEL_DEFAULTS: Partial<ClientOptions> = {
  "grpc.initial_reconnect_backoff_ms": 200,
  "grpc.max_reconnect_backoff_ms": 2_000,
};

/** Per-call metadata: the token travels as call metadata so it works with any channel credentials. */
export function callMetadata(token: string | undefined): () => Metadata {
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError("token must be printable ASCII without spaces");
  }
  return () => {
    const md = new Metadata();
    if (token !== undefined) md.set("authorization", `Bearer ${token}`);
    return md;
  };
}

function channelArgs(o: ConnectOptions): [string, ChannelCredentials, Partial<ClientOptions>] {
  return [o.address, o.credentials ?? credentials.createInsecure(), { ...CHANNEL_DEFAULTS, ...o.channelOptions }];
}

export function ingestClient(o: ConnectOptions): IngestServiceClient {
  return new IngestServiceClient(...channelArgs(o));
}

export function diagnosisClient(o: ConnectOptions): DiagnosisServiceClient {
  return new DiagnosisServiceClient(...channelArgs(o));
}

export function statusClient(o: ConnectOptions): StatusServiceClient {
  return new StatusServiceClient(...channelArgs(o));
}
