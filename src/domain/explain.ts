import { type Diagnosis, Kind } from "./diagnosis.js";

const STATUS = "421 Misdirected Request";

/** One sentence for a webmaster: what the crawlers saw, with the numbers, and the verdict. */
export function summary(d: Diagnosis): string {
  const h = d.host;
  const peerList = names(d.coalescedFrom.map((p) => p.host));
  const affected = names(
    d.addresses.filter((a) => a.affected).map((a) => a.address),
    "other address",
    "other addresses",
  );
  const ended = d.resolved && d.lastSeenMs !== undefined ? `, and has not done so since ${day(d.lastSeenMs)}` : "";
  switch (d.kind) {
    case Kind.NO_MISDIRECTED_REQUESTS: {
      const x = d.excludedClientSideCount;
      const excluded =
        x === 0
          ? ""
          : `; ${x === 1 ? "the one 421 answer" : `all ${x} of its 421 answers`} came from how our crawlers connected, not from the host`;
      return `${h} did not answer ${STATUS} in ${plural(d.fetchCount, "fetch", "fetches")} by our crawlers${excluded}.`;
    }
    case Kind.NOT_RECURRING:
      return `${h} answered ${STATUS} ${times(d.misdirectedCount)} on ${plural(d.distinctDays, "day")} and ${plural(d.distinctConnections, "connection")}: isolated or transient, not a recurring problem.`;
    case Kind.CONNECTION_COALESCING: {
      const served =
        d.retryRecoveredCount > 0
          ? `served ${d.retryRecoveredCount} of ${d.retriedCount} retried requests on fresh connections`
          : "served its own connections";
      const where = `on connections our crawlers opened for ${peerList}`;
      return `${h} answered ${STATUS} ${counted(d, d.coalescedMisdirectedCount, where)}, and ${served}: connection coalescing${ended}.`;
    }
    case Kind.VIRTUAL_HOST: {
      const where = `on connections our crawlers opened for ${h} itself`;
      return `${h} answered ${STATUS} ${counted(d, d.ownConnectionMisdirectedCount, where)}: the server reached for this name has no virtual host for it${ended}.`;
    }
    case Kind.EDGE_ROUTING: {
      const where = `on its own connections at ${affected}`;
      return `${h} answered ${STATUS} ${counted(d, d.ownConnectionMisdirectedCount, where)}, while other addresses served it: edge routing${ended}.`;
    }
    case Kind.MIXED: {
      const edge = d.addresses.some((a) => a.affected);
      const own = edge ? `itself at ${affected} (edge routing)` : "itself (virtual host)";
      return `${h} answered ${STATUS} ${seen(d)}: ${d.ownConnectionMisdirectedCount} on connections opened for ${h} ${own} and ${d.coalescedMisdirectedCount} on connections opened for ${peerList} (connection coalescing)${ended}.`;
    }
    case Kind.COALESCING_REFUSED: {
      const statuses = names(d.refusedStatuses.map(String));
      const served =
        d.retryRecoveredCount > 0
          ? `served ${d.retryRecoveredCount} of ${d.retriedCount} retried requests on fresh connections`
          : "served its own connections";
      return `${h} refused ${plural(d.refusedCount, "request")} with ${statuses} instead of ${STATUS} over ${plural(d.distinctDays, "day")} on connections our crawlers opened for ${peerList}, and ${served}: browsers that coalesce show the error page${ended}.`;
    }
    case Kind.INSUFFICIENT_EVIDENCE: {
      const known = d.coalescedMisdirectedCount + d.ownConnectionMisdirectedCount;
      const why =
        d.missingFields.length > 0
          ? `${known === 0 ? "none" : `only ${known}`} of them came with their connection's protocol and SNI (${d.missingFields.join(" and ")} missing on the others)`
          : `${d.coalescedMisdirectedCount} on connections opened for other hosts and ${d.ownConnectionMisdirectedCount} on its own do not recur on their own`;
      return `${h} answered ${STATUS} ${seen(d)}, but ${why}: not enough to tell coalescing from a virtual-host problem.`;
    }
  }
}

