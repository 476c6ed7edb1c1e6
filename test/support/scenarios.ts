import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { Kind } from "../../src/domain/diagnosis.js";

/**
 * Worked cases for the classifier: `name`, `description`, `window`, `records` (FetchRecords in the proto3 JSON
 * mapping) and `expect` (per host, a DiagnosisKind name and the evidence that must match where given).
 */
export interface Expectation {
  host: string;
  kind: string;
  misdirectedCount?: number;
  coalescedFrom?: string[];
  affectedAddresses?: string[];
  excludedClientSideCount?: number;
  refusedCount?: number;
}

export interface Scenario {
  file: string;
  name: string;
  window: { startTime: string; endTime: string };
  records: unknown[];
  expect: Expectation[];
}

/** The project's own copy: a clone with nothing beside it must still have every case. */
export const FIXTURE_FOLDER = new URL("../fixtures/scenarios/", import.meta.url);
/** Where upstream publishes new cases when it is checked out beside the project; optional. */
export const SHARED_FOLDER = new URL("../../../shared/scenarios/", import.meta.url);

/**
 * The scenario files to run, sorted by file name so test order is stable. A missing folder is skipped; a file
 * name found in several folders is taken from the last, so the upstream copy (newer) wins over the fixture.
 */
export function scenarioFiles(folders: readonly URL[] = [FIXTURE_FOLDER, SHARED_FOLDER]): URL[] {
  const byName = new Map<string, URL>();
  for (const folder of folders) {
    if (!existsSync(folder)) continue;
    for (const file of readdirSync(folder)) {
      if (file.endsWith(".json")) byName.set(file, new URL(file, folder));
    }
  }
  return [...byName.keys()].sort().flatMap((file) => byName.get(file) ?? []);
}

/** Every scenario of every folder, so that new cases are picked up without code changes. */
export function loadScenarios(folders?: readonly URL[]): Scenario[] {
  return scenarioFiles(folders).map((url) => {
    const path = fileURLToPath(url);
    try {
      return { file: basename(path), ...JSON.parse(readFileSync(path, "utf8")) };
    } catch (e) {
      // Name the file: a broken case should not read as a failure of every scenario test.
      throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

/** What both the domain's Diagnosis and the proto HostDiagnosis carry. */
export interface Verdict {
  kind: number;
  misdirectedCount: number;
  excludedClientSideCount: number;
  refusedCount: number;
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
  check("refusedCount", d.refusedCount, e.refusedCount);
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
