import { createHash } from "node:crypto";
import type { KV } from "nats";
import type { Fetch } from "../../domain/fetch.js";
import { keepsDetail } from "../../domain/fetch.js";
import { isWrongLastSequence } from "./request-entry.js";

/** KV keys allow only [-/_=.a-zA-Z0-9]: a digest of (crawler, fetch_id) fits whatever the ids hold. */
export function claimKey(crawler: string, fetchId: string): string {
  return createHash("sha256").update(crawler).update("\n").update(fetchId).digest("base64url");
}

/** Who holds a claim: the request_id and its batch, so that only a retry of the very same batch shares it. */
export function claimant(requestId: string, digest: Uint8Array): string {
  return `${requestId} ${Buffer.from(digest).toString("base64url")}`;
}

export interface Claims {
  /** Indexes of the detail fetches another batch holds: SQLite refuses them as "already recorded by an earlier batch". */
  refused: number[];
  /** Keys this call created, with their revisions: what release() may give back. */
  created: [string, number][];
}

/**
 * Claims the (crawler, fetch_id) of every detail fetch, all at once. A claim the same claimant already holds is a
 * retry of this batch (its first node died before answering): it stays ours.
 */
export async function claimDetail(kv: KV, holder: string, fetches: readonly Fetch[]): Promise<Claims> {
  const detail = fetches.filter(keepsDetail);
  const keys = detail.map((f) => claimKey(f.crawler, f.fetchId));
  const got = await Promise.all(keys.map((key) => claim(kv, key, holder)));
  const out: Claims = { refused: [], created: [] };
  got.forEach((g, i) => {
    const f = detail[i];
    const key = keys[i];
    if (f === undefined || key === undefined) return;
    if (g === "refused") out.refused.push(f.index);
    else if (g !== "ours") out.created.push([key, g]);
  });
  return out;
}

/** Gives claims back, best effort, only while they are still the ones this call created. */
export async function release(kv: KV, created: readonly [string, number][]): Promise<void> {
  await Promise.allSettled(created.map(([key, revision]) => kv.delete(key, { previousSeq: revision })));
}

async function claim(kv: KV, key: string, holder: string): Promise<number | "ours" | "refused"> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await kv.create(key, holder);
    } catch (e) {
      if (!isWrongLastSequence(e)) throw e;
    }
    const e = await kv.get(key);
    // Gone between the two calls (expired or released): try to create it again.
    if (e !== null && e.operation === "PUT") return e.string() === holder ? "ours" : "refused";
  }
  return "refused";
}
