import { test } from "uvu";
import * as assert from "uvu/assert";
import { diagnose } from "../src/domain/classify.js";
import { type AddressTraffic, Confidence, type DetailFetch, type HostFacts, Kind } from "../src/domain/diagnosis.js";
import { Artifact, ConnKind, Protocol } from "../src/domain/fetch-kind.js";
import { DEFAULT_THRESHOLDS, parseThresholds, type Thresholds } from "../src/domain/thresholds.js";
import { DAY_MS, HOUR_MS } from "../src/domain/window.js";
import { FetchRecord } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { factsFromRecords } from "./support/facts.js";
import { kindName, loadScenarios, mismatches } from "./support/scenarios.js";

// ---------------------------------------------------------------------------------------------------------------
// a. The scenarios (test/fixtures/scenarios, and ../shared/scenarios where it exists), new ones picked up unchanged.

for (const scenario of loadScenarios()) {
  test(`scenario ${scenario.file} gets the expected diagnosis for every host`, () => {
    assert.ok(scenario.expect.length > 0, `${scenario.file} expects nothing`);
    const records = scenario.records.map((r) => FetchRecord.fromJSON(r));
    const window = { startMs: Date.parse(scenario.window.startTime), endMs: Date.parse(scenario.window.endTime) };
    const found = scenario.expect.flatMap((e) => mismatches(e, diagnose(factsFromRecords(records, e.host, window))));
    assert.equal(found, [], `${scenario.file}:\n${found.join("\n")}`);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// HostFacts built by hand, for the thresholds and the rule order.

const START = Date.UTC(2026, 5, 1);
const END = START + 30 * DAY_MS;
const HOST = "api.ex.com";
const PEER = "www.ex.com";
const A = "192.0.2.1";
const B = "192.0.2.2";

let seq = 0;

/** A 421 on `day` (days after the window's start), on a connection of its own unless `over` says otherwise. */
function m421(kind: ConnKind, day: number, over: Partial<DetailFetch> = {}): DetailFetch {
  seq++;
  const sni: Record<ConnKind, string | undefined> = {
    [ConnKind.OWN]: HOST,
    [ConnKind.COALESCED]: PEER,
    [ConnKind.SNI_NOT_REPORTED]: undefined,
    [ConnKind.CLIENT_ARTIFACT]: "",
    [ConnKind.OTHER]: PEER,
  };
  return {
    timeMs: START + day * DAY_MS + HOUR_MS,
    status: 421,
    crawler: "fleet-a",
    connectionId: `c${seq}`,
    sni: sni[kind],
    protocol: kind === ConnKind.OTHER ? Protocol.UNSPECIFIED : Protocol.HTTP2,
    kind,
    artifact: kind === ConnKind.CLIENT_ARTIFACT ? Artifact.NO_SNI : Artifact.NONE,
    address: A,
    originFrame: undefined,
    retryStatuses: [],
    ...over,
  };
}

type Make = (day: number, over?: Partial<DetailFetch>) => DetailFetch;
const own: Make = (day, over) => m421(ConnKind.OWN, day, over);
const coalesced: Make = (day, over) => m421(ConnKind.COALESCED, day, over);
/** Coalesced, and its retry on a fresh connection was served. */
const recovered: Make = (day, over) => m421(ConnKind.COALESCED, day, { retryStatuses: [200], ...over });
const noSni: Make = (day, over) => m421(ConnKind.SNI_NOT_REPORTED, day, over);
const artifact: Make = (day, over) => m421(ConnKind.CLIENT_ARTIFACT, day, over);

/** n 421s, one a day from the window's start, cycling over `days` days. */
function spread(n: number, make: Make, days = n): DetailFetch[] {
  return Array.from({ length: n }, (_, i) => make(i % days));
}

/** Facts whose own traffic matches the own 421s given, plus `answered` non-421 own fetches per address. */
function facts(misdirected: DetailFetch[], answered: Record<string, number> = {}, extra: Partial<HostFacts> = {}) {
  const byAddress = new Map<string, AddressTraffic>();
  const at = (address: string): AddressTraffic => {
    const a = byAddress.get(address) ?? { address, ownFetches: 0, ownMisdirected: 0, ownRefused: 0, answered: 0 };
    byAddress.set(address, a);
    return a;
  };
  for (const m of misdirected.filter((x) => x.kind === ConnKind.OWN)) {
    at(m.address).ownFetches++;
    at(m.address).ownMisdirected++;
  }
  for (const [address, n] of Object.entries(answered)) {
    at(address).ownFetches += n;
    at(address).answered += n;
  }
  const traffic = [...byAddress.values()];
  const f: HostFacts = {
    host: HOST,
    window: { startMs: START, endMs: END },
    fetchCount: misdirected.length + traffic.reduce((sum, a) => sum + a.answered, 0),
    misdirected,
    refused: [],
    traffic,
    lastOwnAnsweredHourMs: undefined,
  };
  return { ...f, ...extra };
}

function kindIs(f: HostFacts, want: Kind, t: Thresholds = DEFAULT_THRESHOLDS, why = ""): void {
  const got = diagnose(f, t).kind;
  assert.is(kindName(got), kindName(want), why);
}

// ---------------------------------------------------------------------------------------------------------------
// b. Every [J] threshold: just below, and at the value.

test("two 421s are not recurring, three are (recurringMinCount)", () => {
  kindIs(facts(spread(2, own)), Kind.NOT_RECURRING);
  kindIs(facts(spread(3, own)), Kind.VIRTUAL_HOST);
});

test("421s on one UTC day are not recurring, on two days they are (recurringMinDays)", () => {
  kindIs(facts([own(0), own(0), own(0)]), Kind.NOT_RECURRING);
  kindIs(facts([own(0), own(0), own(1)]), Kind.VIRTUAL_HOST);
});

test("one minute either side of UTC midnight counts as two days", () => {
  const midnight = START + DAY_MS;
  const at = (timeMs: number) => own(0, { timeMs });
  kindIs(facts([at(midnight - 120_000), at(midnight - 60_000), at(midnight - 1)]), Kind.NOT_RECURRING);
  kindIs(facts([at(midnight - 120_000), at(midnight - 60_000), at(midnight)]), Kind.VIRTUAL_HOST);
});

test("421s on one connection are not recurring, on two they are (recurringMinConnections)", () => {
  kindIs(facts(spread(3, (d) => own(d, { connectionId: "same" }))), Kind.NOT_RECURRING);
  kindIs(facts([own(0, { connectionId: "same" }), own(1, { connectionId: "same" }), own(2)]), Kind.VIRTUAL_HOST);
});

test("a connection id is scoped to its crawler, and a 421 without one is a connection of its own", () => {
  const sameId = [own(0, { connectionId: "x" }), own(1, { connectionId: "x" }), own(2, { connectionId: "x" })];
  kindIs(facts(sameId), Kind.NOT_RECURRING);
  sameId[2] = own(2, { connectionId: "x", crawler: "fleet-b" });
  kindIs(facts(sameId), Kind.VIRTUAL_HOST);
  const d = diagnose(facts(spread(3, (day) => own(day, { connectionId: "" }))));
  assert.is(d.distinctConnections, 3);
  assert.is(d.kind, Kind.VIRTUAL_HOST);
});

test("two known 421s are not enough evidence, three are (minKnown)", () => {
  kindIs(facts([own(0), own(1), noSni(2)]), Kind.INSUFFICIENT_EVIDENCE);
  kindIs(facts([own(0), own(1), own(2), noSni(2)]), Kind.VIRTUAL_HOST);
});

test("known 421s below half of the counted ones are not enough, half is (minKnownShare)", () => {
  kindIs(facts([...spread(3, own), ...spread(4, noSni)]), Kind.INSUFFICIENT_EVIDENCE, DEFAULT_THRESHOLDS, "3 of 7");
  kindIs(facts([...spread(3, own), ...spread(3, noSni)]), Kind.VIRTUAL_HOST, DEFAULT_THRESHOLDS, "3 of 6");
});

test("coalesced 421s below 80% of the known ones are not coalescing, 80% is (minCoalescedShare)", () => {
  // Two own 421s in 100 own fetches: clean (2%), and not recurring, so the fallback is rule 6.
  kindIs(facts([...spread(7, recovered), own(0), own(1)], { [A]: 98 }), Kind.INSUFFICIENT_EVIDENCE, undefined, "7/9");
  kindIs(facts([...spread(8, recovered), own(0), own(1)], { [A]: 98 }), Kind.CONNECTION_COALESCING, undefined, "8/10");
});

test("own connections with more than 2% 421s are not clean, 2% is (ownCleanMaxRate)", () => {
  kindIs(facts([...spread(10, recovered), own(0), own(1)], { [A]: 97 }), Kind.INSUFFICIENT_EVIDENCE, undefined, "2/99");
  kindIs(
    facts([...spread(10, recovered), own(0), own(1)], { [A]: 98 }),
    Kind.CONNECTION_COALESCING,
    undefined,
    "2/100",
  );
});

test("a single own-connection 421 keeps own connections clean whatever the rate", () => {
  kindIs(facts([...spread(10, recovered), own(0)], { [A]: 1 }), Kind.CONNECTION_COALESCING);
});

test("without retries, own traffic above 5% 421s does not show the host answers, 5% does (ownAnswersMaxRate)", () => {
  kindIs(facts([...spread(5, coalesced), own(0)], { [A]: 18 }), Kind.INSUFFICIENT_EVIDENCE, undefined, "1/19");
  kindIs(facts([...spread(5, coalesced), own(0)], { [A]: 19 }), Kind.CONNECTION_COALESCING, undefined, "1/20");
});

test("without retries and without own traffic nothing shows the host answers", () => {
  kindIs(facts(spread(5, coalesced)), Kind.INSUFFICIENT_EVIDENCE);
});

test("one retried coalesced 421 is no retry test, two are (minRetried)", () => {
  kindIs(facts([recovered(0), ...spread(4, coalesced)]), Kind.INSUFFICIENT_EVIDENCE);
  kindIs(facts([recovered(0), recovered(1), ...spread(3, coalesced)]), Kind.CONNECTION_COALESCING);
});

test("retries recovering below 90% fail the retry test, 90% pass it (minRetryRecoveredShare)", () => {
  const failed: Make = (day) => coalesced(day, { retryStatuses: [421] });
  kindIs(facts([...spread(9, recovered), failed(3)]), Kind.CONNECTION_COALESCING, undefined, "9/10");
  // With enough retries the own-traffic branch is closed, even when own traffic is clean.
  kindIs(facts([...spread(8, recovered), failed(3)], { [A]: 100 }), Kind.INSUFFICIENT_EVIDENCE, undefined, "8/9");
});

test("a retried 421 recovered when any of its retries got another status than 421", () => {
  const d = diagnose(facts([...spread(3, (day) => coalesced(day, { retryStatuses: [421, 200] })), coalesced(3)]));
  assert.is(d.retriedCount, 3);
  assert.is(d.retryRecoveredCount, 3);
  assert.is(d.kind, Kind.CONNECTION_COALESCING);
});

test("an address with one own fetch is not assessed, with two it is (assessedMinOwnFetches)", () => {
  kindIs(facts(spread(3, own), { [B]: 1 }), Kind.VIRTUAL_HOST);
  kindIs(facts(spread(3, own), { [B]: 2 }), Kind.EDGE_ROUTING);
  assert.equal(
    diagnose(facts(spread(3, own), { [B]: 1, "": 50 })).addresses.map((a) => a.address),
    [A],
    "unassessed and unreported addresses are left out",
  );
});

test("an address below 50% own 421s is not affected, at 50% it is (edgeAffectedMinRate)", () => {
  kindIs(facts(spread(3, own), { [A]: 4, [B]: 20 }), Kind.VIRTUAL_HOST, undefined, "3/7");
  const d = diagnose(facts(spread(3, own), { [A]: 3, [B]: 20 }));
  assert.is(d.kind, Kind.EDGE_ROUTING, "3/6");
  assert.equal(
    d.addresses.map((a) => [a.address, a.affected]),
    [
      [A, true],
      [B, false],
    ],
  );
});

test("an address above 5% own 421s does not serve the host, at 5% it does (edgeCleanMaxRate)", () => {
  const at = [...spread(3, own), own(3, { address: B })];
  kindIs(facts(at, { [B]: 18 }), Kind.VIRTUAL_HOST, undefined, "1/19");
  kindIs(facts(at, { [B]: 19 }), Kind.EDGE_ROUTING, undefined, "1/20");
});

test("a diagnosis is resolved only when the last 421 is more than 7 days old (resolvedAfterDays)", () => {
  const ending = (lastMs: number) =>
    facts([own(0), own(1), own(2, { timeMs: lastMs })], {}, { lastOwnAnsweredHourMs: END - HOUR_MS });
  assert.is(diagnose(ending(END - 7 * DAY_MS)).resolved, false, "exactly 7 days");
  assert.is(diagnose(ending(END - 7 * DAY_MS - 1)).resolved, true, "7 days and 1 ms");
});

test("the default window is 30 days (defaultWindowDays, used by the transport, not the classifier)", () => {
  assert.is(DEFAULT_THRESHOLDS.defaultWindowDays, 30);
  assert.is(parseThresholds('{"defaultWindowDays": 7}').defaultWindowDays, 7);
});

// ---------------------------------------------------------------------------------------------------------------
// c. Rule order, confidence, resolved, missing fields, configuration.

test("recurring coalescing and recurring own 421s with retries recovering make MIXED", () => {
  const d = diagnose(facts([...spread(12, recovered), ...spread(3, own)]));
  assert.is(kindName(d.kind), "MIXED");
  assert.equal(
    d.addresses.filter((a) => a.affected),
    [],
    "the vhost branch marks no address",
  );
});

test("MIXED reached through the edge branch marks the affected addresses", () => {
  const d = diagnose(facts([...spread(12, recovered), ...spread(3, own)], { [B]: 20 }));
  assert.is(kindName(d.kind), "MIXED");
  assert.equal(
    d.addresses.filter((a) => a.affected).map((a) => a.address),
    [A],
  );
});

test("recurring coalescing without the retry test does not make MIXED, the vhost finding stands", () => {
  kindIs(facts([...spread(12, coalesced), ...spread(3, own)]), Kind.VIRTUAL_HOST);
});

test("coalescing is decided before the vhost family even when own 421s recur", () => {
  // 3 own 421s in 150 own fetches is 2%: clean, though recurring.
  kindIs(facts([...spread(20, recovered), ...spread(3, own)], { [A]: 147 }), Kind.CONNECTION_COALESCING);
});

test("edge routing is decided before virtual host", () => {
  kindIs(facts(spread(4, own), { [B]: 10 }), Kind.EDGE_ROUTING);
  kindIs(facts(spread(4, own), { [B]: 1 }), Kind.VIRTUAL_HOST);
});

test("too small a known share is insufficient evidence even when the known 421s look like coalescing", () => {
  const d = diagnose(facts([...spread(4, recovered), ...spread(5, noSni)]));
  assert.is(kindName(d.kind), "INSUFFICIENT_EVIDENCE");
  assert.equal(d.missingFields, ["connection.tls_server_name"]);
});

test("421s that do not recur are NOT_RECURRING even when nothing is known about them", () => {
  kindIs(facts(spread(5, noSni, 1)), Kind.NOT_RECURRING);
});

test("client artifacts alone give NO_MISDIRECTED_REQUESTS and are counted as excluded", () => {
  const d = diagnose(facts(spread(5, artifact)));
  assert.is(kindName(d.kind), "NO_MISDIRECTED_REQUESTS");
  assert.is(d.excludedClientSideCount, 5);
  assert.is(d.misdirectedCount, 0);
});

test("client artifacts never make a host's 421s recurring", () => {
  kindIs(facts([own(0), own(1), ...spread(3, artifact)]), Kind.NOT_RECURRING);
});

test("an own-connection 421 without a reported protocol is counted but not known", () => {
  const d = diagnose(facts(spread(3, (day) => own(day, { protocol: Protocol.UNSPECIFIED }))));
  assert.is(kindName(d.kind), "INSUFFICIENT_EVIDENCE");
  assert.is(d.misdirectedCount, 3);
  assert.is(d.ownConnectionMisdirectedCount, 0);
  assert.equal(d.missingFields, ["protocol"]);
});

test("known 421s split so that neither part recurs fall through to insufficient evidence (rule 6)", () => {
  const d = diagnose(facts([...spread(3, coalesced), own(0), own(1)]));
  assert.is(kindName(d.kind), "INSUFFICIENT_EVIDENCE");
  assert.is(d.confidence, Confidence.LOW);
  assert.equal(d.missingFields, []);
});

test("an ORIGIN frame listing the host on a coalesced 421 makes coalescing HIGH", () => {
  const plain = [...spread(5, coalesced), own(0)];
  assert.is(diagnose(facts(plain, { [A]: 50 })).confidence, Confidence.MEDIUM);
  const listed = [coalesced(0, { originFrame: true }), ...spread(4, coalesced), own(0)];
  assert.is(diagnose(facts(listed, { [A]: 50 })).confidence, Confidence.HIGH);
});

test("coalescing is HIGH when both the retry test and the clean own traffic test hold", () => {
  assert.is(diagnose(facts(spread(5, recovered))).confidence, Confidence.MEDIUM, "retries only");
  assert.is(diagnose(facts(spread(5, recovered), { [A]: 50 })).confidence, Confidence.HIGH);
});

test("virtual host is HIGH when every assessed address has at least 50% own 421s", () => {
  assert.is(diagnose(facts(spread(3, own), { [A]: 3 })).confidence, Confidence.HIGH);
  const d = diagnose(facts([...spread(3, own), own(0, { address: B })], { [B]: 4 }));
  assert.is(d.kind, Kind.VIRTUAL_HOST);
  assert.is(d.confidence, Confidence.MEDIUM, "an address at 20%");
  const unassessed = diagnose(facts(spread(3, (day) => own(day, { address: "" }))));
  assert.is(unassessed.kind, Kind.VIRTUAL_HOST);
  assert.is(unassessed.confidence, Confidence.MEDIUM, "no assessed address, no corroboration");
});

test("confidence is MEDIUM for no or isolated 421s and LOW for insufficient evidence", () => {
  assert.is(diagnose(facts([])).confidence, Confidence.MEDIUM);
  assert.is(diagnose(facts([own(0)])).confidence, Confidence.MEDIUM);
  assert.is(diagnose(facts(spread(4, noSni))).confidence, Confidence.LOW);
});

test("resolved needs an own-connection answer in a later hour than the last 421", () => {
  const last = END - 10 * DAY_MS + HOUR_MS / 2;
  const ms = [own(0), own(1), own(2, { timeMs: last })];
  assert.is(diagnose(facts(ms)).resolved, false, "no answer at all");
  const sameHour = facts(ms, {}, { lastOwnAnsweredHourMs: last - HOUR_MS / 2 });
  assert.is(diagnose(sameHour).resolved, false, "answered in the hour of the last 421");
  const later = facts(ms, {}, { lastOwnAnsweredHourMs: last + HOUR_MS / 2 });
  assert.is(diagnose(later).resolved, true);
  assert.match(diagnose(later).summary, /has not done so since 2026-06-21\./);
});

test("only coalescing and the vhost family can be resolved", () => {
  const old = facts([own(0), own(1)], {}, { lastOwnAnsweredHourMs: END - DAY_MS });
  assert.is(diagnose(old).kind, Kind.NOT_RECURRING);
  assert.is(diagnose(old).resolved, false);
  const coalescingOld = facts(spread(5, recovered), {}, { lastOwnAnsweredHourMs: END - DAY_MS });
  assert.is(diagnose(coalescingOld).kind, Kind.CONNECTION_COALESCING);
  assert.is(diagnose(coalescingOld).resolved, true);
});

test("missing fields name protocol before the SNI, and only for insufficient evidence", () => {
  const d = diagnose(facts([noSni(0), noSni(1), m421(ConnKind.OTHER, 2), m421(ConnKind.OTHER, 3)]));
  assert.is(d.kind, Kind.INSUFFICIENT_EVIDENCE);
  assert.equal(d.missingFields, ["protocol", "connection.tls_server_name"]);
  assert.match(d.remediation, /protocol and connection\.tls_server_name/);
  assert.equal(diagnose(facts([...spread(3, own), noSni(0)])).missingFields, []);
});

test("the evidence carries counts, peers most first, addresses most 421s first and the protocols seen", () => {
  const ms = [
    ...spread(3, (day) => recovered(day, { sni: "b.ex.com", protocol: Protocol.HTTP3 })),
    ...spread(3, (day) => recovered(day, { sni: "a.ex.com" })),
    ...spread(5, recovered),
    coalesced(4, { retryStatuses: [421] }),
    own(1, { address: B, protocol: Protocol.HTTP1 }),
    noSni(2, { protocol: Protocol.UNSPECIFIED }),
    artifact(3),
  ];
  const d = diagnose(facts(ms, { [A]: 10, [B]: 99 }));
  assert.is(d.name, "hosts/api.ex.com");
  assert.is(d.kind, Kind.CONNECTION_COALESCING);
  assert.equal(
    d.coalescedFrom.map((p) => [p.host, p.misdirectedCount]),
    [
      [PEER, 6],
      ["a.ex.com", 3],
      ["b.ex.com", 3],
    ],
  );
  assert.equal(
    [d.misdirectedCount, d.coalescedMisdirectedCount, d.ownConnectionMisdirectedCount, d.excludedClientSideCount],
    [14, 12, 1, 1],
  );
  assert.equal([d.retriedCount, d.retryRecoveredCount], [12, 11]);
  assert.equal(
    d.addresses.map((a) => [a.address, a.ownFetchCount, a.ownMisdirectedCount]),
    [
      [B, 100, 1],
      [A, 10, 0],
    ],
  );
  assert.equal(d.misdirectedProtocols, [Protocol.HTTP1, Protocol.HTTP2, Protocol.HTTP3]);
  assert.is(d.distinctDays, 5);
  assert.is(d.distinctConnections, 14);
  assert.is(d.firstSeenMs, START + HOUR_MS);
  assert.is(d.lastSeenMs, START + 4 * DAY_MS + HOUR_MS);
});

test("summaries give the numbers and the verdict in one sentence", () => {
  const c = diagnose(facts([...spread(12, recovered, 5)], { [A]: 40 }));
  assert.is(
    c.summary,
    "api.ex.com answered 421 Misdirected Request 12 times over 5 days on connections our crawlers opened for " +
      "www.ex.com, and served 12 of 12 retried requests on fresh connections: connection coalescing.",
  );
  const e = diagnose(facts(spread(4, own), { [B]: 10 }));
  assert.match(e.summary, /at 192\.0\.2\.1, while other addresses served it: edge routing\.$/);
  for (const d of [c, e, diagnose(facts([])), diagnose(facts([own(0)])), diagnose(facts(spread(4, noSni)))]) {
    assert.ok(d.summary.startsWith("api.ex.com ") && d.summary.endsWith("."), d.summary);
    assert.ok(d.remediation.length > 0, kindName(d.kind));
  }
  assert.match(diagnose(facts([...spread(12, recovered), ...spread(3, own)])).remediation, /First the virtual host/);
});

test("parseThresholds applies overrides over the defaults", () => {
  assert.equal(parseThresholds("{}"), { ...DEFAULT_THRESHOLDS });
  const t = parseThresholds('{"minCoalescedShare": 0.7, "recurringMinCount": 4, "edgeCleanMaxRate": 0}');
  assert.equal(t, { ...DEFAULT_THRESHOLDS, minCoalescedShare: 0.7, recurringMinCount: 4, edgeCleanMaxRate: 0 });
});

test("parseThresholds rejects an unknown key, a non-number, a negative and a share above 1, naming the key", () => {
  assert.throws(() => parseThresholds('{"recurringMinCnt": 3}'), /recurringMinCnt/);
  assert.throws(() => parseThresholds('{"minKnown": "3"}'), /minKnown/);
  assert.throws(() => parseThresholds('{"minRetried": -1}'), /minRetried/);
  assert.throws(() => parseThresholds('{"edgeAffectedMinRate": 1.5}'), /edgeAffectedMinRate/);
  assert.is(parseThresholds('{"recurringMinDays": 5}').recurringMinDays, 5, "counts may exceed 1");
  assert.throws(() => parseThresholds("[1]"), /object/);
  assert.throws(() => parseThresholds("{"), /JSON/);
});

test("diagnose uses the thresholds it is given", () => {
  const oneDay = facts([own(0), own(0), own(0)]);
  kindIs(oneDay, Kind.NOT_RECURRING);
  kindIs(oneDay, Kind.VIRTUAL_HOST, parseThresholds('{"recurringMinDays": 1}'));
  const edge = facts(spread(3, own), { [A]: 3, [B]: 20 });
  kindIs(edge, Kind.EDGE_ROUTING);
  kindIs(edge, Kind.VIRTUAL_HOST, { ...DEFAULT_THRESHOLDS, edgeAffectedMinRate: 0.6 });
});

test.run();
