import type { DetailFetch, Window } from "../../domain/diagnosis.js";
import { isRefused, MISDIRECTED } from "../../domain/fetch.js";
import type { Artifact, ConnKind } from "../../domain/fetch-kind.js";
import type { HostDetail } from "../../domain/read-store.js";
import * as q from "./queries.js";

type Num = string | number;
interface Row {
  host: string;
  time_ms: Num;
  status: Num;
  crawler: string;
  fetch_id: string;
  connection_id: string;
  sni: string | null;
  protocol: Num;
  conn_kind: Num;
  artifact: Num;
  address: string;
  origin_frame: Num | null;
}
type Select = <T>(query: string) => Promise<T[]>;

/**
 * The 421s and refusals of some hosts in a window, by host name, each with its retries' statuses: two queries
 * whatever the number of hosts. A host whose rows were all 400/403 answers that are not refusals is there with
 * nothing in it (as SQLite's Reader.detailOf gives it).
 */
export async function detailsOf(
  select: Select,
  c: q.Ctx,
  hosts: q.HostFilter,
  w: Window,
  idOf: (host: string) => number,
): Promise<Map<string, HostDetail>> {
  const [rows, retries] = await Promise.all([
    select<Row>(q.detailRows(c, hosts, w)),
    select<{ crawler: string; retry_of: string; status: Num }>(q.retryRows(c, hosts, w)),
  ]);
  const statuses = new Map<string, number[]>();
  for (const r of retries) {
    const key = `${r.crawler}\n${r.retry_of}`;
    const list = statuses.get(key);
    if (list === undefined) statuses.set(key, [Number(r.status)]);
    else list.push(Number(r.status));
  }
  const out = new Map<string, HostDetail>();
  for (const r of rows) {
    let d = out.get(r.host);
    if (d === undefined) {
      d = { hostId: idOf(r.host), host: r.host, misdirected: [], refused: [] };
      out.set(r.host, d);
    }
    const status = Number(r.status);
    const kind = Number(r.conn_kind) as ConnKind;
    const artifact = Number(r.artifact) as Artifact;
    // Other 400/403 rows (own connections, artifacts) go, as in SQLite's reader.
    if (status !== MISDIRECTED && !isRefused({ status, kind, artifact })) continue;
    const f: DetailFetch = {
      timeMs: Number(r.time_ms),
      status,
      crawler: r.crawler,
      connectionId: r.connection_id,
      sni: r.sni ?? undefined,
      protocol: Number(r.protocol),
      kind,
      artifact,
      address: r.address,
      originFrame: r.origin_frame === null ? undefined : Number(r.origin_frame) === 1,
      retryStatuses: statuses.get(`${r.crawler}\n${r.fetch_id}`) ?? [],
    };
    (status === MISDIRECTED ? d.misdirected : d.refused).push(f);
  }
  return out;
}
