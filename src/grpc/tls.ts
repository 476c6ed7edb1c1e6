import { ServerCredentials } from "@grpc/grpc-js";

/** PEM contents (not paths), read and checked by config.ts at start-up. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  clientCa: Buffer | undefined;
}

export function serverCredentials(tls: TlsMaterial | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.clientCa ?? null,
    [{ private_key: tls.key, cert_chain: tls.cert }],
    tls.clientCa !== undefined,
  );
}
