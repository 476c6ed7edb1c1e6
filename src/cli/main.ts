#!/usr/bin/env node
import type { ServiceError } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { Command, InvalidArgumentError, Option } from "commander";
import { serve } from "../serve.js";
import { alerts } from "./alerts.js";
import { address, addTlsOptions, token } from "./connection.js";
import { copyStore } from "./copy-store.js";
import { host } from "./host.js";
import { importFile } from "./import.js";
import { probeCommand } from "./probe-command.js";
import { report } from "./report.js";
import { status as statusCommand } from "./status.js";

const io = { out: process.stdout, err: process.stderr };

const whole = (min: number) => (raw: string) => {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}`);
  return n;
};

const program = new Command("crawldiag")
  .description("Diagnose recurring HTTP 421 Misdirected Request answers seen by crawler fleets.")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command("serve")
  .description("run the crawldiag gRPC service (configured by CRAWLDIAG_* environment variables)")
  .action(serve);

program
  .command("report")
  .description(
    "list the hosts that need action, most severe first: mixed, virtual-host, edge-routing, coalescing-refused, " +
      "connection-coalescing (for the webmaster to fix) and insufficient-evidence (for the crawler: report more " +
      "connection facts); hosts whose 421s do not recur only with --all",
  )
  .addOption(address())
  .addOption(token())
  .option("--suffix <domain>", "only this host and its subdomains")
  .option("--kind <kind...>", "only these kinds (virtual-host, edge-routing, not-recurring, ...), instead of the above")
  .option("--all", "also list not-recurring hosts (isolated or transient 421s)")
  .option("--include-resolved", "also list problems that have stopped")
  .option("--json", "one JSON object (proto3 JSON) per line")
  .action((flags) => report(flags));

program
  .command("host")
  .description("one host's diagnosis with its evidence, summary and remediation")
  .argument("<name>", "host, as in a URL (example.com, example.com:8443)")
  .addOption(address())
  .addOption(token())
  .option("--json", "the diagnosis as one JSON object")
  .action((name: string, flags) => host(name, flags));

program
  .command("alerts")
  .description("421s caused by how crawlers connected, per crawler and reason")
  .addOption(address())
  .addOption(token())
  .option("--crawler <id>", "only this crawler")
  .option("--json", "one JSON object per line")
  .action((flags) => alerts(flags));

program
  .command("status")
  .description(
    "the server's store, roles, the backlog not yet stored (in cluster mode: the log's) and the writers' lag",
  )
  .addOption(address())
  .addOption(token())
  .option("--json", "the status as one JSON object")
  .action((flags) => statusCommand(flags));

program
  .command("import")
  .description("send FetchRecords from a file (proto3 JSON, one per line); resumable, never counted twice")
  .argument("<file>", "NDJSON file")
  .addOption(address())
  .addOption(token())
  .option("--batch-size <lines>", "lines per batch", whole(1), 500)
  .option("--checkpoint <file>", "checkpoint file (default: <file>.checkpoint)")
  .option("--crawler <id>", "crawler id for records without one")
  .action(async (file: string, flags) => {
    process.exitCode = await importFile(file, flags, io);
  });

program
  .command("copy-store")
  .description(
    "copy the SQLite store's data into a cluster's ClickHouse; resumable, never counted twice, counts checked " +
      "at the end (stop the service first: the file is read as it is, and days it changes later are copied again)",
  )
  .addOption(
    new Option("--to <url>", "ClickHouse: http[s]://[user[:password]@]host:port/database")
      .env("CRAWLDIAG_CLICKHOUSE_URL")
      .makeOptionMandatory(),
  )
  .addOption(
    new Option("--db <path>", "the SQLite file, opened read-only").env("CRAWLDIAG_DB").default("data/crawldiag.db"),
  )
  .addOption(
    new Option("--cluster <name>", "a sharded ClickHouse: the cluster of its remote_servers").env(
      "CRAWLDIAG_CLICKHOUSE_CLUSTER",
    ),
  )
  .option("--replicated", "replicated tables (with --cluster), as CRAWLDIAG_CLICKHOUSE_REPLICATED=1")
  .addOption(
    new Option(
      "--nats <urls>",
      "the cluster's NATS (comma-separated): also copy the last 7 days' request_ids, so resent batches are " +
        "replays, and the (crawler, fetch_id) of every 421, refusal and retry, so a new batch resending one is " +
        "refused on fetch_id",
    ).env("CRAWLDIAG_NATS_URL"),
  )
  .addOption(new Option("--piece-rows <n>").argParser(whole(1)).default(50_000).hideHelp())
  .addHelpText(
    "after",
    "\nA password on the command line shows in `ps`: prefer CRAWLDIAG_CLICKHOUSE_URL. It is never printed.",
  )
  .action(async (flags) => {
    process.exitCode = await copyStore(flags, io);
  });

program
  .command("probe")
  .description("fetch URLs over HTTPS like a browser pools connections, and show what a crawler can observe")
  .argument("<url...>", "https URLs")
  .option("--report <host:port>", "send the records to this crawldiag server")
  .addOption(token())
  .option("--repeat <n>", "fetch the list this many times, on fresh connections each time", whole(1), 1)
  .option("--crawler <id>", "crawler id of the records", "crawldiag-probe")
  .option("--concurrency <n>", "fetches at once; a site's first URL still goes alone, its others after it", whole(1), 4)
  .option("--timeout <ms>", "longest wait for a connection or an answer", whole(1), 10_000)
  .option("--ca <file>", "also trust this CA certificate (PEM)")
  .option(
    "--resolve <name:address...>",
    "use these addresses for a name instead of DNS (name:addr[,addr]); " +
      "with --repeat, each repetition starts at the next address",
  )
  .option("--json", "the FetchRecords as JSON lines (ready for `import`)")
  .action(async (urls: string[], flags) => {
    process.exitCode = await probeCommand(urls, flags, io);
  });

addTlsOptions(program);

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`crawldiag: ${describe(e)}\n`);
  // A bad option found only when it is used (an unreadable --ca file) is a usage error, as commander's are.
  process.exit(e instanceof InvalidArgumentError ? 2 : 1);
});

function describe(e: unknown): string {
  const err = e as Partial<ServiceError>;
  if (typeof err.code === "number" && typeof err.details === "string") {
    return `${status[err.code] ?? err.code}: ${err.details}`;
  }
  return e instanceof Error ? e.message : String(e);
}
