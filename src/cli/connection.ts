import { readFileSync } from "node:fs";
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { type Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_ADDRESS } from "../client/channel.js";

/** How a command reaches a crawldiag server: one set of options for every command, built here only. */
export interface ConnectionFlags {
  address: string;
  token?: string | undefined;
  tls?: boolean | undefined;
  /** PEM file of the CA(s) to trust instead of the system's. */
  ca?: string | undefined;
  /** PEM files of a client certificate and its key, for a server that asks for one (mTLS). */
  cert?: string | undefined;
  key?: string | undefined;
}

// The server address of the client commands defaults to the one `serve` listens on.
export const address = () =>
  new Option("--address <host:port>", "crawldiag server").env("CRAWLDIAG_ADDRESS").default(DEFAULT_ADDRESS);
// A token on the command line shows in `ps`; the environment variable is the safer way to pass it.
export const token = () => new Option("--token <token>", "bearer token for the server").env("CRAWLDIAG_TOKEN");

/**
 * Gives every command that talks to a crawldiag server the TLS options: --tls, --ca, --cert and --key beside
 * --address, and --report-tls, --report-ca, --report-cert and --report-key beside probe's --report (probe's own
 * --ca is for the sites it fetches).
 */
export function addTlsOptions(program: Command): void {
  for (const cmd of program.commands) {
    const has = (long: string) => cmd.options.some((o) => o.long === long);
    if (has("--address")) tlsOptions(cmd, "", "the server");
    else if (has("--report")) tlsOptions(cmd, "report-", "the --report server");
  }
}

function tlsOptions(cmd: Command, prefix: string, server: string): void {
  cmd
    .addOption(new Option(`--${prefix}tls`, `use TLS to ${server} (implied by the three options below)`))
    .addOption(new Option(`--${prefix}ca <file>`, `trust this CA (PEM) for ${server} instead of the system's`))
    .addOption(
      new Option(`--${prefix}cert <file>`, `client certificate (PEM) for ${server} (mTLS; needs --${prefix}key)`),
    )
    .addOption(new Option(`--${prefix}key <file>`, `key (PEM) of --${prefix}cert`));
}

/** The --report-* TLS flags of probe, as connectionCredentials takes them. */
export function reportTls(f: { reportTls?: boolean; reportCa?: string; reportCert?: string; reportKey?: string }) {
  return { tls: f.reportTls, ca: f.reportCa, cert: f.reportCert, key: f.reportKey, prefix: "report-" };
}

/**
 * Channel credentials from the flags: undefined (plaintext) unless --tls, --ca or --cert is given. A file that
 * cannot be read, or a certificate without its key, is a usage error naming the option.
 */
export function connectionCredentials(
  f: Pick<ConnectionFlags, "tls" | "ca" | "cert" | "key"> & { prefix?: string },
): ChannelCredentials | undefined {
  const p = f.prefix ?? "";
  if (!f.tls && f.ca === undefined && f.cert === undefined && f.key === undefined) return undefined;
  if ((f.cert === undefined) !== (f.key === undefined)) {
    throw new InvalidArgumentError(`--${p}cert and --${p}key go together`);
  }
  const ca = f.ca === undefined ? null : pem(`--${p}ca`, f.ca);
  const key = f.key === undefined ? null : pem(`--${p}key`, f.key);
  const cert = f.cert === undefined ? null : pem(`--${p}cert`, f.cert);
  return credentials.createSsl(ca, key, cert);
}

function pem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InvalidArgumentError(`${option}: cannot read "${path}" (${(e as NodeJS.ErrnoException).code})`);
  }
}