const COALESCING_FIX =
  "Every TLS endpoint whose certificate covers the host must be able to serve it (Apache: vhosts that share a " +
  "certificate need compatible TLS settings; nginx: no `ssl_verify_client` host on a shared IP and certificate), " +
  "or stop inviting coalescing: separate certificates or IPs per backend, or send an ORIGIN frame (RFC 8336) that " +
  "leaves the host out. Keep answering 421: a 404 or wrong content is worse.";
const VIRTUAL_HOST_FIX =
  "The server reached for this name must have a vhost / server_name for it, selected by the same SNI; a proxy or " +
  "CDN in front of Apache >= 2.4.64 must send SNI = Host (nginx: `proxy_ssl_server_name on; proxy_ssl_name $host;`).";

const REMEDIATION: Record<Exclude<Kind, typeof Kind.INSUFFICIENT_EVIDENCE>, string> = {
  [Kind.NO_MISDIRECTED_REQUESTS]:
    "Nothing to change on the host. 421s caused by how a crawler connected are reported to that crawler's fleet.",
  [Kind.NOT_RECURRING]:
    "Nothing to change yet: isolated 421s happen during deployments or connection reuse. Look again if they recur.",
  [Kind.CONNECTION_COALESCING]: COALESCING_FIX,
  [Kind.VIRTUAL_HOST]: VIRTUAL_HOST_FIX,
  [Kind.EDGE_ROUTING]:
    "The affected addresses serve the name wrongly while others serve it: look for nodes with stale or missing " +
    "vhost/certificate configuration, or DNS records pointing at retired servers.",
  [Kind.COALESCING_REFUSED]:
    "The server refuses requests for this name that arrive on a connection opened for another name it holds a " +
    "certificate for, with a status other than 421, so browsers do not retry and show the error: make it answer " +
    "421 Misdirected Request to such requests (RFC 9110 section 15.5.20; Apache Traffic Server: a 421 in place " +
    "of the `host_sni_policy` 403), or stop inviting coalescing (separate certificates or addresses, or an ORIGIN " +
    "frame that leaves the name out).",
  // The virtual-host finding first: it affects every client, coalescing only some.
  [Kind.MIXED]: `Both problems hold. First the virtual host: ${VIRTUAL_HOST_FIX} Then the coalescing: ${COALESCING_FIX}`,
};

/** What to change for a kind; for INSUFFICIENT_EVIDENCE, which fields crawlers must report to decide. */
export function remediation(kind: Kind, missingFields: readonly string[] = []): string {
  if (kind !== Kind.INSUFFICIENT_EVIDENCE) return REMEDIATION[kind];
  const report =
    missingFields.length > 0
      ? `Crawler operators: report ${missingFields.join(" and ")} on every fetch`
      : "Crawler operators: keep reporting protocol and connection.tls_server_name";
  return (
    `${report}, and retry a 421 once on a fresh connection with retry_of set, so that coalescing and ` +
    "virtual-host problems can be told apart; the host may not need to change anything."
  );
}

/** "12 times over 5 days": the counted 421s. */
function seen(d: Diagnosis): string {
  return `${times(d.misdirectedCount)} over ${plural(d.distinctDays, "day")}`;
}

/** "12 times over 5 days <where>", or "14 times over 6 days, 12 of them <where>" when only some 421s were there. */
function counted(d: Diagnosis, part: number, where: string): string {
  return part === d.misdirectedCount ? `${seen(d)} ${where}` : `${seen(d)}, ${part} of them ${where}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function times(n: number): string {
  return n === 1 ? "once" : `${n} times`;
}

/** "a", "a and b", "a, b and c", "a, b, c and 2 other hosts": long lists would not fit one sentence. */
function names(all: readonly string[], other = "other host", others = "other hosts"): string {
  const shown = all.slice(0, 3);
  const rest = all.length - shown.length;
  if (rest > 0) shown.push(plural(rest, other, others));
  if (shown.length <= 1) return shown[0] ?? "";
  return `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
