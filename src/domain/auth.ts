import { createHash, timingSafeEqual } from "node:crypto";
import { DomainError } from "./errors.js";

/** What a client may do: `ingest` calls IngestService, `read` calls DiagnosisService. */
export type Scope = "ingest" | "read";
const SCOPES: readonly Scope[] = ["ingest", "read"];

export interface AuthClient {
  /** The operator's label of the client; never a token, and not logged. */
  name: string;
  scopes: ReadonlySet<Scope>;
  /** Which `crawler` values this client may write. */
  allowsCrawler: (crawler: string) => boolean;
  /** Records a second this client may send, overriding CRAWLDIAG_CLIENT_RECORDS_PER_S; 0 = no limit. */
  recordsPerS: number | undefined;
}

interface Entry extends AuthClient {
  digest: Buffer;
}

// A crawler id (validate.ts) with an optional trailing "*" that matches any rest; "*" alone matches all.
const CRAWLER_PATTERN = /^[A-Za-z0-9._:/-]{0,64}\*?$/;
const CLIENT_KEYS = new Set(["name", "token_sha256", "scopes", "crawlers", "records_per_s"]);
const BEARER = /^bearer +([\x21-\x7e]{1,4096}) *$/i;

/** The parsed auth file: token digests and what each client may do. Immutable; a reload builds a new one. */
export class AuthTable {
  private constructor(private readonly entries: readonly Entry[]) {}

  get size(): number {
    return this.entries.length;
  }

  /** The client whose token the `authorization` header carries; UNAUTHENTICATED when missing or unknown. */
  authenticate(header: string | undefined): AuthClient {
    const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
    if (token === undefined) {
      throw new DomainError("unauthenticated", "authorization: send the metadata `authorization: Bearer <token>`");
    }
    const digest = createHash("sha256").update(token, "utf8").digest();
    let found: Entry | undefined;
    // Every entry is compared, so the time taken says nothing about which one (if any) matched.
    for (const e of this.entries) {
      if (timingSafeEqual(e.digest, digest)) found = e;
    }
    if (found === undefined) throw new DomainError("unauthenticated", "authorization: unknown token");
    return found;
  }

  /**
   * Parses the JSON of an auth file. Messages name the offending entry and key but never quote a value: a token
   * pasted by mistake where its digest belongs must not reach the log.
   */
  static parse(text: string): AuthTable {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // JSON.parse quotes the text around the fault in its message; say only that it is not JSON.
      throw new Error('not valid JSON; expected {"clients": [{"name", "token_sha256", "scopes", "crawlers"}]}');
    }
    if (!isObject(doc) || !Array.isArray(doc.clients)) throw new Error('expected an object with a "clients" array');
    const names = new Set<string>();
    const digests = new Set<string>();
    const entries = doc.clients.map((raw: unknown, i: number): Entry => {
      const at = `clients[${i}]`;
      if (!isObject(raw)) throw new Error(`${at}: expected an object`);
      const unknown = Object.keys(raw).find((k) => !CLIENT_KEYS.has(k));
      // A misspelt key (say "crawler") would otherwise silently lift a restriction.
      if (unknown !== undefined) throw new Error(`${at}: unknown key "${unknown.slice(0, 40)}"`);
      const { name, token_sha256: hex, scopes, crawlers, records_per_s: rate } = raw;
      if (typeof name !== "string" || !/^[\x20-\x7e]{1,64}$/.test(name)) {
        throw new Error(`${at}.name: required, 1-64 printable ASCII characters`);
      }
      if (names.has(name)) throw new Error(`${at}.name: used by an earlier client`);
      names.add(name);
      if (typeof hex !== "string" || !/^[0-9a-fA-F]{64}$/.test(hex)) {
        throw new Error(`${at}.token_sha256: required, the SHA-256 of the token as 64 hex digits`);
      }
      if (digests.has(hex.toLowerCase())) throw new Error(`${at}.token_sha256: the same token as an earlier client`);
      digests.add(hex.toLowerCase());
      return {
        name,
        digest: Buffer.from(hex, "hex"),
        scopes: parseScopes(scopes, at),
        allowsCrawler: matcher(crawlers, at),
        recordsPerS: recordsPerS(rate, at),
      };
    });
    return new AuthTable(entries);
  }
}

/** PERMISSION_DENIED unless the client holds the scope. */
export function authorize(client: AuthClient, scope: Scope): void {
  if (!client.scopes.has(scope)) {
    throw new DomainError("permission_denied", `this client does not have the "${scope}" scope`);
  }
}

function parseScopes(raw: unknown, at: string): ReadonlySet<Scope> {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((s) => (SCOPES as readonly unknown[]).includes(s))) {
    throw new Error(`${at}.scopes: required, a non-empty list of ${SCOPES.map((s) => `"${s}"`).join(", ")}`);
  }
  return new Set(raw as Scope[]);
}

function matcher(raw: unknown, at: string): (crawler: string) => boolean {
  if (raw === undefined) return () => true;
  const ok = (p: unknown): p is string => typeof p === "string" && p !== "" && CRAWLER_PATTERN.test(p);
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every(ok)) {
    throw new Error(`${at}.crawlers: when present, a non-empty list of crawler ids, each may end in "*"`);
  }
  const exact = new Set(raw.filter((p) => !p.endsWith("*")));
  const prefixes = raw.filter((p) => p.endsWith("*")).map((p) => p.slice(0, -1));
  return (crawler) => exact.has(crawler) || prefixes.some((p) => crawler.startsWith(p));
}

function recordsPerS(raw: unknown, at: string): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0 || raw > 10_000_000) {
    throw new Error(`${at}.records_per_s: when present, a whole number from 0 (no limit) to 10000000`);
  }
  return raw;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
