import { readdirSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { diagnose } from "../src/domain/classify.js";
import { Confidence, type HostFacts, Kind, type Misdirected, type OwnTraffic } from "../src/domain/diagnosis.js";
import { Artifact, ConnKind, Protocol } from "../src/domain/fetch-kind.js";
import { DEFAULT_THRESHOLDS, parseThresholds, type Thresholds } from "../src/domain/thresholds.js";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { factsFromRecords } from "./support/facts.js";

// ---------------------------------------------------------------------------------------------------------------
// a. The shared scenarios: every file in the folder, so new ones are picked up without code changes.

interface Expectation {
  host: string;
  kind: string;
  misdirectedCount?: number;
  coalescedFrom?: string[];
  affectedAddresses?: string[];
  excludedClientSideCount?: number;
}

interface Scenario {
  name: string;
  window: { startTime: string; endTime: string };
  records: unknown[];
  expect: Expectation[];
}

const SCENARIOS = new URL("../../shared/scenarios/", import.meta.url);

function kindOf(name: string): Kind {
  const short = name.replace(/^DIAGNOSIS_KIND_/, "");
  if (!Object.hasOwn(Kind, short)) throw new Error(`unknown kind ${name}`);
  return Kind[short as keyof typeof Kind];
}

function kindName(kind: Kind): string {
  return Object.entries(Kind).find(([, v]) => v === kind)?.[0] ?? String(kind);
}

/** Every difference between what a scenario expects of one host and what the classifier says. */
function mismatches(scenario: Scenario, e: Expectation): string[] {
  const window = { startMs: Date.parse(scenario.window.startTime), endMs: Date.parse(scenario.window.endTime) };
  const records = scenario.records.map((r) => FetchRecord.fromJSON(r));
  const d = diagnose(factsFromRecords(records, e.host, window));
  const out: string[] = [];
  const check = (what: string, got: unknown, want: unknown) => {
    if (want !== undefined && JSON.stringify(got) !== JSON.stringify(want)) {
      out.push(`${e.host}: ${what} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  };
  check("kind", kindName(d.kind), kindName(kindOf(e.kind)));
  check("misdirectedCount", d.misdirectedCount, e.misdirectedCount);
  check(
    "coalescedFrom",
    d.coalescedFrom.map((p) => p.host),
    e.coalescedFrom,
  );
  check(
    "affectedAddresses",
    d.addresses.filter((a) => a.affected).map((a) => a.address),
    e.affectedAddresses,
  );
  check("excludedClientSideCount", d.excludedClientSideCount, e.excludedClientSideCount);
  return out;
}

for (const file of readdirSync(SCENARIOS)
  .filter((f) => f.endsWith(".json"))
  .sort()) {
  test(`scenario ${file} gets the expected diagnosis for every host`, () => {
    const scenario = JSON.parse(readFileSync(new URL(file, SCENARIOS), "utf8")) as Scenario;
    assert.ok(scenario.expect.length > 0, `${file} expects nothing`);
    const found = scenario.expect.flatMap((e) => mismatches(scenario, e));
    assert.equal(found, [], `${file}:\n${found.join("\n")}`);
  });
}

test.run();
