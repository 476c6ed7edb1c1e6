import { createSecureContext } from "node:tls";
import { experimental, ServerCredentials } from "@grpc/grpc-js";

/** PEM contents (not paths), read and checked by config.ts at start-up and on reload. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  clientCa: Buffer | undefined;
}

export interface ServerTls {
  credentials: ServerCredentials;
  /**
   * Puts new material in force for the handshakes from now on; connections already open keep theirs. Throws,
   * leaving the current material in force, when TLS cannot use it. mTLS cannot be switched on or off here.
   */
  replace(material: TlsMaterial): void;
}

type IdentityListener = experimental.IdentityCertificateUpdateListener;
type CaListener = experimental.CaCertificateUpdateListener;

/**
 * Hands grpc-js the material held in memory, and the new material on replace(). grpc-js's own provider watches
 * files on a timer and would take a half-written or mismatched pair as it finds it (which stops every new
 * handshake); this one gets only material that config.ts checked and that Node accepted.
 */
class HeldMaterial implements experimental.CertificateProvider {
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();

  constructor(private material: TlsMaterial) {}

  set(material: TlsMaterial): void {
    this.material = material;
    for (const l of this.identityListeners) l(this.identity());
    for (const l of this.caListeners) l(this.ca());
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    // Asynchronously, as grpc-js's provider does: it registers its watcher only after adding the listener.
    process.nextTick(() => listener(this.identity()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => listener(this.ca()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  private identity() {
    return { certificate: this.material.cert, privateKey: this.material.key };
  }

  private ca() {
    return this.material.clientCa === undefined ? null : { caCertificate: this.material.clientCa };
  }
}

/** Credentials that take a new certificate and key (and client CA) without a restart. */
export function serverTls(initial: TlsMaterial): ServerTls {
  const mutual = initial.clientCa !== undefined;
  const held = new HeldMaterial(initial);
  // grpc-js 1.14 names the parameters the wrong way round (identity comes first); one provider serves both roles,
  // so the order cannot matter.
  const credentials = experimental.createCertificateProviderServerCredentials(held, mutual ? held : null, mutual);
  return {
    credentials,
    replace: (material) => {
      if ((material.clientCa !== undefined) !== mutual) {
        throw new Error("mTLS cannot be switched on or off without a restart");
      }
      // grpc-js stops taking connections when Node refuses new material: try it here first.
      createSecureContext({ cert: material.cert, key: material.key, ca: material.clientCa });
      held.set(material);
    },
  };
}

export function insecureCredentials(): ServerCredentials {
  return ServerCredentials.createInsecure();
}
