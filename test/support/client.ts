import { type CallOptions, type Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { DiagnosisServiceClient } from "../../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { IngestServiceClient } from "../../src/gen/webmasterid/crawldiag/v1/ingest.js";

export interface Clients {
  ingest: IngestServiceClient;
  diagnosis: DiagnosisServiceClient;
  closeAll(): void;
}

export function connect(port: number): Clients {
  const target = `127.0.0.1:${port}`;
  const ingest = new IngestServiceClient(target, credentials.createInsecure());
  const diagnosis = new DiagnosisServiceClient(target, credentials.createInsecure());
  return {
    ingest,
    diagnosis,
    closeAll: () => {
      ingest.close();
      diagnosis.close();
    },
  };
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
type UnaryMethod<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: Callback<Res>) => unknown;

/** Promise form of a generated unary method: `await call(client.getHostStats, client, req)`. */
export function call<Req, Res>(
  method: UnaryMethod<Req, Res>,
  client: Client,
  req: Req,
  opts: Partial<CallOptions> = { deadline: Date.now() + 30_000 },
  md = new Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, req, md, opts, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** The error of a call expected to fail; throws if it succeeded. */
export async function callError<Req, Res>(
  method: UnaryMethod<Req, Res>,
  client: Client,
  req: Req,
): Promise<ServiceError> {
  try {
    await call(method, client, req);
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error("the call succeeded, an error was expected");
}
