import type { Window } from "./diagnosis.js";
import { invalidArgument } from "./errors.js";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export interface WindowInput {
  startTime?: Date | undefined;
  endTime?: Date | undefined;
}

/**
 * Resolves a requested window: a missing end is now, a missing start is 30 days (configurable) before the end.
 * Figures are kept per hour, so the window is widened to whole UTC hours: every answer then covers exactly the
 * hours it names, and a default window gives the same answer for the whole hour.
 */
export function resolveWindow(
  w: WindowInput | undefined,
  nowMs: number,
  defaultDays: number,
  field = "window",
): Window {
  const end = w?.endTime?.getTime() ?? nowMs;
  const start = w?.startTime?.getTime() ?? end - defaultDays * DAY_MS;
  if (Number.isNaN(start) || Number.isNaN(end)) throw invalidArgument(field, "not a valid timestamp");
  if (start >= end) throw invalidArgument(`${field}.start_time`, "must be before end_time");
  return { startMs: Math.floor(start / HOUR_MS) * HOUR_MS, endMs: Math.ceil(end / HOUR_MS) * HOUR_MS };
}
