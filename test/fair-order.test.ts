import { test } from "uvu";
import * as assert from "uvu/assert";
import { FairOrder } from "../src/domain/fair-order.js";

const batch = (client: string | undefined, n: number) => ({ client, n });
const names = (w: { client?: string | undefined; n: number }[]) => w.map((b) => `${b.client ?? "-"}${b.n}`);

test("with one client waiting, batches are written in the order they came", () => {
  const fair = new FairOrder();
  fair.charge("a", 1000, 0);
  const waiting = [batch("a", 1), batch("a", 2), batch("a", 3)];
  fair.order(waiting, 10);
  assert.equal(names(waiting), ["a1", "a2", "a3"]);
});

test("the client served least lately goes first, each client's own batches keeping their order", () => {
  const fair = new FairOrder();
  fair.charge("flood", 2500, 0);
  fair.charge("steady", 4, 0);
  const waiting = [batch("flood", 1), batch("steady", 1), batch("flood", 2), batch("new", 1), batch("steady", 2)];
  fair.order(waiting, 100);
  assert.equal(names(waiting), ["new1", "steady1", "steady2", "flood1", "flood2"]);
});

test("use is forgotten by half every second: a client that stopped flooding goes first once others use more", () => {
  const fair = new FairOrder();
  fair.charge("was-flooding", 1000, 0);
  fair.charge("steady", 100, 3000);
  // 3 s later the flood's 1000 records count as 125, more than the steady client's 100.
  const soon = [batch("was-flooding", 1), batch("steady", 1)];
  fair.order(soon, 3000);
  assert.equal(names(soon), ["steady1", "was-flooding1"]);
  // The steady client then sends 1000 more: a second later 550 against 62.5.
  fair.charge("steady", 1000, 3000);
  const later = [batch("steady", 1), batch("was-flooding", 1)];
  fair.order(later, 4000);
  assert.equal(names(later), ["was-flooding1", "steady1"]);
});

test("batches without a client (no caller known) are ordered as if new, and never charged", () => {
  const fair = new FairOrder();
  fair.charge(undefined, 10_000, 0);
  fair.charge("a", 10, 0);
  const waiting = [batch("a", 1), batch(undefined, 1)];
  fair.order(waiting, 0);
  assert.equal(names(waiting), ["-1", "a1"]);
});

test.run();
