import type { ConnectionInfo, FetchRecord, HttpProtocol } from "../../src/gen/webmasterid/crawldiag/v1/fetch.js";
import type { Random } from "./random.js";

/**
 * Boundary and hostile values for every field of a FetchRecord, each with the verdict the contract in
 * fetch.proto implies: "valid", "invalid" (the record must be rejected, naming the field), or "either" where the
 * contract leaves it open. Written from the proto comments, not from validate.ts, so they check it.
 */
type Verdict = "valid" | "invalid" | "either";
type Pool<T> = { valid: ((n: number) => T)[]; invalid: ((n: number) => T)[]; either?: ((n: number) => T)[] };

const DAY = 86_400_000;
/** Stands for "the record's own fetch_id" in retry_of. */
const SELF = "\u0000self";
// From the start of the current minute: whole seconds encode to the same number of bytes in every run, so the
// seeded mutations land on the same fields; the offsets keep their meaning (+4 min valid, +6 min not).
const at = (offsetMs: number) => () => new Date(Math.floor(Date.now() / 60_000) * 60_000 + offsetMs);
const bytes = (n: number) => () => Buffer.alloc(n, 7);
const k =
  <T>(v: T) =>
  () =>
    v;
const longUrl = (len: number) => () => {
  const base = "https://long.example.com/";
  return base + "p".repeat(len - base.length);
};

const RECORD: { [F in Exclude<keyof FetchRecord, "connection">]: Pool<FetchRecord[F]> } = {
  fetchId: {
    // Unique per record: a repeated fetch_id of a 421 would be refused as already recorded.
    valid: [(n) => `f${n}`, (n) => `f${n}-`.padEnd(128, "x"), (n) => `!~${n}"'\\`],
    invalid: [k(""), (n) => `f${n}-`.padEnd(129, "x"), (n) => `f ${n}`, (n) => `f${n}\u00e9`, (n) => `f${n}\u0000`],
  },
  crawler: {
    valid: [k("fleet-a"), k("a"), k("c".repeat(64)), k("A.b_c:d/e-f")],
    invalid: [k(""), k("c".repeat(65)), k("fleet a"), k("fl\u00ebet"), k("fleet\n")],
  },
  url: {
    valid: [
      (n) => `https://h${n % 50}.example.com/`,
      k("http://h.example.com:8080/p?q=1#f"),
      k("https://192.0.2.1/"),
      k("https://[2001:db8::1]:8443/"),
      k("https://b\u00fccher.example/"),
      k("https://user:pw@h.example.com/private"),
      longUrl(2048),
    ],
    invalid: [
      k(""),
      k("ftp://h.example.com/"),
      k("h.example.com"),
      k("https://"),
      k("https://a..b/"),
      k("https://h.example.com:65536/"),
      k("javascript:alert(1)"),
      k("https://exa mple.com/"),
      longUrl(2049),
    ],
    either: [k("HTTPS://EXAMPLE.COM./"), k("https://localhost/"), k("https://[::1]/"), k("https://h.example.com:0/")],
  },
  statusCode: { valid: [k(100), k(200), k(421), k(599)], invalid: [k(0), k(99), k(600), k(4294967295)] },
  fetchedAt: {
    valid: [at(-60_000), at(4 * 60_000), at(-89 * DAY)],
    invalid: [k(undefined), at(6 * 60_000), k(new Date(0)), at(-91 * DAY), k(new Date("9999-12-31T00:00:00Z"))],
  },
  protocol: { valid: [k(0), k(1), k(2), k(3)], invalid: [k(4 as HttpProtocol), k(-1), k(2147483647 as HttpProtocol)] },
  retryOf: {
    valid: [k(""), (n) => `r${n}`],
    invalid: [k(SELF), k("r".repeat(129)), k("r 1")],
  },
  serverSoftware: {
    valid: [k(""), k("nginx"), k("s".repeat(64)), k("Apache/2.4 (Unix)")],
    invalid: [k("s".repeat(65)), k("nginx\n"), k("\u00fc")],
  },
};

const CONNECTION: { [F in keyof ConnectionInfo]: Pool<ConnectionInfo[F]> } = {
  connectionId: { valid: [k(""), k("c1"), k("c".repeat(128))], invalid: [k("c".repeat(129)), k("c 1"), k("\u00e7")] },
  tlsServerName: {
    valid: [k(undefined), k(""), k("h.example.com"), k("192.0.2.1"), k("H.Example.COM.")],
    invalid: [k("bad host"), k("a..b"), k("x".repeat(256))],
    either: [k("[::1]"), k("::1"), k("fe80::1%eth0")],
  },
  requestIndex: { valid: [k(undefined), k(0), k(4294967295)], invalid: [] },
  remoteAddress: {
    valid: [k(""), k("192.0.2.1"), k("2001:db8::1"), k("::ffff:192.0.2.1")],
    invalid: [k("999.1.1.1"), k("not-ip"), k("192.0.2.1:443"), k("[2001:db8::1]")],
    either: [k("fe80::1%eth0")],
  },
  certificateCoversHost: { valid: [k(undefined), k(true), k(false)], invalid: [] },
  certificateSha256: { valid: [bytes(0), bytes(32)], invalid: [bytes(1), bytes(31), bytes(33)] },
  viaAltSvc: { valid: [k(true), k(false)], invalid: [] },
  originFrameListsHost: { valid: [k(undefined), k(true), k(false)], invalid: [] },
};

const SNAKE = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export interface FuzzRecord {
  record: FetchRecord;
  verdict: Verdict;
  /** The proto path of the one field given a non-valid value, if any. */
  field?: string;
}

function pick<T>(r: Random, pool: Pool<T>, verdict: Verdict, n: number): T {
  const list = verdict === "valid" ? pool.valid : verdict === "invalid" ? pool.invalid : (pool.either ?? []);
  return r.pick(list)(n);
}

/** A record with every field valid, or with exactly one field (chosen at random) invalid or undecided. */
export function fuzzRecord(r: Random, n: number): FuzzRecord {
  const record = {} as Record<string, unknown>;
  for (const [name, pool] of Object.entries(RECORD)) record[name] = pick(r, pool as Pool<unknown>, "valid", n);
  const connection = {} as Record<string, unknown>;
  for (const [name, pool] of Object.entries(CONNECTION)) connection[name] = pick(r, pool as Pool<unknown>, "valid", n);
  record.connection = r.chance(0.2) ? undefined : connection;
  if (r.chance(0.5)) return { record: record as unknown as FetchRecord, verdict: "valid" };

  const inConnection = record.connection !== undefined && r.chance(0.35);
  const pools: Record<string, Pool<unknown>> = inConnection ? CONNECTION : RECORD;
  const candidates = Object.entries(pools).filter(([, p]) => p.invalid.length > 0 || (p.either?.length ?? 0) > 0);
  const [name, pool] = r.pick(candidates);
  const verdict: Verdict =
    pool.invalid.length === 0 || (pool.either !== undefined && r.chance(0.25)) ? "either" : "invalid";
  const value = pick(r, pool, verdict, n);
  if (inConnection) connection[name] = value;
  else record[name] = value === SELF ? record.fetchId : value;
  const field = inConnection ? `connection.${SNAKE(name)}` : SNAKE(name);
  return { record: record as unknown as FetchRecord, verdict, field };
}
