import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Certs {
  /** Paths of PEM files in the folder. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from a CA the server does not trust. */
  rogueCert: string;
  rogueKey: string;
  pem(path: string): Buffer;
}

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/** A self-signed CA `name.pem` / `name.key` in `dir`. */
export function newCa(dir: string, name: string): void {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=crawldiag test ${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
  ]);
}

/** A certificate `name.pem` / `name.key` signed by the CA `ca`, with the X.509 extensions `ext`. */
export function newLeaf(dir: string, name: string, ca: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    `/CN=crawldiag test ${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
  ]);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  ]);
}

/** A CA, a server certificate for 127.0.0.1, a client certificate, and a client certificate of another CA. */
export function makeCerts(dir: string): Certs {
  newCa(dir, "ca");
  newCa(dir, "rogue-ca");
  newLeaf(dir, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  newLeaf(dir, "client", "ca", "extendedKeyUsage=clientAuth\n");
  newLeaf(dir, "rogue", "rogue-ca", "extendedKeyUsage=clientAuth\n");
  const at = (f: string) => join(dir, f);
  return {
    ca: at("ca.pem"),
    serverCert: at("server.pem"),
    serverKey: at("server.key"),
    clientCert: at("client.pem"),
    clientKey: at("client.key"),
    rogueCert: at("rogue.pem"),
    rogueKey: at("rogue.key"),
    pem: (path) => readFileSync(path),
  };
}
