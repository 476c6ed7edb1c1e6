import { readdirSync, readFileSync } from "node:fs";
import { Kind } from "../../src/domain/diagnosis.js";

/** The shared worked cases (../shared/scenarios, beside the project): see ../shared/README.md for the format. */
export interface Expectation {
  host: string;
  kind: string;
  misdirectedCount?: number;
  coalescedFrom?: string[];
  affectedAddresses?: string[];
  excludedClientSideCount?: number;
}

export interface Scenario {
  file: string;
  name: string;
  window: { startTime: string; endTime: string };
  records: unknown[];
  expect: Expectation[];
}

const FOLDER = new URL("../../../shared/scenarios/", import.meta.url);

/** Every scenario file in the folder, so that new ones are picked up without code changes. */
export function loadScenarios(): Scenario[] {
  return readdirSync(FOLDER)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ file, ...JSON.parse(readFileSync(new URL(file, FOLDER), "utf8")) }));
}

/** What both the domain's Diagnosis and the proto HostDiagnosis carry. */
export interface Verdict {
  kind: number;
  misdirectedCount: number;
  excludedClientSideCount: number;
  coalescedFrom: { host: string }[];
  addresses: { address: string; affected: boolean }[];
}

/** The short name of a Kind number ("VIRTUAL_HOST"), for readable assertions. */
export const kindName = (kind: number): string => Object.entries(Kind).find(([, v]) => v === kind)?.[0] ?? String(kind);

/** Every difference between what a scenario expects of one host and the verdict it got. */
export function mismatches(e: Expectation, d: Verdict): string[] {
  const out: string[] = [];
  const check = (what: string, got: unknown, want: unknown) => {
    if (want !== undefined && JSON.stringify(got) !== JSON.stringify(want)) {
      out.push(`${e.host}: ${what} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  };
  check("kind", `DIAGNOSIS_KIND_${kindName(d.kind)}`, e.kind);
  check("misdirectedCount", d.misdirectedCount, e.misdirectedCount);
  check("excludedClientSideCount", d.excludedClientSideCount, e.excludedClientSideCount);
  check(
    "coalescedFrom",
    d.coalescedFrom.map((p) => p.host),
    e.coalescedFrom,
  );
  // A set: the diagnosis lists addresses most 421s first (the rules' order), the files list them by address.
  const affected = d.addresses.filter((a) => a.affected).map((a) => a.address);
  check("affectedAddresses", affected.sort(), e.affectedAddresses && [...e.affectedAddresses].sort());
  return out;
}
