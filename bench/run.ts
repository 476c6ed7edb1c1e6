/**
 * `npm run bench [-- --quick] [-- --inflight 8] [-- --profile] [-- --cluster [--split]]`: the real server in a child
 * process on a temp database (or, with --cluster, crawldiag nodes on local ClickHouse and NATS servers), driven
 * from this process; see bench/README.md for what each figure means.
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TimeWindow } from "../src/gen/webmasterid/crawldiag/v1/diagnosis.js";
import { IngestPump, percentile, Queries } from "./client.js";
import { startClusterService } from "./cluster.js";
import { ROOT, serverScript, startProcess } from "./processes.js";
import type { QueryPlan } from "./query-loop.js";
import { type Service, startSqliteService } from "./service.js";
import { type Batch, DAY_MS, manyHosts, Workload } from "./workload.js";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(argv[i + 1]);
};
const quick = flag("quick");
const cluster = flag("cluster");
const topology = flag("split") ? "split" : "one";
const mode = cluster ? "cluster" : quick ? "quick" : "full";
const TOTAL = option("records", quick ? 1_000_000 : 10_000_000);
const TRANSPORT = Math.min(TOTAL, quick ? 300_000 : 1_000_000);
const MIXED = quick ? 200_000 : 1_000_000;
const QUERIES = quick ? 1000 : 2000;
const LISTS = 10;
// The point with about a million hosts fetched (almost all without 421s): a page must cost about the same.
const MANY_HOSTS = quick ? 100_000 : 1_000_000;
const RTT_CALLS = 1000;
const IN_FLIGHT = option("inflight", 8);
const BATCH = 1000;
// Generated ahead of sending, in chunks, so that encoding never competes with the server for the CPU.
const CHUNK = 1_000_000;
// The stream covers 20 days ending now; queries ask for the last 2 days loaded. At a tenth of the load the stream
// has covered exactly 2 days, so both query points see the same traffic in their window: growth between them
// is the cost of everything else stored.
const SPAN_MS = 20 * DAY_MS;
const WINDOW_MS = SPAN_MS / 10;

const run = Date.now().toString(36);
const endMs = Date.now() - 3_600_000;
const startMs = endMs - SPAN_MS;
const work = new Workload(TOTAL, startMs, SPAN_MS, BATCH, `b${run}`);
const tenthEnd = work.timeAt(TOTAL / 10);
const tenthHosts = work.watch(tenthEnd - WINDOW_MS, tenthEnd);
const fullHosts = work.watch(endMs - WINDOW_MS, endMs);
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

let pending: Batch[] = [];
/** The next `count` records of the stream, generated as needed. */
function take(count: number): Batch[] {
  while (pending.reduce((n, b) => n + b.records, 0) < count && work.produced < TOTAL) {
    pending.push(...work.next(Math.min(CHUNK, TOTAL - work.produced)));
  }
  const out: Batch[] = [];
  let n = 0;
  while (n < count && pending.length > 0) {
    const b = pending.shift() as Batch;
    out.push(b);
    n += b.records;
  }
  return out;
}

const windowOf = (end: number): TimeWindow => ({ startTime: new Date(end - WINDOW_MS), endTime: new Date(end) });

/** Starts a reporting job (bench/query-loop.ts) in its own process; `count` calls, or until stop() without. */
function reporter(port: number, hosts: Set<string>, end: number, count?: number) {
  if (hosts.size === 0) throw new Error("no host had a 421 in the query window");
  const child = fork(join(ROOT, "bench/query-loop.ts"), { execArgv: ["--import", "tsx"] });
  const next = () => new Promise<unknown>((resolve) => child.once("message", resolve));
  const plan: QueryPlan = {
    port,
    hosts: [...hosts].sort(),
    startMs: end - WINDOW_MS,
    endMs: end,
    dataStartMs: startMs,
    count,
  };
  const ready = count === undefined ? next() : Promise.resolve();
  child.send(plan);
  return {
    ready,
    latencies: async () => (await ready.then(next)) as number[],
    stop: () => child.send("stop"),
  };
}

