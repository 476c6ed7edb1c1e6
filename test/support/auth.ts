import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { Metadata } from "@grpc/grpc-js";

export interface TestClient {
  name: string;
  /** The secret; only its SHA-256 goes into the file. */
  token: string;
  scopes: string[];
  crawlers?: string[];
}

/** A fresh random token, made at run time so no secret is ever committed. */
export const newToken = (): string => randomBytes(24).toString("base64url");

export const sha256Hex = (token: string): string => createHash("sha256").update(token).digest("hex");

/** Writes an auth file in the documented format: names, digests, scopes and crawlers, never a token. */
export function writeAuthFile(path: string, clients: readonly TestClient[]): void {
  const doc = {
    clients: clients.map((c) => ({
      name: c.name,
      token_sha256: sha256Hex(c.token),
      scopes: c.scopes,
      ...(c.crawlers === undefined ? {} : { crawlers: c.crawlers }),
    })),
  };
  writeFileSync(path, JSON.stringify(doc, null, 2));
}

/** Call metadata carrying `authorization: Bearer <token>`, or a raw header value when given one. */
export function bearer(token: string, raw?: string): Metadata {
  const md = new Metadata();
  md.set("authorization", raw ?? `Bearer ${token}`);
  return md;
}
