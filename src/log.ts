/** One JSON object per line on stderr. Callers pass facts (method, code, counts), never payloads or URLs. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: "info" | "off", out: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const write = (lvl: string, msg: string, fields?: Record<string, unknown>) =>
    out(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
  return {
    info: level === "off" ? () => {} : (msg, fields) => write("info", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
  };
}
