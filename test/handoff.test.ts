import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Fetch } from "../src/domain/fetch.js";
import { Handoff } from "../src/store/nats/handoff.js";

const fetches = (n: number) => Array.from({ length: n }, (_, index) => ({ index }) as Fetch);

test("a handed-over batch stays until it is done, through a write tried again", () => {
  const h = new Handoff(10);
  const a = fetches(3);
  h.put(7, a);
  assert.is(h.get(7), a);
  assert.is(h.get(7), a);
  h.done(7);
  assert.is(h.get(7), undefined);
  h.done(7);
  assert.is(h.get(8), undefined);
});

test("past its bound the oldest batches go first, and what goes is read from the log instead", () => {
  const h = new Handoff(10);
  h.put(1, fetches(4));
  h.put(2, fetches(4));
  h.put(3, fetches(4));
  assert.is(h.get(1), undefined);
  assert.ok(h.get(2) !== undefined && h.get(3) !== undefined);
  // done() gives its room back: a batch of 6 fits beside the 4 of seq 3 once seq 2 is done.
  h.done(2);
  h.put(4, fetches(6));
  assert.ok(h.get(3) !== undefined && h.get(4) !== undefined);
  // One batch larger than the bound is not kept at all.
  h.put(5, fetches(11));
  assert.is(h.get(5), undefined);
});

test("a sequence handed over twice keeps its first fetches", () => {
  const h = new Handoff(10);
  const first = fetches(2);
  h.put(1, first);
  h.put(1, fetches(5));
  assert.is(h.get(1), first);
  h.put(2, fetches(8));
  assert.ok(h.get(1) !== undefined, "the second put of seq 1 took no room");
});
test.run();
