/** One JSON object per line on stderr. Callers pass facts (method, code, counts), never payloads or URLs. */
export interface Logger {
  /** Start-up, shutdown and maintenance: always written. */
  notice(msg: string, fields?: Record<string, unknown>): void;
  /** One line per call: off when the level is "off". */
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  level: "info" | "off",
  out: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const write = (lvl: string, msg: string, fields?: Record<string, unknown>) =>
    out(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
  return {
    notice: (msg, fields) => write("info", msg, fields),
    info: level === "off" ? () => {} : (msg, fields) => write("info", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
  };
}
