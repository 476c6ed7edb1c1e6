import { readFileSync } from "node:fs";
import { join } from "node:path";
import { newCa, newLeaf } from "./certs.js";

export interface KeyPair {
  key: string;
  cert: string;
}

/** A private CA made for one test run, and server certificates it signed. Nothing of it is committed. */
export interface TestPki {
  /** The CA certificate (PEM), to trust in the probe. */
  ca: string;
  caPath: string;
  /** *.crawl.test */
  crawl: KeyPair;
  /** *.other.test: a certificate that does not cover the crawl.test names. */
  other: KeyPair;
}

/** Generates the CA and the wildcard certificates in `dir` with the openssl command. */
export function makePki(dir: string): TestPki {
  newCa(dir, "ca");
  const leaf = (name: string, pattern: string): KeyPair => {
    newLeaf(
      dir,
      name,
      "ca",
      `subjectAltName=DNS:${pattern}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
    );
    return {
      key: readFileSync(join(dir, `${name}.key`), "utf8"),
      cert: readFileSync(join(dir, `${name}.pem`), "utf8"),
    };
  };
  return {
    ca: readFileSync(join(dir, "ca.pem"), "utf8"),
    caPath: join(dir, "ca.pem"),
    crawl: leaf("crawl", "*.crawl.test"),
    other: leaf("other", "*.other.test"),
  };
}
