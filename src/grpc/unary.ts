import { type handleUnaryCall, type ServerUnaryCall, status } from "@grpc/grpc-js";
import type { Logger } from "../log.js";
import { toServiceError } from "./status.js";

export type Counts<Req, Res> = (req: Req, res: Res | undefined) => Record<string, number>;

/** Wraps a synchronous handler: maps errors in one place and logs one line per call (never a payload). */
export function unary<Req, Res>(
  method: string,
  log: Logger,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Res,
  counts?: Counts<Req, Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    let res: Res | undefined;
    let code: number = status.OK;
    try {
      if (call.cancelled) {
        code = status.CANCELLED;
        callback({ code, details: "cancelled before it was handled" });
      } else {
        res = fn(call.request, call);
        callback(null, res);
      }
    } catch (err) {
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
}
