import { test } from "uvu";
import * as assert from "uvu/assert";
import { groupsOf, runSessions } from "../src/probe/session.js";
import { target } from "../src/probe/target.js";

test("URLs that could share a connection form one group: same port and a DNS answer in common, transitively", () => {
  const urls = [
    "https://a.example/", // 0: 192.0.2.1
    "https://b.example/", // 1: 192.0.2.1 and 192.0.2.2, so with a
    "https://c.example/", // 2: 192.0.2.2 only, so with b and thereby a
    "https://a.example:8443/", // 3: a's address on another port
    "https://d.example/", // 4: elsewhere
    "https://e.example/", // 5: lookup failed
    "https://E.example./x", // 6: the same host as 5, written otherwise
  ];
  const addresses = [["192.0.2.1"], ["192.0.2.2", "192.0.2.1"], ["192.0.2.2"], ["192.0.2.1"], ["198.51.100.7"]];
  assert.equal(
    groupsOf(
      urls.map((u) => target(u)),
      urls.map((_, i) => addresses[i]),
    ),
    [0, 0, 0, 3, 4, 5, 5],
  );
});

/** Jobs that finish when the test says so, logging when they start and end. */
function controlled() {
  const log: string[] = [];
  const finish = new Map<number, () => void>();
  const job = (i: number) =>
    new Promise<void>((resolve) => {
      log.push(`start ${i}`);
      finish.set(i, () => {
        log.push(`end ${i}`);
        resolve();
      });
    });
  const end = async (i: number) => {
    finish.get(i)?.();
    // Let the scheduler react before the next step.
    await new Promise((r) => setImmediate(r));
  };
  return { log, job, end };
}

test("a site's other URLs start once its first fetch is done; an independent site does not wait", async () => {
  const { log, job, end } = controlled();
  const done = runSessions([0, 0, 2, 0], 4, job);
  await new Promise((r) => setImmediate(r));
  assert.equal(log, ["start 0", "start 2"]);
  await end(0);
  assert.equal(log, ["start 0", "start 2", "end 0", "start 1", "start 3"]);
  for (const i of [1, 2, 3]) await end(i);
  await done;
});

test("no more jobs run than the limit, and a limit of 1 keeps the order of the list", async () => {
  const { log, job, end } = controlled();
  const done = runSessions([0, 1, 0, 1], 1, job);
  for (const i of [0, 1, 2, 3]) {
    await new Promise((r) => setImmediate(r));
    assert.equal(log.at(-1), `start ${i}`);
    await end(i);
  }
  await done;
  assert.equal(log.filter((l) => l.startsWith("start")).length, 4);
});

test("an empty list finishes at once", async () => {
  await runSessions([], 4, () => Promise.reject(new Error("no job to run")));
});

test.run();
