import { confidenceToJSON, DiagnosisKind, HostDiagnosis } from "../gen/webmasterid/crawldiag/v1/diagnosis.js";
import { httpProtocolToJSON } from "../gen/webmasterid/crawldiag/v1/fetch.js";
import { kindCell, paint, table, useColour, when } from "./format.js";
import { diagnosis, type ServerFlags } from "./rpc.js";

export interface HostFlags extends ServerFlags {
  json?: boolean | undefined;
}

/** `host <name>`: one diagnosis with its evidence, summary and remediation. */
export async function host(name: string, flags: HostFlags, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  const d = diagnosis(flags);
  let h: HostDiagnosis | undefined;
  try {
    h = (await d.call(d.client.getHostDiagnosis, { host: name, window: undefined })).diagnosis;
  } finally {
    d.close();
  }
  if (h === undefined) throw new Error("the server answered without a diagnosis");
  out.write(flags.json ? `${JSON.stringify(HostDiagnosis.toJSON(h))}\n` : describe(h, useColour(out)));
}

export function describe(h: HostDiagnosis, colour: boolean): string {
  const kind = kindCell(h.kind, h.resolved);
  const confidence = confidenceToJSON(h.confidence)
    .replace(/^CONFIDENCE_/, "")
    .toLowerCase();
  const refusedKind = h.kind === DiagnosisKind.DIAGNOSIS_KIND_COALESCING_REFUSED;
  const facts: [string, string][] = [
    ["window", `${when(h.window?.startTime)} to ${when(h.window?.endTime)}`],
    ["fetches", String(h.fetchCount)],
    [
      "421s counted",
      `${h.misdirectedCount} (coalesced ${h.coalescedMisdirectedCount}, own connection ${h.ownConnectionMisdirectedCount})`,
    ],
    ["client-side 421s", `${h.excludedClientSideCount} (not counted against the host)`],
    [refusedKind ? "refusals retried" : "coalesced retried", `${h.retriedCount}, recovered ${h.retryRecoveredCount}`],
    ["own retried", `${h.ownRetriedCount}, recovered ${h.ownRetryRecoveredCount}`],
    ["spread", `${h.distinctDays} day(s), ${h.distinctConnections} connection(s)`],
    ["first / last seen", `${when(h.firstSeen)} / ${when(h.lastSeen)}`],
    [
      "protocols",
      h.misdirectedProtocols.map((p) => httpProtocolToJSON(p).replace(/^HTTP_PROTOCOL_/, "")).join(", ") || "-",
    ],
  ];
  if (h.refusedCount > 0) {
    facts.splice(3, 0, ["refused", `${h.refusedCount} coalesced request(s) answered ${h.refusedStatuses.join("/")}`]);
  }
  if (h.missingFields.length > 0) facts.push(["missing fields", h.missingFields.join(", ")]);
  const lines = [
    `${paint(h.host, "bold", colour)}: ${paint(kind.text, kind.style, colour)} (confidence ${confidence})`,
    h.summary,
    "",
    ...facts.map(([k, v]) => `  ${`${k}:`.padEnd(19)}${v}`),
  ];
  if (h.coalescedFrom.length > 0) {
    const peers = h.coalescedFrom.map((p) => [p.host, String(p.misdirectedCount)]);
    const counted = refusedKind ? "REFUSALS" : "421s";
    lines.push("", indent(table(["PEER HOST (connection opened for)", counted], peers, colour)));
  }
  if (h.addresses.length > 0) {
    const rows = h.addresses.map((a) => [
      a.address,
      String(a.ownFetchCount),
      String(a.ownMisdirectedCount),
      String(a.answeredCount),
      a.affected ? { text: "yes", style: "red" as const } : "no",
    ]);
    // ANSWERED counts non-421 answers on any connection: a healthy edge may be reached only over pooled ones.
    const headers = ["ADDRESS", "OWN FETCHES", "OWN 421s", "ANSWERED", "AFFECTED"];
    lines.push("", indent(table(headers, rows, colour)));
  }
  lines.push("", paint("What to change:", "bold", colour), indent(wrap(h.remediation, 96)), "");
  return lines.join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

function wrap(text: string, width: number): string {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") out.push(line);
  return out.join("\n");
}
