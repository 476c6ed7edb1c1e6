import { status } from "@grpc/grpc-js";
import * as assert from "uvu/assert";
import { type ClientChild, percentile, type Sent, sliceOf, wallMs } from "./fair-traffic.js";

// The flood floods every other slice, so that the steady client is measured alone and beside it in turns, and
// whatever else the machine does (a checkpoint, a GC, other processes) weighs on both figures alike.
const SLICE_MS = 250;
const SLICES = 24;
// Calls that start right after a switch are left out: the flood's calls in flight spill over, and a flood that
// starts again has saved up a burst, as a flood that goes on does not.
const EDGE_MS = 30;
// A p99 of some 500 calls is the fifth slowest, which a single stall can move: when a round leaves the figures
// in doubt, more rounds are measured and pooled with it (never instead of it), up to this many. On these shared
// machines a p99 sits where the machine's own stalls begin (p99 3 to 4 times p50 with the flood off), so the
// pooled ratio of two runs alike spreads by some 0.1 after 8 rounds (0.92 and 1.18 measured), around a true cost
// of the flood of 5 to 10% (1.08 pooled over 12 rounds). With 3, then 6 rounds, CI runs ended 6% and 5% past the bound (8.1 against 6.4 ms, 7.36
// against 5.86); the bound stays, the pooled measurement gets longer.
export const MAX_ROUNDS = 20;

export interface Pooled {
  alone: Sent[];
  together: Sent[];
  flood: Sent[];
  keptS: number;
  floodS: number;
}

/** One round: the steady client all along, the flood in the odd slices; the steady calls sorted by slice. */
export async function round(calm: ClientChild, loud: ClientChild, into: Pooled): Promise<void> {
  const slices = { t0: wallMs() + 50, sliceMs: SLICE_MS };
  const endAt = slices.t0 + SLICES * SLICE_MS;
  const [steadyCalls, floodCalls] = await Promise.all([calm.run(slices, endAt), loud.run(slices, endAt)]);
  for (const c of steadyCalls) {
    assert.is(status[c.code], "OK", "the steady client is never refused");
    const k = sliceOf(slices, c.at);
    if (k < 0 || k >= SLICES || c.at - slices.t0 - k * SLICE_MS < EDGE_MS) continue;
    (k % 2 === 1 ? into.together : into.alone).push(c);
  }
  into.flood.push(...floodCalls);
  into.keptS += ((SLICES / 2) * (SLICE_MS - EDGE_MS)) / 1000;
  into.floodS += ((SLICES / 2) * SLICE_MS) / 1000;
}

export const stored = (calls: Sent[]) => calls.reduce((n, c) => n + (c.code === status.OK ? c.accepted : 0), 0);
const ms = (calls: Sent[], q: number) =>
  Math.round(
    percentile(
      calls.map((c) => c.ms),
      q,
    ) * 100,
  ) / 100;

export function figuresOf(p: Pooled, rounds: number, budget: number) {
  return {
    rounds,
    alone_rps: Math.round(stored(p.alone) / p.keptS),
    together_rps: Math.round(stored(p.together) / p.keptS),
    alone_p50_ms: ms(p.alone, 50),
    together_p50_ms: ms(p.together, 50),
    alone_p99_ms: ms(p.alone, 99),
    together_p99_ms: ms(p.together, 99),
    calls: [p.alone.length, p.together.length],
    flood_offered_rps: 10 * budget,
    flood_stored_rps: Math.round(stored(p.flood) / p.floodS),
    flood_throttled_calls: p.flood.filter((c) => c.code === status.RESOURCE_EXHAUSTED).length,
    flood_calls: p.flood.length,
  };
}
