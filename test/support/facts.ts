import type { AddressTraffic, DetailFetch, HostFacts, Window } from "../../src/domain/diagnosis.js";
import { type Fetch, isRefused, MISDIRECTED, REFUSAL_STATUSES } from "../../src/domain/fetch.js";
import { ConnKind } from "../../src/domain/fetch-kind.js";
import { type FetchRecordInput, validateRecord } from "../../src/domain/validate.js";
import { HOUR_MS } from "../../src/domain/window.js";

/**
 * HostFacts of one host, built in memory the way the store fills them, so classifier tests need no database.
 * Invalid records are dropped, as ingest would refuse them; retention is off and "now" is the window's end.
 */
export function factsFromRecords(records: readonly FetchRecordInput[], host: string, window: Window): HostFacts {
  const all: Fetch[] = [];
  records.forEach((record, index) => {
    const v = validateRecord(record, index, { nowMs: window.endMs, oldestMs: 0 });
    if ("hostname" in v) all.push(v);
  });
  // Retries are looked up over every record of the crawler, whatever the host or time, like the store does.
  const retries = new Map<string, number[]>();
  for (const f of all) {
    if (f.retryOf === "") continue;
    const key = `${f.crawler}\n${f.retryOf}`;
    retries.set(key, [...(retries.get(key) ?? []), f.status]);
  }

  const inWindow = all.filter((f) => f.host === host && f.timeMs >= window.startMs && f.timeMs < window.endMs);
  const traffic = new Map<string, AddressTraffic>();
  let lastOwnAnsweredMs: number | undefined;
  const misdirected: DetailFetch[] = [];
  const refused: DetailFetch[] = [];
  for (const f of inWindow) {
    const a = traffic.get(f.address) ?? {
      address: f.address,
      ownFetches: 0,
      ownMisdirected: 0,
      ownRefused: 0,
      answered: 0,
    };
    traffic.set(f.address, a);
    if (f.status !== MISDIRECTED) a.answered++;
    if (f.kind === ConnKind.OWN) {
      a.ownFetches++;
      if (f.status === MISDIRECTED) a.ownMisdirected++;
      else lastOwnAnsweredMs = Math.max(lastOwnAnsweredMs ?? f.timeMs, f.timeMs);
      if (REFUSAL_STATUSES.has(f.status)) a.ownRefused++;
    }
    const retryStatuses = retries.get(`${f.crawler}\n${f.fetchId}`) ?? [];
    if (f.status === MISDIRECTED) misdirected.push(toDetail(f, retryStatuses));
    else if (isRefused(f)) refused.push(toDetail(f, retryStatuses));
  }
  return {
    host,
    window: { ...window },
    fetchCount: inWindow.length,
    misdirected,
    refused,
    traffic: [...traffic.values()],
    lastOwnAnsweredHourMs:
      lastOwnAnsweredMs === undefined ? undefined : Math.floor(lastOwnAnsweredMs / HOUR_MS) * HOUR_MS,
  };
}

function toDetail(f: Fetch, retryStatuses: number[]): DetailFetch {
  return {
    timeMs: f.timeMs,
    status: f.status,
    crawler: f.crawler,
    connectionId: f.connectionId,
    sni: f.sni,
    protocol: f.protocol,
    kind: f.kind,
    artifact: f.artifact,
    address: f.address,
    originFrame: f.originFrame,
    retryStatuses,
  };
}