/** Records/s through the transport-only server, and the latencies of empty calls to it. */
async function transportOnly(batches: Batch[]): Promise<{ rps: number; rtt: number[] }> {
  const transport = await startProcess("bench/transport-server.ts", {});
  const tp = new IngestPump(transport.port);
  const t = await tp.pump(batches, IN_FLIGHT);
  const rtt = await tp.roundTrips(RTT_CALLS);
  tp.close();
  await transport.stop();
  log(`transport: ${t.records} records in ${t.ms.toFixed(0)} ms`);
  return { rps: t.records / (t.ms / 1000), rtt };
}

const dir = mkdtempSync(join(tmpdir(), "crawldiag-bench-"));
const serverArgs = flag("profile") ? ["--cpu-prof", `--cpu-prof-dir=${join(ROOT, "bench/results")}`] : [];
let server: Service | undefined;
try {
  const script = serverScript(flag("tsx"), log);
  // 1. Transport ceiling, with the first records of the stream (then sent again to the real server). Measured
  // again at the end, and the better of the two counts: other load on the machine can only lower a figure.
  const head = take(TRANSPORT);
  const transportRuns = [await transportOnly(head)];

  // 2. The real service: a tenth of the load, queries, the rest, queries.
  server = cluster
    ? await startClusterService(script, topology, serverArgs, {})
    : await startSqliteService(script, dir, serverArgs);
  const svc = server;
  const pump = new IngestPump(svc.port);
  const queries = new Queries(svc.port);
  // ms: acknowledged (the pump's own time); drainMs: from each chunk's first batch until all of it is stored,
  // which for SQLite is the same thing. Chunks are generated while the service is idle, outside both.
  let loaded = { records: 0, accepted: 0, rejected: 0, ms: 0, drainMs: 0 };
  // CPU ms per process over the same spans, to tell where a record's cost goes.
  const cpu: Record<string, number> = {};
  const cpuNow = (): Record<string, number> => {
    const own = process.cpuUsage();
    return { client: (own.user + own.system) / 1000, ...svc.cpuMs() };
  };
  const load = async (batches: Batch[]) => {
    const started = performance.now();
    const cpuBefore = cpuNow();
    const r = await pump.pump(batches, IN_FLIGHT);
    await svc.settle();
    const drainMs = performance.now() - started;
    for (const [k, v] of Object.entries(cpuNow())) cpu[k] = (cpu[k] ?? 0) + v - (cpuBefore[k] ?? 0);
    loaded = {
      records: loaded.records + r.records,
      accepted: loaded.accepted + r.accepted,
      rejected: loaded.rejected + r.rejected,
      ms: loaded.ms + r.ms,
      drainMs: loaded.drainMs + drainMs,
    };
    const stored = cluster ? `, stored ${(r.records / (drainMs / 1000)).toFixed(0)}/s` : "";
    log(`loaded ${loaded.records} records (${(r.records / (r.ms / 1000)).toFixed(0)}/s${stored})`);
  };
  const tenth = TOTAL / 10;
  let cut = 0;
  for (let n = 0; cut < head.length && n < tenth; cut++) n += head[cut]?.records ?? 0;
  pending = [...head.slice(cut), ...pending];
  await load(head.slice(0, cut));
  if (loaded.records < tenth) await load(take(tenth - loaded.records));
  const tenthGets = await reporter(svc.port, tenthHosts, tenthEnd, QUERIES).latencies();
  while (loaded.records < TOTAL) await load(take(Math.min(CHUNK, TOTAL - loaded.records)));
  const perRecord = Object.entries(cpu).map(([k, ms]) => `${k} ${((ms * 1000) / loaded.records).toFixed(2)}`);
  log(`CPU µs per record, first batch sent to stored: ${perRecord.join(", ")}`);
  log(`server RSS after loading: ${svc.rssMb().toFixed(0)} MB (peak ${svc.peakRssMb().toFixed(0)})`);
  const fullGets = await reporter(svc.port, fullHosts, endMs, QUERIES).latencies();
  /** LISTS first pages of 1000: the first one alone (cold), and all of them. */
  const listPages = async (window: TimeWindow | undefined) => {
    const ms: number[] = [];
    let hosts = 0;
    for (let i = 0; i < LISTS; i++) {
      const r = await queries.listPage(window, 1000);
      ms.push(r.ms);
      hosts = r.hosts;
    }
    return { ms, hosts, cold: ms[0] ?? Number.NaN };
  };
  const lists = await listPages(undefined);
  const lists2d = await listPages(windowOf(endMs));

  log(`server RSS after queries: ${svc.rssMb().toFixed(0)} MB (peak ${svc.peakRssMb().toFixed(0)})`);
  // 3. Queries while ingest runs: more traffic in the last window, from a second stream, and a reporting job
  // in a process of its own.
  const more = new Workload(MIXED, endMs - WINDOW_MS, WINDOW_MS, BATCH, `m${run}`, 7).next(MIXED);
  const job = reporter(svc.port, fullHosts, endMs);
  await job.ready;
  const mixedLatencies = job.latencies();
  const mixed = await pump.pump(more, IN_FLIGHT);
  job.stop();
  const mixedGets = await mixedLatencies;
  await svc.settle();
  // Size and memory of the workload proper, before the point below adds a million single-fetch hosts.
  const stored = loaded.accepted + mixed.accepted;
  const disk = await svc.storedBytes();
  const bytes = disk.store + disk.log;
  const rssMb = svc.peakRssMb();
  // A page right after each of LISTS writes of one batch (last window, stored before the page): what a reporting
  // job paging during ingest pays, as the diagnoses of the hosts a write touched are computed again. After the
  // figures above, which it would change (the peak RSS by 10% on SQLite).
  const small = new Workload(LISTS * BATCH, endMs - WINDOW_MS, WINDOW_MS, BATCH, `w${run}`, 11).next(LISTS * BATCH);
  const afterWrite: number[] = [];
  let smallRejected = 0;
  for (const batch of small) {
    smallRejected += (await pump.pump([batch], 1)).rejected;
    await svc.settle();
    afterWrite.push((await queries.listPage(undefined, 1000)).ms);
  }
  // 4. About a million more hosts, none with a 421, then the same page again.
  const many = await pump.pump(manyHosts(MANY_HOSTS, endMs, `h${run}`, BATCH), IN_FLIGHT);
  await svc.settle();
  log(`loaded ${many.records} records of as many hosts`);
  const listsMany = await listPages(undefined);
  const rssManyMb = svc.peakRssMb();
  const serversRss = svc.serversRssMb();
  pump.close();
  queries.close();
  await svc.stop();
  server = undefined;
  const rejected = loaded.rejected + mixed.rejected + smallRejected + many.rejected;
  if (rejected > 0) log(`warning: ${rejected} records rejected`);
  transportRuns.push(await transportOnly(head));
  const best = transportRuns.reduce((a, b) => (b.rps > a.rps ? b : a));
  const transportRps = best.rps;
  const rtt = best.rtt;

  const round = (x: number, digits = 3) => Number(x.toFixed(digits));
  const ingestRps = loaded.records / (loaded.ms / 1000);
  const drainRps = loaded.records / (loaded.drainMs / 1000);
  const result = {
    mode,
    ...(cluster ? { topology } : {}),
    records: stored,
    transport_rps: Math.round(transportRps),
    ingest_rps: Math.round(ingestRps),
    ...(cluster ? { drain_rps: Math.round(drainRps) } : {}),
    ingest_ratio: round(ingestRps / transportRps),
    get_p50_ms: round(percentile(fullGets, 50)),
    get_p99_ms: round(percentile(fullGets, 99)),
    list_p50_ms: round(percentile(lists.ms, 50)),
    list_2d_p50_ms: round(percentile(lists2d.ms, 50)),
    list_1m_hosts_p50_ms: round(percentile(listsMany.ms, 50)),
    list_cold_ms: round(lists.cold),
    list_after_write_p50_ms: round(percentile(afterWrite, 50)),
    empty_call_p99_ms: round(percentile(rtt, 99)),
    get_growth: round(percentile(fullGets, 50) / percentile(tenthGets, 50)),
    mixed_get_p99_ms: round(percentile(mixedGets, 99)),
    mixed_ingest_rps: Math.round(mixed.records / (mixed.ms / 1000)),
    rss_mb: round(rssMb, 1),
    rss_1m_hosts_mb: round(rssManyMb, 1),
    ...Object.fromEntries(Object.entries(serversRss).map(([name, mb]) => [rssKey(name), round(mb, 1)])),
    bytes_per_record: round(bytes / stored, 2),
  };
  const stores = cluster
    ? `ClickHouse parts ${(disk.store / 2 ** 20).toFixed(1)} MiB + JetStream ${(disk.log / 2 ** 20).toFixed(1)} MiB`
    : `(db + WAL) ${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const notes: Record<string, string> = {
    mode: cluster
      ? `nodes: node ${script}, ${topology === "one" ? "one with every role" : "ingest,query + writer"}; ClickHouse, NATS`
      : `server: node ${script}, CRAWLDIAG_SYNC=FULL`,
    transport_rps: `records/s, decode + acknowledge only, ${IN_FLIGHT} calls in flight; best of ${transportRuns
      .map((r) => r.rps.toFixed(0))
      .join(" and ")}`,
    ingest_rps: cluster
      ? `records/s acknowledged (in the log) (${loaded.records} records, batches of ${BATCH})`
      : `records/s into SQLite (${loaded.records} records, batches of ${BATCH})`,
    drain_rps: "records/s stored in ClickHouse: per chunk, first batch sent to backlog 0 (see README)",
    get_p50_ms: `GetHostDiagnosis, ${fullHosts.size} hosts with 421s, 2-day window`,
    get_p99_ms: `(an empty call's round trip: p50 ${percentile(rtt, 50).toFixed(3)}, p99 ${percentile(rtt, 99).toFixed(3)} ms)`,
    get_growth: `p50 at ${stored} records / p50 at ${tenth} (${percentile(tenthGets, 50).toFixed(3)} ms)`,
    list_p50_ms: `ListHostDiagnoses, default 30-day window, page of ${lists.hosts} (${LISTS} calls)`,
    list_2d_p50_ms: `the same on a 2-day window, page of ${lists2d.hosts} (first call ${lists2d.cold.toFixed(1)} ms)`,
    list_1m_hosts_p50_ms: `the same after ${MANY_HOSTS} more hosts, page of ${listsMany.hosts} (first call ${listsMany.cold.toFixed(1)} ms)`,
    list_cold_ms: "the first of the default-window calls",
    list_after_write_p50_ms: `the default-window page right after a write of ${BATCH} records, stored first (${LISTS} writes)`,
    empty_call_p99_ms: "an RPC that does nothing (transport-only server), same run",
    mixed_get_p99_ms: `${mixedGets.length} GetHostDiagnosis calls during ingest of ${MIXED} records`,
    rss_mb: `${cluster ? "crawldiag nodes'" : "server"} peak RSS (VmHWM), before the million-host point`,
    clickhouse_rss_mb: "ClickHouse peak RSS, whole run",
    nats_rss_mb: "nats-server peak RSS, whole run",
    rss_1m_hosts_mb: `the same after ${MANY_HOSTS} more hosts`,
    bytes_per_record: `${stores} / records stored`,
  };
  for (const [k, v] of Object.entries(result)) {
    process.stdout.write(`${k.padEnd(18)} ${String(v).padStart(12)}  ${notes[k] ?? ""}\n`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** "clickhouse-server" → "clickhouse_rss_mb". */
function rssKey(program: string): string {
  return `${program.replace(/-server$/, "")}_rss_mb`;
}
