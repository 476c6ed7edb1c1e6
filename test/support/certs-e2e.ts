import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Generates the CA and the wildcard certificates in `dir` with the openssl command. */
export function makePki(dir: string): TestPki {
  openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=crawldiag e2e test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const leaf = (name: string, pattern: string): KeyPair => {
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=DNS:${pattern}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
    );
    openssl(dir, ["req", "-new", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${pattern}`]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-days",
      "2",
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    ]);
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
