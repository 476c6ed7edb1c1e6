import {
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptor,
  type ServiceDefinition,
  status,
} from "@grpc/grpc-js";
import { type AuthTable, authorize, type Scope } from "../domain/auth.js";
import { DomainError, invalidArgument } from "../domain/errors.js";
import type { IngestRequest } from "../domain/ingest.js";
import type { ClientBudgets } from "../domain/token-bucket.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import { toServiceError } from "./status.js";

/** What calling a service takes, by full service name; a service not listed is refused to every client. */
export type ServicePolicy = Readonly<Record<string, Scope | "open">>;

export interface GuardOptions {
  policy: ServicePolicy;
  /** The current auth table (replaced on SIGHUP); absent when the server runs without authentication. */
  auth: (() => AuthTable) | undefined;
  log: Logger;
  /** Fair sharing: an ingest call of a client with nothing left of its share is refused before its body is read. */
  budgets?: ClientBudgets | undefined;
  metrics?: Metrics | undefined;
}

/** Who sends a batch, for fair sharing: set by the guard on every ingest message. */
export interface Caller {
  /** The budget's key: the auth file client's name, or the peer's IP address when there is no auth file. */
  key: string;
  /** For the metrics: the client's name, never an address. */
  label: string;
  /** The client's own records a second from the auth file, if any. */
  recordsPerS: number | undefined;
}

export const UNAUTHENTICATED_CALLER = "(unauthenticated)";

/** Stands in for a request message that is not valid protobuf, so the guard can answer INVALID_ARGUMENT. */
const UNDECODABLE = Object.freeze({ undecodable: true });

/**
 * The service definition with deserializers that do not throw: grpc-js answers a throwing deserializer with
 * INTERNAL, but bytes that are not a valid message are the caller's fault.
 */
export function decodeSafely<T extends ServiceDefinition>(definition: T): T {
  const methods = Object.entries(definition).map(([key, m]) => [
    key,
    {
      ...m,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return m.requestDeserialize(bytes);
        } catch {
          return UNDECODABLE;
        }
      },
    },
  ]);
  return Object.fromEntries(methods) as T;
}

/**
 * Checks every call before its handler sees it. An interceptor rather than a wrapper around each handler:
 * it covers every method of every service in one place (a method added later cannot forget it), and a refused
 * call is answered from its metadata alone, so the request body of an unauthenticated caller, or of a client with
 * nothing left of its share, is never decoded: a flood costs the server as little as it can.
 */
export function guard(o: GuardOptions): ServerInterceptor {
  return (method, call) => {
    const [service = "", name = ""] = method.path.slice(1).split("/");
    const label = `${service.split(".").pop()}/${name}`;
    const needs = o.policy[service];
    let crawlerAllowed: IngestRequest["crawlerAllowed"];
    let caller: Caller | undefined;
    let refused = false;
    const refuse = (err: unknown) => {
      refused = true;
      const e = toServiceError(err, label, o.log);
      const code = e.code ?? status.UNKNOWN;
      call.sendStatus({ code, details: e.details ?? "", metadata: e.metadata ?? new Metadata() });
      o.log.info("rpc", { method: label, code: status[code] });
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            if (o.auth !== undefined && needs !== "open") {
              try {
                const values = metadata.get("authorization");
                const client = o.auth().authenticate(values.length === 1 ? String(values[0]) : undefined);
                authorize(client, needs ?? unlisted(service));
                crawlerAllowed = client.allowsCrawler;
                caller = { key: client.name, label: client.name, recordsPerS: client.recordsPerS };
              } catch (err) {
                refuse(err);
                return;
              }
              // The handler has no use for the token; it should not linger in what the call carries around.
              metadata.remove("authorization");
            }
            if (needs === "ingest") {
              // Without an auth file, a machine is the best name for a client there is (its port changes).
              caller ??= {
                key: call.getConnectionInfo().remoteAddress ?? "unknown",
                label: UNAUTHENTICATED_CALLER,
                recordsPerS: undefined,
              };
              try {
                o.budgets?.refuseIfSpent(caller.key, caller.recordsPerS, performance.now());
              } catch (err) {
                o.metrics?.throttled(caller.label);
                refuse(err);
                return;
              }
            }
            nextMetadata(metadata);
          },
          onReceiveMessage: (message, nextMessage) => {
            if (refused) return;
            if (message === UNDECODABLE) {
              refuse(invalidArgument("request", "not a valid protobuf message of the method's request type"));
              return;
            }
            // The ingest handler hands the permission on to the domain with the message.
            if (needs === "ingest") {
              if (crawlerAllowed !== undefined) (message as IngestRequest).crawlerAllowed = crawlerAllowed;
              (message as { caller?: Caller }).caller = caller;
            }
            nextMessage(message);
          },
          onReceiveHalfClose: (nextHalfClose) => {
            if (!refused) nextHalfClose();
          },
        }),
    });
  };
}

function unlisted(service: string): never {
  throw new DomainError("permission_denied", `${service} is not open to any client`);
}
