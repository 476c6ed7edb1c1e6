import type { CallOptions, Metadata, ServiceError } from "@grpc/grpc-js";
import { callMetadata, diagnosisClient } from "../client/channel.js";
import type { DiagnosisServiceClient } from "../gen/webmasterid/crawldiag/v1/diagnosis.js";
import { type ConnectionFlags, connectionCredentials } from "./connection.js";

/** Flags every command that talks to a server shares (see connection.ts). */
export type ServerFlags = ConnectionFlags;

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: Callback<Res>) => unknown;

export interface Diagnosis {
  client: DiagnosisServiceClient;
  call<Req, Res>(method: Unary<Req, Res>, req: Req): Promise<Res>;
  close(): void;
}

const DEADLINE_MS = 60_000;

export function diagnosis(flags: ServerFlags): Diagnosis {
  const client = diagnosisClient({ address: flags.address, credentials: connectionCredentials(flags) });
  const metadata = callMetadata(flags.token);
  return {
    client,
    call: (method, req) =>
      new Promise((resolve, reject) =>
        method.call(client, req, metadata(), { deadline: Date.now() + DEADLINE_MS }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      ),
    close: () => client.close(),
  };
}

/** Every page of a paged list call, in order. */
export async function allPages<T>(
  page: (token: string) => Promise<{ items: T[]; next: string }>,
  each: (items: T[]) => void,
): Promise<void> {
  let token = "";
  do {
    const p = await page(token);
    each(p.items);
    token = p.next;
  } while (token !== "");
}
