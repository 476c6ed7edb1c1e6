import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";

export interface Line {
  /** 1-based line number in the file. */
  number: number;
  text: string;
  /** Byte offset just past this line (and its newline): where the next line starts. */
  end: number;
}

/** The lines of a file from byte `offset` on, numbered from `firstNumber`, with their byte ends (LF or CRLF). */
export async function* readLines(path: string, offset: number, firstNumber: number): AsyncGenerator<Line> {
  let carry: Buffer = Buffer.alloc(0);
  let base = offset;
  let number = firstNumber;
  for await (const chunk of createReadStream(path, { start: offset })) {
    const buf = carry.length === 0 ? (chunk as Buffer) : Buffer.concat([carry, chunk as Buffer]);
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
      const to = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
      yield { number: number++, text: buf.toString("utf8", from, to), end: base + nl + 1 };
      from = nl + 1;
    }
    carry = buf.subarray(from);
    base += from;
  }
  if (carry.length > 0) yield { number, text: carry.toString("utf8"), end: base + carry.length };
}

/** How many leading bytes make a file's identity: enough to tell files apart, and unchanged when one grows. */
export const IDENTITY_BYTES = 64 * 1024;

/** SHA-256 (hex) of the first `length` bytes of a file, or undefined when the file is shorter. */
export async function headHash(path: string, length: number): Promise<string | undefined> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, 0);
    return bytesRead < length ? undefined : createHash("sha256").update(buf).digest("hex");
  } finally {
    await fh.close();
  }
}
