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

/** A window as the stores read it: the hours [from, to) of its partial days, and its whole UTC days [from, to). */
export interface Spans {
  hours: [number, number][];
  days: [number, number] | undefined;
}

/**
 * Cuts a window into whole UTC days (read from the daily figures) and the hours of the partial days around them
 * (from the hourly ones). One cut for both stores: they must read the same rows to give the same facts.
 */
export function windowSpans(w: Window): Spans {
  const from = w.startMs / HOUR_MS;
  const to = w.endMs / HOUR_MS;
  const firstDay = Math.ceil(from / 24);
  const endDay = Math.floor(to / 24);
  if (firstDay >= endDay) return { hours: [[from, to]], days: undefined };
  const hours: [number, number][] = [
    [from, firstDay * 24],
    [endDay * 24, to],
  ];
  return { hours: hours.filter(([a, b]) => a < b), days: [firstDay, endDay] };
}
