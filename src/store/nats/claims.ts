import { createHash } from "node:crypto";
import type { KV } from "nats";
import { isWrongLastSequence } from "./request-entry.js";
import type { NatsLog } from "./setup.js";

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
 * Claims the (crawler, fetch_id) of every detail fetch (its claimKey), all at once. A claim the same claimant
 * already holds is a retry of this batch (its first node died before answering): it stays ours.
 */
export async function claimDetail(
  log: Pick<NatsLog, "claims" | "claimWriter">,
  holder: string,
  detail: readonly { index: number; key: string }[],
): Promise<Claims> {
  const keys = detail.map((d) => d.key);
  const first = await log.claimWriter.create(keys, Buffer.from(holder));
  const got = await Promise.all(keys.map((key, i) => claim(log.claims, key, holder, first[i])));
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

/** A key's claim, from the first attempt to create it (`created`): what holds it is read only when it was taken. */
async function claim(
  kv: KV,
  key: string,
  holder: string,
  created: number | "taken" | undefined,
): Promise<number | "ours" | "refused"> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const c = attempt === 0 && created !== undefined ? created : await create(kv, key, holder);
    if (c !== "taken") return c;
    const e = await kv.get(key);
    // Gone between the two calls (expired or released): try to create it again.
    if (e !== null && e.operation === "PUT") return e.string() === holder ? "ours" : "refused";
  }
  return "refused";
}

/** kv.create, which also takes over a key whose last entry is a delete marker (a claim given back). */
async function create(kv: KV, key: string, holder: string): Promise<number | "taken"> {
  try {
    return await kv.create(key, holder);
  } catch (e) {
    if (isWrongLastSequence(e)) return "taken";
    throw e;
  }
}
