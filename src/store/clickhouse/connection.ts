import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { ident } from "./sql.js";

export interface Connection {
  client: ClickHouseClient;
  database: string;
}

/**
 * A client for `http[s]://[user[:password]@]host:port/database`. The client itself stays on the server's default
 * database and every statement names its tables in full: the database may not exist yet when it connects.
 */
export function connect(url: string): Connection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError("ClickHouse URL: not a URL (expected http://[user:pass@]host:8123/database)");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError("ClickHouse URL: http or https only");
  const database = ident(decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, "")) || "crawldiag");
  const client = createClient({
    url: u.origin,
    username: u.username === "" ? "default" : decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    // 18.16 has neither async inserts nor JSONCompactEachRow: plain requests, JSONEachRow both ways.
    request_timeout: 60_000,
    compression: { request: false, response: false },
    // Failures reach the caller as errors, which decides what to log; the client's own log would say it again.
    log: { level: ClickHouseLogLevel.OFF },
  });
  return { client, database };
}
