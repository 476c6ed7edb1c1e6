import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "./support/client.js";
import { driveLoad, integrity, size, storedCount } from "./support/load.js";
import { Random } from "./support/random.js";
import { spawnServer, tempDir } from "./support/server.js";

// Two runs (FULL, NORMAL); SIGTERM comes right after a seeded number of acknowledgements.
const SEED = 0x7e4a_0002;
const CLIENTS = 4;
const MIN_ACKS_BEFORE_TERM = 3;
const MAX_ACKS_BEFORE_TERM = 20;
const MIN_RECORDS = 200;
const MAX_RECORDS = 2000;

for (const sync of ["FULL", "NORMAL"] as const) {
  test(`SIGTERM under load (${sync}): in-flight batches finish or are refused, none half-stored; exit 0`, async () => {
    const dir = tempDir();
    const dbPath = join(dir, "crawldiag.db");
    const seeds = new Random(SEED + (sync === "FULL" ? 0 : 1));
    const env = { CRAWLDIAG_DB: dbPath, CRAWLDIAG_SYNC: sync, CRAWLDIAG_LOG: "off" };
    try {
      const server = await spawnServer(env);
      const termAt = seeds.int(MIN_ACKS_BEFORE_TERM, MAX_ACKS_BEFORE_TERM);
      let termed = false;
      const batches = await driveLoad({
        port: server.port,
        clients: CLIENTS,
        random: (client) => new Random(seeds.int(0, 2 ** 31) + client),
        tag: `t-${sync.toLowerCase()}`,
        minRecords: MIN_RECORDS,
        maxRecords: MAX_RECORDS,
        onAck: (acks) => {
          if (acks === termAt) {
            termed = true;
            server.child.kill("SIGTERM");
          }
        },
        stopped: () => termed,
      });
      assert.is(await server.exited, 0, "a clean exit");
      assert.match(server.stderr(), '"msg":"stopped"');
      // Every client got an answer for each batch: at least one was refused after the signal, ending its loop.
      assert.ok(
        batches.some((b) => !b.acked),
        "no batch was refused after SIGTERM",
      );

      const again = await spawnServer(env);
      const c = connect(again.port);
      try {
        assert.is(integrity(dbPath), "ok");
        let finished = 0;
        const acked = batches.filter((b) => b.acked).length;
        for (const b of batches) {
          const n = await storedCount(c, b);
          if (b.acked) assert.is(n, size(b), `acknowledged ${b.request.requestId}: ${n} of ${size(b)}`);
          else assert.ok(n === 0 || n === size(b), `${b.request.requestId} half-stored: ${n} of ${size(b)}`);
          if (n === size(b)) finished++;
        }
        process.stdout.write(
          `  sigterm (${sync}): ${batches.length} batches, ${acked} acknowledged (${acked - termAt} of them after ` +
            `the signal), ${finished} stored, ${batches.length - finished} refused\n`,
        );
      } finally {
        c.closeAll();
        again.child.kill("SIGTERM");
        await again.exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
