import { test } from "uvu";
import * as assert from "uvu/assert";
import { Handoff } from "../src/store/nats/handoff.js";

/** A prepared batch stands for itself here: the handoff never looks inside. */
const batch = (name: string) => ({ name });

test("a handed-over batch stays until it is done, through a write tried again", async () => {
  const h = new Handoff<{ name: string }>(10);
  const a = batch("a");
  h.put(7, a, 3);
  assert.is(await h.get(7), a);
  assert.is(await h.get(7), a);
  h.done(7);
  assert.is(h.get(7), undefined);
  h.done(7);
  assert.is(h.get(8), undefined);
});

test("a batch still being prepared is waited for, and one whose preparation failed rejects", async () => {
  const h = new Handoff<{ name: string }>(10);
  let finish: (b: { name: string }) => void = () => {};
  h.put(1, new Promise((resolve) => (finish = resolve)), 2);
  h.put(2, Promise.reject(new Error("worker gone")), 2);
  const got = h.get(1);
  finish(batch("late"));
  assert.equal(await got, batch("late"));
  await h.get(2)?.then(
    () => assert.unreachable("resolved"),
    (e: Error) => assert.is(e.message, "worker gone"),
  );
});

test("past its bound the oldest batches go first, and what goes is read from the log instead", () => {
  const h = new Handoff<{ name: string }>(10);
  h.put(1, batch("1"), 4);
  h.put(2, batch("2"), 4);
  h.put(3, batch("3"), 4);
  assert.is(h.get(1), undefined);
  assert.ok(h.get(2) !== undefined && h.get(3) !== undefined);
  // done() gives its room back: a batch of 6 fits beside the 4 of seq 3 once seq 2 is done.
  h.done(2);
  h.put(4, batch("4"), 6);
  assert.ok(h.get(3) !== undefined && h.get(4) !== undefined);
  // One batch larger than the bound is not kept at all.
  h.put(5, batch("5"), 11);
  assert.is(h.get(5), undefined);
});

test("a sequence handed over twice keeps its first batch", async () => {
  const h = new Handoff<{ name: string }>(10);
  const first = batch("first");
  h.put(1, first, 2);
  h.put(1, batch("second"), 5);
  assert.is(await h.get(1), first);
  h.put(2, batch("3"), 8);
  assert.ok(h.get(1) !== undefined, "the second put of seq 1 took no room");
});
test.run();
