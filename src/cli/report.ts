import { DiagnosisKind, HostDiagnosis } from "../gen/webmasterid/crawldiag/v1/diagnosis.js";
import { type Cell, kindCell, parseKind, table, useColour, when } from "./format.js";
import { allPages, diagnosis, type ServerFlags } from "./rpc.js";

export interface ReportFlags extends ServerFlags {
  suffix?: string | undefined;
  kind?: string[] | undefined;
  includeResolved?: boolean | undefined;
  /** Also the hosts whose 421s do not recur (NOT_RECURRING). */
  all?: boolean | undefined;
  json?: boolean | undefined;
}

const PAGE_SIZE = 1000;

/**
 * The kinds someone has to act on, most severe first: the webmaster for all but INSUFFICIENT_EVIDENCE, which asks
 * the crawler to report more. NOT_RECURRING hosts need nobody yet and are listed only with --all.
 */
export const ACTION_KINDS: readonly DiagnosisKind[] = [
  DiagnosisKind.DIAGNOSIS_KIND_MIXED,
  DiagnosisKind.DIAGNOSIS_KIND_VIRTUAL_HOST,
  DiagnosisKind.DIAGNOSIS_KIND_EDGE_ROUTING,
  DiagnosisKind.DIAGNOSIS_KIND_COALESCING_REFUSED,
  DiagnosisKind.DIAGNOSIS_KIND_CONNECTION_COALESCING,
  DiagnosisKind.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE,
];

/** `report`: the diagnoses that need action (with --all, also NOT_RECURRING), most severe first. */
export async function report(flags: ReportFlags, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  const named: DiagnosisKind[] = (flags.kind ?? []).flatMap((k) => k.split(",")).map(parseKind);
  const kinds =
    named.length > 0
      ? named
      : flags.all
        ? [...ACTION_KINDS, DiagnosisKind.DIAGNOSIS_KIND_NOT_RECURRING]
        : [...ACTION_KINDS];
  const d = diagnosis(flags);
  const rows: HostDiagnosis[] = [];
  try {
    await allPages(
      async (pageToken) => {
        const res = await d.call(d.client.listHostDiagnoses, {
          window: undefined,
          kinds,
          hostSuffix: flags.suffix ?? "",
          includeResolved: flags.includeResolved ?? false,
          pageSize: PAGE_SIZE,
          pageToken,
        });
        return { items: res.diagnoses, next: res.nextPageToken };
      },
      (page) => {
        // JSON lines stream page by page; the table needs every row to size its columns.
        if (flags.json) for (const h of page) out.write(`${JSON.stringify(HostDiagnosis.toJSON(h))}\n`);
        else rows.push(...page);
      },
    );
  } finally {
    d.close();
  }
  if (flags.json) return;
  if (rows.length === 0) {
    out.write("No matching diagnoses.\n");
    return;
  }
  const body = rows.map((h): (string | Cell)[] => [
    h.host,
    kindCell(h.kind, h.resolved),
    String(h.misdirectedCount),
    evidence(h),
    when(h.lastSeen),
  ]);
  out.write(`${table(["HOST", "KIND", "421s", "PEERS / ADDRESSES", "LAST SEEN"], body, useColour(out))}\n`);
}

/** The peers a coalesced host's connections were opened for, the addresses that answer 421, or what is missing. */
export function evidence(h: HostDiagnosis): string {
  const parts: string[] = [];
  if (h.coalescedFrom.length > 0) {
    const from = `from ${h.coalescedFrom.map((p) => `${p.host} (${p.misdirectedCount})`).join(", ")}`;
    // Such a host has no 421s: its peers' counts are refusals, so the row says with which statuses.
    const refused = h.kind === DiagnosisKind.DIAGNOSIS_KIND_COALESCING_REFUSED;
    parts.push(refused ? `refused with ${h.refusedStatuses.join("/")} ${from}` : from);
  }
  const affected = h.addresses.filter((a) => a.affected);
  const shown = affected.length > 0 ? affected : h.addresses.filter((a) => a.ownMisdirectedCount > 0);
  if (shown.length > 0) {
    parts.push(`at ${shown.map((a) => `${a.address} (${a.ownMisdirectedCount}/${a.ownFetchCount})`).join(", ")}`);
  }
  if (h.missingFields.length > 0) parts.push(`missing ${h.missingFields.join(", ")}`);
  return parts.join("; ") || "-";
}
