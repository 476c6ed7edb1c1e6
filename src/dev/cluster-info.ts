// What `npm run dev:cluster` checks before starting and what it prints once the cluster is up.
import { existsSync } from "node:fs";

/** Each program the cluster runs, where Debian puts it, and the package to install when it is missing. */
const REQUIREMENTS = [
  {
    what: "ClickHouse",
    paths: ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"],
    pkg: "clickhouse-server",
  },
  { what: "ZooKeeper", paths: ["/usr/share/java/zookeeper.jar"], pkg: "zookeeper" },
  // ZooKeeper's package pulls a JRE in; this only matters where the jar came without one.
  { what: "Java", paths: ["/usr/bin/java"], pkg: "default-jre-headless" },
  { what: "NATS", paths: ["/usr/sbin/nats-server", "/usr/bin/nats-server"], pkg: "nats-server" },
] as const;

/** The Debian packages to apt-get install before the cluster can start; empty when everything is there. */
export function missingPackages(exists: (path: string) => boolean = existsSync): string[] {
  return REQUIREMENTS.filter((r) => !r.paths.some((p) => exists(p))).map((r) => r.pkg);
}

export function missingMessage(packages: string[]): string {
  return (
    `dev:cluster: ${packages.join(", ")} ${packages.length === 1 ? "is" : "are"} not installed.\n` +
    `Install with: sudo apt-get install --no-install-recommends ${packages.join(" ")}\n`
  );
}

export interface ClusterInfo {
  /** One entry per crawldiag node. */
  nodes: { name: string; address: string; clickhouseUrl: string }[];
  clickhouseCluster: string;
  clickhouseHttp: string[];
  natsUrls: string[];
  natsReplicas: number;
  /** The one folder that holds every server's data, removed on exit. */
  dataDir: string;
}

/**
 * The "how to reach it" block. Its first line is what scripts (and test/dev-cluster.test.ts) wait for:
 * `dev cluster ready: node1 127.0.0.1:<port>, node2 127.0.0.1:<port>`.
 */
export function readyMessage(info: ClusterInfo): string {
  const [first, second] = info.nodes;
  const a = first?.address ?? "";
  const b = second?.address ?? a;
  const url = (address: string) => `http://${address}`;
  const lines = [
    `dev cluster ready: ${info.nodes.map((n) => `${n.name} ${n.address}`).join(", ")}`,
    "",
    "crawldiag nodes (gRPC, plaintext, no auth; roles ingest, query, writer):",
    ...info.nodes.map((n) => `  ${n.name}  ${n.address}   ClickHouse ${n.clickhouseUrl}`),
    `ClickHouse cluster ${info.clickhouseCluster} (2 shards, Replicated tables, ZooKeeper), HTTP, user default:`,
    ...info.clickhouseHttp.map((u) => `  ${u}`),
    `NATS JetStream (${info.natsUrls.length} node(s), stream replicas ${info.natsReplicas}):`,
    `  ${info.natsUrls.join(",")}`,
    `Data (removed on exit): ${info.dataDir}`,
    "",
    "Try (a batch sent to one node is read back from either once the writers have stored it):",
    `  npm run cli -- status --address ${a}`,
    `  npm run probe -- https://example.com/ https://www.example.com/ --report ${a}`,
    `  npm run cli -- import records.ndjson --address ${a}`,
    `  npm run report -- --all --address ${b}`,
    `  npm run cli -- host www.example.com --address ${b}`,
    `  npx buf curl --protocol grpc --http2-prior-knowledge --list-services ${url(a)}`,
    `  npx buf curl --protocol grpc --http2-prior-knowledge ${url(b)}/webmasterid.crawldiag.v1.StatusService/GetServiceStatus`,
    `  curl '${info.clickhouseHttp[0] ?? ""}/?query=SHOW+TABLES+FROM+crawldiag'`,
    "",
    "Node logs follow, each line prefixed with its node. Ctrl-C stops everything and removes the data.",
    "",
  ];
  return lines.join("\n");
}
