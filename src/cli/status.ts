import { callMetadata, statusClient } from "../client/channel.js";
import { GetServiceStatusResponse } from "../gen/webmasterid/crawldiag/v1/status.js";
import { connectionCredentials } from "./connection.js";
import type { ServerFlags } from "./rpc.js";

export interface StatusFlags extends ServerFlags {
  json?: boolean | undefined;
}

const DEADLINE_MS = 10_000;

/** `status`: the node's store, roles, and what waits to be stored. */
export async function status(flags: StatusFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const client = statusClient({ address: flags.address, credentials: connectionCredentials(flags) });
  try {
    const s = await new Promise<GetServiceStatusResponse>((resolve, reject) =>
      client.getServiceStatus({}, callMetadata(flags.token)(), { deadline: Date.now() + DEADLINE_MS }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
    if (flags.json) {
      out.write(`${JSON.stringify(GetServiceStatusResponse.toJSON(s))}\n`);
      return;
    }
    const reach = (ok: boolean) => (ok ? "reachable" : "UNREACHABLE");
    const lines = [
      ["store", `${s.store} ${s.location} (${reach(s.storeReachable)})`],
      ...(s.store === "sqlite" ? [] : [["log", `NATS JetStream (${reach(s.logReachable)})`]]),
      ["roles", s.roles.join(", ")],
      ...(s.storeBytes > 0 ? [["size", `${(s.storeBytes / 1024 / 1024).toFixed(1)} MiB`]] : []),
      [
        "backlog",
        `${s.backlogBatches} batches${s.backlogRecords > 0 ? `, ${s.backlogRecords} records` : ""} not yet stored`,
      ],
      ["writer lag", `${s.writerLagSeconds.toFixed(1)} s`],
    ];
    const width = Math.max(...lines.map(([k]) => (k ?? "").length));
    for (const [k, v] of lines) out.write(`${(k ?? "").padEnd(width)}  ${v}\n`);
  } finally {
    client.close();
  }
}
