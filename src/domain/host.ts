import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import { memo } from "./memo.js";

const DEFAULT_PORTS: Record<string, string> = { http: "80", https: "443" };
// LDH labels, plus "_" which real DNS names carry (DNS allows it; only the hostname syntax does not).
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

export interface Origin {
  scheme: "http" | "https";
  /** Normalised host: lower-case A-label hostname, plus ":port" when the port is not the scheme's default. */
  host: string;
  /** The host without port (IPv6 without brackets). */
  hostname: string;
}

/** True for a syntactically valid DNS name made of A-labels (lower case, no trailing dot). */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  return labels.every((label) => LABEL.test(label)) && !/^[0-9]+$/.test(labels[labels.length - 1] ?? "");
}

/** isIP of node:net, remembered: it runs a large regular expression. */
export const ipFamily = memo(isIP);

/**
 * Normalises a hostname: lower case, IDNA A-label, no trailing dot. IP literals (IPv6 with or without brackets)
 * come back in canonical form. Returns undefined when it is neither a DNS name nor an IP literal.
 */
export const normaliseHostname = memo(normaliseHostnameOnce);

function normaliseHostnameOnce(raw: string): string | undefined {
  if (raw.length === 0 || raw.length > 255) return undefined;
  const bare = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  if (isIP(bare) !== 0) return canonicalIp(bare);
  const trimmed = raw.endsWith(".") ? raw.slice(0, -1) : raw;
  const ascii = /^[A-Za-z0-9._-]+$/.test(trimmed) ? trimmed.toLowerCase() : domainToASCII(trimmed);
  return ascii !== "" && isDnsName(ascii) ? ascii : undefined;
}

/** Canonical text of an IP literal (IPv6 compressed, lower case), or undefined. */
export const canonicalIp = memo(canonicalIpOnce);

function canonicalIpOnce(raw: string): string | undefined {
  const family = isIP(raw);
  if (family === 4) return raw;
  // isIP accepts a zone id ("fe80::1%eth0"), which names an interface of the sender, not a server, and which
  // the URL parser below throws on.
  if (family !== 6 || raw.includes("%")) return undefined;
  // The URL parser is the standard IPv6 serialiser (RFC 5952 style, lower case, compressed).
  return new URL(`http://[${raw}]/`).hostname.slice(1, -1);
}

// Most URLs are plain: lower-case scheme and host, no user-info, no IDN. Parsing them by hand is several times
// faster than the WHATWG parser, which stays the authority for everything else.
const SIMPLE = /^(https?):\/\/([a-z0-9.-]+?)\.?(?::([0-9]{1,5}))?(?:[/?#]|$)/;

// Origins of simple URLs by the text before their path: for those, that prefix alone decides the answer. Bounded
// like memo(); the keys are scheme and authority only, never a path or query.
const ORIGINS = new Map<string, Origin | string>();
const MAX_ORIGINS = 10_000;

/** Parses a URL into its origin, or returns a reason it is not acceptable (never echoing the URL). */
export function parseOrigin(url: string): Origin | string {
  const prefix = simplePrefix(url);
  const known = prefix === undefined ? undefined : ORIGINS.get(prefix);
  if (known !== undefined) return known;
  const simple = SIMPLE.exec(url);
  if (simple !== null) {
    const origin = parseSimple(simple);
    // SIMPLE reads the prefix and the character after it, which ends the prefix in every URL that has it.
    if (prefix !== undefined) {
      if (ORIGINS.size >= MAX_ORIGINS) ORIGINS.clear();
      ORIGINS.set(prefix, origin);
    }
    return origin;
  }
  return parseWhatwg(url);
}

/** "http(s)://authority" up to the first / ? # (the end of what SIMPLE reads), or undefined for other schemes. */
function simplePrefix(url: string): string | undefined {
  const start = url.startsWith("https://") ? 8 : url.startsWith("http://") ? 7 : -1;
  if (start < 0) return undefined;
  let end = start;
  for (; end < url.length; end++) {
    const c = url.charCodeAt(end);
    if (c === 0x2f || c === 0x3f || c === 0x23) break;
  }
  return url.slice(0, end);
}

function parseSimple(simple: RegExpExecArray): Origin | string {
  const scheme = simple[1] as "http" | "https";
  const hostname = simple[2] ?? "";
  if (!isDnsName(hostname) && isIP(hostname) !== 4) return "the URL's host is not a valid DNS name or IP address";
  return withPort(scheme, hostname, simple[3]);
}

function parseWhatwg(url: string): Origin | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not an absolute URL";
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== "http" && scheme !== "https") return "the URL's scheme must be http or https";
  const hostname = normaliseHostname(parsed.hostname);
  if (hostname === undefined) return "the URL's host is not a valid DNS name or IP address";
  return withPort(scheme, hostname, parsed.port === "" ? undefined : parsed.port);
}

function withPort(scheme: "http" | "https", hostname: string, port: string | undefined): Origin | string {
  if (port !== undefined) {
    const n = Number(port);
    if (n < 1 || n > 65535) return "the URL's port is out of range";
    port = String(n);
  }
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  const host = port === undefined || port === DEFAULT_PORTS[scheme] ? shown : `${shown}:${port}`;
  return { scheme, host, hostname };
}

/**
 * Normalises a host given in a query ("API.example.com.", "example.com:8443", "[2001:db8::1]:443") to the form
 * stored at ingest. Without a scheme a port cannot be recognised as default, so it is kept as given.
 */
export function normaliseQueryHost(raw: string): string | undefined {
  const m = /^(\[[^\]]+\]|[^:]+)(?::([0-9]{1,5}))?$/.exec(raw.trim());
  if (m === null) return undefined;
  const hostname = normaliseHostname(m[1] ?? "");
  if (hostname === undefined) return undefined;
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  if (m[2] === undefined) return shown;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? `${shown}:${port}` : undefined;
}
