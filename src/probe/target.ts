/** A URL to probe, split into what the connection, the pool and the request each need. */
export interface Target {
  url: string;
  /** The hostname as the URL writes it, trailing dot included: what DNS is asked (a dot means "no search list"). */
  dnsName: string;
  /** The host's identity for SNI, the pool and certificate checks: no brackets, no trailing dot. */
  hostname: string;
  port: number;
  /** host[:port] exactly as the URL writes it, sent as :authority or Host. */
  authority: string;
  path: string;
  /** Serialised origin of `hostname` ("https://a.example:8443"), as ORIGIN frames list them. */
  origin: string;
}

/** Parses an https URL; throws on anything else. */
export function target(url: string): Target {
  const u = new URL(url);
  if (u.protocol !== "https:") throw new Error(`only https URLs can be probed: ${u.protocol}`);
  const dnsName = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const bare = u.hostname.replace(/\.$/, "");
  return {
    url,
    dnsName,
    hostname: dnsName.replace(/\.$/, ""),
    port: u.port === "" ? 443 : Number(u.port),
    authority: u.host,
    path: `${u.pathname}${u.search}`,
    origin: `https://${bare}${u.port === "" ? "" : `:${u.port}`}`,
  };
}
