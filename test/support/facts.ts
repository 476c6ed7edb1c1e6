import type { HostFacts, Misdirected, OwnTraffic, Window } from "../../src/domain/diagnosis.js";
import { type Fetch, MISDIRECTED } from "../../src/domain/fetch.js";
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
  const own = new Map<string, OwnTraffic>();
  let lastOwnAnsweredMs: number | undefined;
  const misdirected: Misdirected[] = [];
  for (const f of inWindow) {
    if (f.kind === ConnKind.OWN) {
      const a = own.get(f.address) ?? { address: f.address, fetches: 0, misdirected: 0 };
      a.fetches++;
      if (f.status === MISDIRECTED) a.misdirected++;
      else lastOwnAnsweredMs = Math.max(lastOwnAnsweredMs ?? f.timeMs, f.timeMs);
      own.set(f.address, a);
    }
    if (f.status === MISDIRECTED) misdirected.push(toMisdirected(f, retries.get(`${f.crawler}\n${f.fetchId}`) ?? []));
  }
  return {
    host,
    window: { ...window },
    fetchCount: inWindow.length,
    misdirected,
    own: [...own.values()],
    lastOwnAnsweredHourMs:
      lastOwnAnsweredMs === undefined ? undefined : Math.floor(lastOwnAnsweredMs / HOUR_MS) * HOUR_MS,
  };
}

function toMisdirected(f: Fetch, retryStatuses: number[]): Misdirected {
  return {
    timeMs: f.timeMs,
    crawler: f.crawler,
    fetchId: f.fetchId,
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
