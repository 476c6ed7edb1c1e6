import { ServerInterceptingCall, type ServerInterceptor, status } from "@grpc/grpc-js";
import type { Metrics } from "../metrics.js";

/**
 * Counts and times every call by method and status code. The first interceptor of the server, so it sees the
 * status of calls the guard refuses as well as the handlers' (grpc-js answers unknown methods before any
 * interceptor runs, so method labels stay the served ones).
 */
export function observeCalls(metrics: Metrics): ServerInterceptor {
  return (method, call) => {
    const [service = "", name = ""] = method.path.slice(1).split("/");
    const done = metrics.rpc(service, name, callType(method.requestStream, method.responseStream));
    let ended = false;
    const end = (code: number) => {
      if (ended) return;
      ended = true;
      done(status[code] ?? String(code));
    };
    return new ServerInterceptingCall(call, {
      // A call that ended without a status from the handlers: grpc-js ended it at its deadline, or the client left.
      start: (next) =>
        next({
          onCancel: () => end(Number(call.getDeadline()) <= Date.now() ? status.DEADLINE_EXCEEDED : status.CANCELLED),
        }),
      sendStatus: (st, next) => {
        end(st.code);
        next(st);
      },
    });
  };
}

function callType(requestStream: boolean, responseStream: boolean): string {
  if (requestStream) return responseStream ? "bidi_stream" : "client_stream";
  return responseStream ? "server_stream" : "unary";
}
