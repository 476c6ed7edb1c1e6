import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, readConfig } from "../src/config.js";

const CH = "http://crawldiag:s3cret@127.0.0.1:18123/crawldiag";
const NATS = "nats://127.0.0.1:14222,nats://127.0.0.1:14223";

const refused = (env: Record<string, string>): string => {
  try {
    readConfig(env);
  } catch (e) {
    assert.instance(e, ConfigError);
    return (e as Error).message;
  }
  throw new Error("the configuration was accepted");
};

test("without ClickHouse and NATS URLs the service runs on its embedded SQLite store", () => {
  assert.is(readConfig({}).cluster, undefined);
});

test("the two URLs select cluster mode, with every role, one stream replica and no ClickHouse cluster", () => {
  const c = readConfig({ CRAWLDIAG_CLICKHOUSE_URL: CH, CRAWLDIAG_NATS_URL: NATS }).cluster;
  assert.ok(c);
  assert.is(c.clickhouseUrl, CH);
  assert.equal(c.natsUrls, ["nats://127.0.0.1:14222", "nats://127.0.0.1:14223"]);
  assert.equal([...c.roles], ["ingest", "query", "writer"]);
  assert.is(c.natsReplicas, 1);
  assert.is(c.clickhouseCluster, undefined);
  assert.is(c.replicated, false);
});

test("one URL without the other is a configuration error naming the missing variable", () => {
  assert.match(refused({ CRAWLDIAG_CLICKHOUSE_URL: CH }), /^CRAWLDIAG_NATS_URL: required/);
  assert.match(refused({ CRAWLDIAG_NATS_URL: NATS }), /^CRAWLDIAG_CLICKHOUSE_URL: required/);
});

test("a malformed ClickHouse URL is refused without echoing its password", () => {
  const message = refused({ CRAWLDIAG_CLICKHOUSE_URL: "ftp://u:s3cret@h/db", CRAWLDIAG_NATS_URL: NATS });
  assert.match(message, /^CRAWLDIAG_CLICKHOUSE_URL:/);
  assert.not.match(message, "s3cret");
});

test("roles, replicas, cluster name and replication are read and checked", () => {
  const both = { CRAWLDIAG_CLICKHOUSE_URL: CH, CRAWLDIAG_NATS_URL: NATS };
  const c = readConfig({
    ...both,
    CRAWLDIAG_ROLES: "writer, query",
    CRAWLDIAG_NATS_REPLICAS: "3",
    CRAWLDIAG_CLICKHOUSE_CLUSTER: "crawl",
    CRAWLDIAG_CLICKHOUSE_REPLICATED: "1",
  }).cluster;
  assert.equal([...(c?.roles ?? [])].sort(), ["query", "writer"]);
  assert.is(c?.natsReplicas, 3);
  assert.is(c?.clickhouseCluster, "crawl");
  assert.is(c?.replicated, true);
  assert.match(refused({ ...both, CRAWLDIAG_ROLES: "ingest,reader" }), /^CRAWLDIAG_ROLES: "reader" is not one of/);
  assert.match(refused({ ...both, CRAWLDIAG_NATS_REPLICAS: "0" }), /^CRAWLDIAG_NATS_REPLICAS:/);
  assert.match(refused({ ...both, CRAWLDIAG_CLICKHOUSE_REPLICATED: "1" }), /needs CRAWLDIAG_CLICKHOUSE_CLUSTER/);
  assert.match(refused({ ...both, CRAWLDIAG_CLICKHOUSE_CLUSTER: "a;b" }), /^CRAWLDIAG_CLICKHOUSE_CLUSTER:/);
  assert.match(refused({ ...both, CRAWLDIAG_NATS_URL: "http://x" }), /^CRAWLDIAG_NATS_URL:/);
});

test.run();
