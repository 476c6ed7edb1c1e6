import { DiagnosisKind } from "../gen/webmasterid/crawldiag/v1/diagnosis.js";

export type Style = "bold" | "dim" | "red" | "yellow" | "cyan" | "green";
const CODES: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  green: [32, 39],
};

/** Colour for people at a terminal only: pipes, files and NO_COLOR get plain text. */
export function useColour(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && (process.env.NO_COLOR ?? "") === "";
}

export function paint(text: string, style: Style | undefined, colour: boolean): string {
  if (!colour || style === undefined || text === "") return text;
  const [on, off] = CODES[style];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}

export interface Cell {
  text: string;
  style?: Style | undefined;
}

/** Columns padded to their widest cell (measured before colouring), two spaces apart. */
export function table(headers: string[], rows: (string | Cell)[][], colour: boolean): string {
  const cells = rows.map((row) => row.map((c) => (typeof c === "string" ? { text: c } : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.text.length ?? 0)));
  const line = (row: Cell[]) =>
    row
      .map((c, i) => {
        const last = i === row.length - 1;
        return paint(last ? c.text : c.text.padEnd(widths[i] ?? 0), c.style, colour);
      })
      .join("  ")
      .trimEnd();
  return [line(headers.map((text) => ({ text, style: "bold" as const }))), ...cells.map(line)].join("\n");
}

const KINDS: Record<number, { label: string; style: Style }> = {
  [DiagnosisKind.DIAGNOSIS_KIND_MIXED]: { label: "mixed", style: "red" },
  [DiagnosisKind.DIAGNOSIS_KIND_VIRTUAL_HOST]: { label: "virtual host", style: "red" },
  [DiagnosisKind.DIAGNOSIS_KIND_EDGE_ROUTING]: { label: "edge routing", style: "yellow" },
  [DiagnosisKind.DIAGNOSIS_KIND_COALESCING_REFUSED]: { label: "coalescing refused", style: "red" },
  [DiagnosisKind.DIAGNOSIS_KIND_CONNECTION_COALESCING]: { label: "connection coalescing", style: "yellow" },
  [DiagnosisKind.DIAGNOSIS_KIND_INSUFFICIENT_EVIDENCE]: { label: "insufficient evidence", style: "cyan" },
  [DiagnosisKind.DIAGNOSIS_KIND_NOT_RECURRING]: { label: "not recurring", style: "dim" },
  [DiagnosisKind.DIAGNOSIS_KIND_NO_MISDIRECTED_REQUESTS]: { label: "no 421s", style: "green" },
};

export function kindCell(kind: DiagnosisKind, resolved = false): Cell {
  const k = KINDS[kind] ?? { label: String(kind), style: undefined };
  return { text: resolved ? `${k.label} (resolved)` : k.label, style: resolved ? "dim" : k.style };
}

/** "2025-03-01 14:05Z": minutes are enough for people; --json keeps the full timestamp. */
export function when(d: Date | undefined): string {
  return d === undefined ? "-" : `${d.toISOString().slice(0, 16).replace("T", " ")}Z`;
}

/**
 * A kind named on the command line: "virtual-host", "VIRTUAL_HOST" or "DIAGNOSIS_KIND_VIRTUAL_HOST"; "coalescing"
 * and "edge" are accepted as short forms.
 */
export function parseKind(raw: string): DiagnosisKind {
  const name = raw
    .trim()
    .toUpperCase()
    .replace(/-/g, "_")
    .replace(/^DIAGNOSIS_KIND_/, "");
  const alias: Record<string, string> = {
    COALESCING: "CONNECTION_COALESCING",
    EDGE: "EDGE_ROUTING",
    REFUSED: "COALESCING_REFUSED",
  };
  const key = `DIAGNOSIS_KIND_${alias[name] ?? name}` as keyof typeof DiagnosisKind;
  const kind = DiagnosisKind[key];
  if (typeof kind !== "number" || kind <= 0) {
    const names = Object.keys(DiagnosisKind)
      .filter((k) => k.startsWith("DIAGNOSIS_KIND_") && k !== "DIAGNOSIS_KIND_UNSPECIFIED")
      .map((k) => k.slice("DIAGNOSIS_KIND_".length).toLowerCase().replace(/_/g, "-"));
    throw new Error(`unknown kind "${raw}" (one of: ${names.join(", ")})`);
  }
  return kind;
}
