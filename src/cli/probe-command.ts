import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { readFileSync } from "node:fs";
import type { LookupFunction } from "node:net";
import { rootCertificates } from "node:tls";
import { createReporter, type Reporter } from "../client/reporter.js";
import { FetchRecord, HttpProtocol } from "../gen/webmasterid/crawldiag/v1/fetch.js";
import { DEFAULT_CRAWLER, type ProbeFetch, probe } from "../probe/probe.js";
import { connectionCredentials, reportTls } from "./connection.js";
import { paint, useColour } from "./format.js";

export interface ProbeFlags {
  /** Address of a crawldiag server to report the records to. */
  report?: string | undefined;
  token?: string | undefined;
  /** TLS to the --report server (connection.ts); --ca is the probe's own, for the sites it fetches. */
  reportTls?: boolean | undefined;
  reportCa?: string | undefined;
  reportCert?: string | undefined;
  reportKey?: string | undefined;
  repeat: number;
  crawler?: string | undefined;
  concurrency: number;
  timeout: number;
  /** PEM file of an extra CA to trust. */
  ca?: string | undefined;
  /** "name:address[,address...]" entries that bypass DNS; repetitions rotate through the addresses. */
  resolve?: string[] | undefined;
  json?: boolean | undefined;
}

interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

/** `probe <url>...`: one line per fetch; with --report, the records go to a crawldiag server. Exit 1 on errors. */
export async function probeCommand(urls: string[], flags: ProbeFlags, io: Io): Promise<number> {
  const colour = useColour(io.out);
  let failures = 0;
  let reporter: Reporter | undefined;
  if (flags.report !== undefined) {
    reporter = createReporter({
      address: flags.report,
      credentials: connectionCredentials(reportTls(flags)),
      token: flags.token,
      crawler: flags.crawler ?? DEFAULT_CRAWLER,
      onRejected: (rejected) => {
        for (const r of rejected) io.err.write(`refused by crawldiag: ${r.record.fetchId}: ${r.field}: ${r.reason}\n`);
      },
    });
  }
  const pins = pinTable(flags.resolve ?? []);
  const options = {
    ca: flags.ca === undefined ? undefined : [...rootCertificates, readFileSync(flags.ca, "utf8")],
    concurrency: flags.concurrency,
    timeoutMs: flags.timeout,
    crawler: flags.crawler,
  };
  try {
    for (let run = 0; run < flags.repeat; run++) {
      const fetches = await probe(urls, {
        ...options,
        lookup: pinned(pins, run),
        onFetch: (f) => {
          if (f.record === undefined) failures++;
          if (flags.json && f.record !== undefined) io.out.write(`${JSON.stringify(FetchRecord.toJSON(f.record))}\n`);
          else if (flags.json) io.err.write(`${f.url}: ${f.error}\n`);
          else io.out.write(`${line(f, colour)}\n`);
        },
      });
      for (const f of fetches) if (f.record !== undefined) await reporter?.report(f.record);
    }
  } finally {
    await reporter?.close();
  }
  if (reporter !== undefined) {
    const s = reporter.stats();
    io.err.write(`reported ${s.reported} records to ${flags.report}: ${s.accepted} stored, ${s.rejected} refused\n`);
    if (s.rejected > 0 || s.failed > 0) failures++;
  }
  return failures > 0 ? 1 : 0;
}

const PROTOCOLS: Record<number, string> = {
  [HttpProtocol.HTTP_PROTOCOL_HTTP1]: "h1",
  [HttpProtocol.HTTP_PROTOCOL_HTTP2]: "h2",
};

/** host, protocol, status, SNI, coalesced or own connection, retry link; then where it went. */
export function line(f: ProbeFetch, colour: boolean): string {
  const retry = f.retryOf === "" ? "" : `  retry-of=${f.retryOf}`;
  if (f.record === undefined) return `${f.host || f.url}  ${paint("error", "red", colour)}  ${f.error ?? ""}${retry}`;
  const r = f.record;
  const c = r.connection;
  const status = String(r.statusCode);
  const style = r.statusCode === 421 ? "red" : r.statusCode < 400 ? "green" : "yellow";
  return [
    f.host,
    PROTOCOLS[r.protocol] ?? "?",
    paint(status, style, colour),
    `sni=${c?.tlsServerName || "-"}`,
    f.coalesced ? paint("coalesced", "yellow", colour) : "own",
    `addr=${c?.remoteAddress ?? "-"}`,
    `conn=${c?.connectionId ?? "-"}#${c?.requestIndex ?? "-"}`,
  ]
    .join("  ")
    .concat(retry);
}

/** The --resolve entries by name, which is compared without case and trailing dot, as DNS does. */
function pinTable(entries: string[]): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const e of entries) {
    const at = e.indexOf(":");
    if (at <= 0) throw new Error(`--resolve ${e}: expected name:address[,address...]`);
    table.set(bare(e.slice(0, at)), e.slice(at + 1).split(","));
  }
  return table;
}

const bare = (name: string) => name.toLowerCase().replace(/\.$/, "");

/**
 * A lookup answering the --resolve names itself (like curl's --resolve) and asking DNS for the rest. Repetition
 * `run` starts at the run-th address, as round-robin DNS would: the probe connects to the first address that
 * accepts, so without rotation a fault at any later address would never be reached.
 */
function pinned(table: Map<string, string[]>, run: number): LookupFunction | undefined {
  if (table.size === 0) return undefined;
  return (hostname, options, callback) => {
    const pins = table.get(bare(hostname));
    if (pins === undefined) return dnsLookup(hostname, options, callback as never);
    const turn = run % pins.length;
    const all: LookupAddress[] = [...pins.slice(turn), ...pins.slice(0, turn)].map((address) => ({
      address,
      family: address.includes(":") ? 6 : 4,
    }));
    if (options.all) callback(null, all);
    else callback(null, all[0]?.address ?? "", all[0]?.family);
  };
}
