import { readFileSync, renameSync, writeFileSync } from "node:fs";

/** Where an import stopped: the identity of the file it read and the first line not yet acknowledged. */
export interface Checkpoint {
  version: 1;
  /** SHA-256 of the file's first `identityBytes` bytes. */
  identity: string;
  identityBytes: number;
  batchSize: number;
  nextLine: number;
  /** Byte offset of nextLine, so a resume seeks instead of reading the file again. */
  offset: number;
}

export function readCheckpoint(path: string): Checkpoint | undefined {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const c = JSON.parse(raw) as Partial<Checkpoint>;
  const whole = (n: unknown, min: number) => typeof n === "number" && Number.isInteger(n) && n >= min;
  if (
    c.version !== 1 ||
    typeof c.identity !== "string" ||
    !whole(c.identityBytes, 0) ||
    !whole(c.batchSize, 1) ||
    !whole(c.nextLine, 1) ||
    !whole(c.offset, 0)
  ) {
    throw new Error(`${path} is not a crawldiag import checkpoint`);
  }
  return c as Checkpoint;
}

/** Written whole or not at all (temp file + rename): a crash mid-write must not leave a half checkpoint. */
export function writeCheckpoint(path: string, c: Checkpoint): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(c)}\n`);
  renameSync(tmp, path);
}
