import { invalidArgument } from "./errors.js";
import { Artifact } from "./fetch-kind.js";
import { compareKeys, decodeToken, encodeToken, fingerprint, pageSize, takePage } from "./page-token.js";
import type { ReadStore } from "./read-store.js";
import { resolveWindow, type WindowInput } from "./window.js";

const MAX_EXAMPLE_HOSTS = 5;
const CRAWLER = /^[A-Za-z0-9._:/-]{1,64}$/;

/** What a crawler should change, per reason. */
export const ALERT_EXPLANATION: Record<number, string> = {
  [Artifact.NO_SNI]:
    "Send SNI: open every TLS connection with the host name as server_name (Apache since 2.4.64 answers 421 without it).",
  [Artifact.IP_LITERAL_SNI]:
    "Send the host name, not an IP address, as SNI: RFC 6066 forbids IP literals in server_name.",
  [Artifact.TRAILING_DOT_SNI]:
    "Strip the trailing dot from the host name before using it as SNI (RFC 6066 section 3): with `name.` as SNI a server picks its default vhost, not the one Host names.",
  [Artifact.HTTP1_CROSS_HOST]:
    "Do not reuse HTTP/1.1 connections across host names: open one per host, with SNI = host.",
  [Artifact.CERTIFICATE_MISMATCH]:
    "Coalesce only onto connections whose certificate covers the new host (RFC 9113 section 9.1.1).",
};

export interface AlertsQuery {
  window?: WindowInput | undefined;
  crawler: string;
  pageSize: number;
  pageToken: string;
}

export interface CrawlerAlert {
  crawler: string;
  reason: number;
  count: number;
  exampleHosts: string[];
  firstSeen: Date;
  lastSeen: Date;
  explanation: string;
}

const sortKey = (a: CrawlerAlert): (string | number)[] => [-a.count, a.crawler, a.reason];

/** Client-artifact 421s per crawler and reason, most first. */
export async function listAlerts(store: ReadStore, q: AlertsQuery, nowMs: number, defaultDays: number) {
  const size = pageSize(q.pageSize);
  if (q.crawler !== "" && !CRAWLER.test(q.crawler)) {
    throw invalidArgument("crawler", "1-64 characters of A-Z a-z 0-9 . _ : / -");
  }
  const filters = fingerprint({
    w: [q.window?.startTime?.getTime() ?? null, q.window?.endTime?.getTime() ?? null],
    c: q.crawler,
  });
  const state = q.pageToken === "" ? undefined : decodeToken(q.pageToken, filters);
  const window = state?.window ?? resolveWindow(q.window, nowMs, defaultDays);
  const groups = new Map<string, CrawlerAlert & { hosts: { host: string; count: number }[] }>();
  for (const row of await store.alertRows(window)) {
    if (q.crawler !== "" && row.crawler !== q.crawler) continue;
    const key = `${row.crawler}\n${row.artifact}`;
    const g = groups.get(key) ?? {
      crawler: row.crawler,
      reason: row.artifact,
      count: 0,
      exampleHosts: [],
      firstSeen: new Date(row.first_ms),
      lastSeen: new Date(row.last_ms),
      explanation: ALERT_EXPLANATION[row.artifact] ?? "",
      hosts: [],
    };
    g.count += row.count;
    g.hosts.push({ host: row.host, count: row.count });
    if (row.first_ms < g.firstSeen.getTime()) g.firstSeen = new Date(row.first_ms);
    if (row.last_ms > g.lastSeen.getTime()) g.lastSeen = new Date(row.last_ms);
    groups.set(key, g);
  }
  const alerts: CrawlerAlert[] = [...groups.values()]
    .map(({ hosts, ...alert }) => ({
      ...alert,
      exampleHosts: hosts
        .sort((a, b) => b.count - a.count || (a.host < b.host ? -1 : 1))
        .slice(0, MAX_EXAMPLE_HOSTS)
        .map((h) => h.host),
    }))
    .sort((a, b) => compareKeys(sortKey(a), sortKey(b)));
  const { page, next } = takePage(alerts, sortKey, state?.after ?? [], size);
  return { alerts: page, nextPageToken: next === undefined ? "" : encodeToken({ filters, window, after: next }) };
}
