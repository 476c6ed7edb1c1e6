import { rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { call, connect } from "./support/client.js";
import { type Batch, driveLoad, integrity, size, storedCount } from "./support/load.js";
import { Random } from "./support/random.js";
import { type ChildServer, spawnServer, tempDir } from "./support/server.js";

// Six rounds of SIGKILL, alternating CRAWLDIAG_SYNC=FULL and NORMAL (both must survive a process crash).
const SEED = 0xc4a5_4001;
const ROUNDS = 6;
const CLIENTS = 4;
// The kill comes right after a seeded number of acknowledgements, while the other clients' batches are in flight.
const MIN_ACKS_BEFORE_KILL = 3;
const MAX_ACKS_BEFORE_KILL = 30;
const MIN_RECORDS = 50;
const MAX_RECORDS = 800;

test("SIGKILL under load loses no acknowledged batch and half-stores none; resending the rest completes them", async () => {
  const dir = tempDir();
  const dbPath = join(dir, "crawldiag.db");
  const seeds = new Random(SEED);
  const all: Batch[] = [];
  const start = (round: number): Promise<ChildServer> =>
    spawnServer({ CRAWLDIAG_DB: dbPath, CRAWLDIAG_SYNC: round % 2 === 0 ? "FULL" : "NORMAL", CRAWLDIAG_LOG: "off" });

  /** After a restart: the file is sound, every acknowledged batch is there whole, the others whole or absent. */
  const verify = async (server: ChildServer, batches: Batch[], label: string) => {
    assert.is(integrity(dbPath), "ok", `${label}: integrity_check`);
    const c = connect(server.port);
    try {
      for (const b of batches) {
        const n = await storedCount(c, b);
        if (b.acked) assert.is(n, size(b), `${label}: acknowledged ${b.request.requestId} has ${n} of ${size(b)}`);
        else assert.ok(n === 0 || n === size(b), `${label}: ${b.request.requestId} half-stored (${n} of ${size(b)})`);
      }
    } finally {
      c.closeAll();
    }
  };

  let survived = 0;
  let inFlightCommitted = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const server = await start(round);
      if (round > 0) {
        await verify(server, all, `after round ${round - 1}`);
        survived++;
      }
      const killAt = seeds.int(MIN_ACKS_BEFORE_KILL, MAX_ACKS_BEFORE_KILL);
      const roundSeed = seeds.int(0, 2 ** 31);
      let killed = false;
      const batches = await driveLoad({
        port: server.port,
        clients: CLIENTS,
        random: (client) => new Random(roundSeed + client),
        tag: `k${round}`,
        minRecords: MIN_RECORDS,
        maxRecords: MAX_RECORDS,
        onAck: (acks) => {
          if (acks === killAt) {
            killed = true;
            server.child.kill("SIGKILL");
          }
        },
        stopped: () => killed,
      });
      assert.ok(killed, `round ${round}: the kill never came`);
      assert.is(await server.exited, "SIGKILL");
      all.push(...batches);
    }

    const server = await start(ROUNDS);
    await verify(server, all, `after round ${ROUNDS - 1}`);
    survived++;
    const c = connect(server.port);
    try {
      // Resending with the same request_id: a batch that committed unacknowledged is replayed, never doubled.
      for (const b of all.filter((x) => !x.acked)) {
        const before = await storedCount(c, b);
        const res = await call(c.ingest.recordFetches, c.ingest, b.request);
        assert.is(res.replayed, before === size(b), `${b.request.requestId}: replayed iff it had committed`);
        assert.is(res.acceptedCount, size(b));
        if (res.replayed) inFlightCommitted++;
      }
      for (const b of all) assert.is(await storedCount(c, b), size(b), b.request.requestId);
    } finally {
      c.closeAll();
      server.child.kill("SIGTERM");
    }
    assert.is(await server.exited, 0);
    const db = new Database(dbPath, { readonly: true });
    const total = Number(db.prepare("SELECT SUM(count) FROM fetch_hourly").pluck().get());
    db.close();
    assert.is(
      total,
      all.reduce((s, b) => s + size(b), 0),
      "the totals are exactly the sum of all batches",
    );
    const acked = all.filter((b) => b.acked).length;
    process.stdout.write(
      `  crash: ${survived} SIGKILL rounds survived with zero loss; ${all.length} batches, ${acked} acknowledged, ` +
        `${all.length - acked} resent (${inFlightCommitted} had committed unacknowledged), ${total} records\n`,
    );
    assert.is(survived, ROUNDS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
