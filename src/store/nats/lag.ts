import type { NatsLog } from "./setup.js";
import { STREAM } from "./setup.js";

/** How far behind the writers are, for any node: what waits in the log, and the age of its oldest batch. */
export async function logLag(log: NatsLog): Promise<{ messages: number; oldestAgeMs: number }> {
  const { state } = await log.jsm.streams.info(STREAM);
  // A work-queue stream keeps only what no writer has stored yet, so its first message is the oldest one waiting.
  const first = state.messages === 0 ? Number.NaN : Date.parse(state.first_ts);
  return { messages: state.messages, oldestAgeMs: Number.isNaN(first) ? 0 : Math.max(0, Date.now() - first) };
}
