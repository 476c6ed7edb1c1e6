import type { Connection } from "./connection.js";

interface Entry {
  conn: Connection;
  /** The hostname the connection was opened for. */
  hostname: string;
  /** False for the fresh connection of a 421 retry: it serves its own host only. */
  shared: boolean;
}

export interface Pick {
  conn: Connection;
  coalesced: boolean;
}

/**
 * HTTP/2 connections open during one probe run, reused the way Chrome does: first a connection opened for the
 * same hostname and port; else, IP pooling, one to the same port whose address is among the host's DNS answers
 * and whose certificate covers the host. Hostnames come without a trailing dot (Target.hostname), so `b.example.`
 * and `b.example` find each other's connections as their own, never as coalesced.
 */
export class Pool {
  private entries: Entry[] = [];
  private readonly pending = new Map<string, Promise<Connection>>();

  find(hostname: string, port: number, addresses: readonly string[]): Pick | undefined {
    this.entries = this.entries.filter((e) => e.conn.alive());
    const own = this.entries.find((e) => e.hostname === hostname && e.conn.port === port);
    if (own !== undefined) return { conn: own.conn, coalesced: false };
    const peer = this.entries.find(
      (e) =>
        e.shared &&
        e.conn.sni !== "" &&
        e.conn.port === port &&
        addresses.includes(e.conn.address) &&
        e.conn.covers(hostname),
    );
    return peer === undefined ? undefined : { conn: peer.conn, coalesced: true };
  }

  /**
   * A connection of the host's own, opening it with `open` unless one is being opened already: concurrent
   * fetches of one host then share one HTTP/2 connection instead of racing to open several.
   */
  async own(hostname: string, port: number, open: () => Promise<Connection>): Promise<Connection> {
    const key = `${hostname}\n${port}`;
    const waiting = this.pending.get(key);
    if (waiting !== undefined) {
      const conn = await waiting.catch(() => undefined);
      if (conn?.protocol === "h2" && conn.alive()) return conn;
    }
    const opening = open();
    this.pending.set(key, opening);
    try {
      const conn = await opening;
      this.add(conn, hostname, true);
      return conn;
    } finally {
      if (this.pending.get(key) === opening) this.pending.delete(key);
    }
  }

  /** Keeps an HTTP/2 connection for reuse; `shared` = false keeps it for its own host only. */
  add(conn: Connection, hostname: string, shared: boolean): void {
    if (conn.protocol === "h2") this.entries.push({ conn, hostname, shared });
  }

  closeAll(): void {
    for (const e of this.entries) e.conn.close();
    this.entries = [];
  }
}
