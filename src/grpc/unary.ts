import { type handleUnaryCall, type ServerUnaryCall, status } from "@grpc/grpc-js";
import type { Logger } from "../log.js";
import { toServiceError } from "./status.js";

export type Counts<Req, Res> = (req: Req, res: Res | undefined) => Record<string, number>;

/**
 * Wraps a handler, synchronous or not: maps errors in one place and logs one line per call (never a payload).
 * A call cancelled while its answer was pending still finishes its work (a batch may commit); only the answer
 * is lost, which a retry with the same request_id recovers.
 */
export function unary<Req, Res>(
  method: string,
  log: Logger,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
  counts?: Counts<Req, Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    const finish = (res: Res | undefined, failed = false, err: unknown = undefined) => {
      let code: number = status.OK;
      if (!failed) {
        callback(null, res);
      } else {
        const e = toServiceError(err, method, log);
        code = e.code ?? status.UNKNOWN;
        callback(e);
      }
      log.info("rpc", {
        method,
        code: status[code],
        ms: Math.round((performance.now() - started) * 100) / 100,
        ...counts?.(call.request, res),
      });
    };
    if (call.cancelled) {
      callback({ code: status.CANCELLED, details: "cancelled before it was handled" });
      log.info("rpc", { method, code: status[status.CANCELLED], ms: 0 });
      return;
    }
    try {
      const out = fn(call.request, call);
      if (out instanceof Promise)
        out.then(
          (res) => finish(res),
          (err: unknown) => finish(undefined, true, err),
        );
      else finish(out);
    } catch (err) {
      finish(undefined, true, err);
    }
  };
}
