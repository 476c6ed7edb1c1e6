/**
 * SQL literals for ClickHouse 18.16, which has no query parameters: every value that reaches a statement goes
 * through one of these, so no input is ever pasted into SQL as it came.
 */

/** A string literal: backslash and quote escaped, as ClickHouse's lexer reads them (control bytes too). */
export function str(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is escaped here
  return `'${value.replace(/[\\'\u0000-\u001f\u007f]/g, (c) => (c === "\\" || c === "'" ? `\\${c}` : hex(c)))}'`;
}

const hex = (c: string): string => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;

/** An integer literal; anything but a safe integer is refused rather than turned into SQL. */
export function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not a safe integer: ${value}`);
  return String(value);
}

/** A list of literals for IN (...); never empty, since `IN ()` is not SQL. */
export function list(values: readonly number[]): string {
  if (values.length === 0) throw new TypeError("an empty IN list");
  return values.map(int).join(", ");
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A database, table or cluster name; only plain identifiers are taken, so they need no quoting. */
export function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`not a plain identifier (A-Z a-z 0-9 _): ${JSON.stringify(name)}`);
  return name;
}
