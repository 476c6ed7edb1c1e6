import { createHash } from "node:crypto";
import type { Window } from "./diagnosis.js";
import { invalidArgument } from "./errors.js";

/** Paging state: the filters' fingerprint, the window resolved on the first page, and the last key returned. */
export interface PageState {
  filters: string;
  window: Window;
  after: (string | number)[];
}

export function fingerprint(filters: unknown): string {
  return createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 16);
}

export function encodeToken(s: PageState): string {
  return Buffer.from(JSON.stringify([1, s.filters, s.window.startMs, s.window.endMs, s.after])).toString("base64url");
}

/** Decodes a token, refusing one that is malformed or was issued for other filters. */
export function decodeToken(token: string, filters: string): PageState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument("page_token", "not a token this service issued");
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 5 ||
    parsed[0] !== 1 ||
    typeof parsed[1] !== "string" ||
    !Number.isInteger(parsed[2]) ||
    !Number.isInteger(parsed[3]) ||
    !Array.isArray(parsed[4]) ||
    !parsed[4].every((x: unknown) => typeof x === "string" || typeof x === "number")
  ) {
    throw invalidArgument("page_token", "not a token this service issued");
  }
  if (parsed[1] !== filters)
    throw invalidArgument("page_token", "was issued for other filters; start again without it");
  return { filters, window: { startMs: parsed[2], endMs: parsed[3] }, after: parsed[4] };
}

/** Lexicographic comparison of sort keys (numbers ascending, strings by code unit). */
export function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export function pageSize(raw: number): number {
  if (raw < 0) throw invalidArgument("page_size", "must not be negative");
  return raw === 0 ? DEFAULT_PAGE_SIZE : Math.min(raw, MAX_PAGE_SIZE);
}

/** Returns the page after `after` of rows already sorted by `key`, and the key to continue from. */
export function takePage<T>(rows: T[], key: (row: T) => (string | number)[], after: (string | number)[], size: number) {
  const start = after.length === 0 ? 0 : rows.findIndex((r) => compareKeys(key(r), after) > 0);
  const from = start < 0 ? rows.length : start;
  const page = rows.slice(from, from + size);
  const last = page[page.length - 1];
  const more = from + size < rows.length && last !== undefined;
  return { page, next: more ? key(last) : undefined };
}
