import { ConfigError, readConfig } from "./config.js";
import { createLogger } from "./log.js";

/**
 * Runs the service configured from the environment until SIGTERM/SIGINT. The app (and SQLite with it) is loaded
 * only here, so that the command line's client commands, which share the entry point, never open the store.
 */
export async function serve(): Promise<void> {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`crawldiag: configuration error: ${e.message}\n`);
    process.exit(2);
  }
  const { startApp } = await import("./app.js");
  const log = createLogger(config.log);
  const app = await startApp(config, log);
  const stop = (signal: string) => {
    log.notice("shutting down", { signal });
    app.close().then(
      () => process.exit(0),
      (err) => {
        log.error("shutdown failed", { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // Token and certificate rotation without a restart; a listener also keeps SIGHUP from ending the process.
  process.on("SIGHUP", () => app.reload());
}
