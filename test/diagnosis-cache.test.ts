import { test } from "uvu";
import * as assert from "uvu/assert";
import type { DetailFetch, Diagnosis, Window } from "../src/domain/diagnosis.js";
import { DiagnosisCache } from "../src/domain/diagnosis-cache.js";
import type { HostDetail } from "../src/domain/read-store.js";

const W: Window = { startMs: 0, endMs: 86_400_000 };
const diagnosis = {} as Diagnosis;
const fetch = { status: 421 } as DetailFetch;
const detail = (hostId: number, n: number): HostDetail => ({
  hostId,
  host: `h${hostId}.example`,
  misdirected: Array.from({ length: n }, () => fetch),
  refused: [],
});

test("a cache that keeps detail drops a host's diagnosis on new traffic, and its 421s only on new detail", () => {
  const cache = new DiagnosisCache(true);
  const e = cache.entry(W);
  e.put(1, diagnosis, detail(1, 3));
  e.put(2, diagnosis, detail(2, 3));
  cache.changed({ hosts: [1, 2], detail: [2] });
  assert.equal([...e.diagnoses.keys()], []);
  assert.equal([...e.details.keys()], [1]);
});

test("the default cache keeps no detail", () => {
  const cache = new DiagnosisCache();
  const e = cache.entry(W);
  e.put(1, diagnosis, detail(1, 3));
  assert.is(e.diagnoses.size, 1);
  assert.is(e.details.size, 0);
});

test("kept detail is bounded: past 500,000 fetches a diagnosis is kept without its 421s, until room is made", () => {
  const cache = new DiagnosisCache(true);
  const e = cache.entry(W);
  e.put(1, diagnosis, detail(1, 400_000));
  e.put(2, diagnosis, detail(2, 200_000));
  assert.equal([...e.details.keys()], [1], "no room for the second");
  assert.is(e.diagnoses.size, 2);
  cache.changed({ hosts: [1], detail: [1] });
  e.put(2, diagnosis, detail(2, 200_000));
  assert.equal([...e.details.keys()], [2], "room made by the first one's new detail");
});

test("a window pushed out of the cache gives back the room its detail took", () => {
  const cache = new DiagnosisCache(true);
  cache.entry(W).put(1, diagnosis, detail(1, 400_000));
  const windows = [1, 2, 3, 4].map((d) => ({ startMs: d * 86_400_000, endMs: (d + 1) * 86_400_000 }));
  for (const w of windows) cache.entry(w);
  const last = cache.entry(windows[3] as Window);
  last.put(2, diagnosis, detail(2, 400_000));
  assert.is(last.details.size, 1);
});

test("a copy changes apart from the cache it came from", () => {
  const cache = new DiagnosisCache(true);
  cache.entry(W).put(1, diagnosis, detail(1, 3));
  const copy = cache.copy();
  copy.changed({ hosts: [1], detail: [1] });
  assert.is(cache.entry(W).diagnoses.size, 1);
  assert.is(cache.entry(W).details.size, 1);
  assert.is(copy.entry(W).diagnoses.size, 0);
  assert.is(copy.entry(W).details.size, 0);
  copy.entry(W).put(2, diagnosis, detail(2, 3));
  assert.is(cache.entry(W).diagnoses.has(2), false);
});

test.run();
