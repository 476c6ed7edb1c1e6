import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Backend } from "../backend.js";
import type { GetServiceStatusRequest, GetServiceStatusResponse } from "../gen/webmasterid/crawldiag/v1/status.js";
import type { Logger } from "../log.js";
import { unary } from "./unary.js";

export function statusService(backend: Pick<Backend, "status">, log: Logger): UntypedServiceImplementation {
  return {
    getServiceStatus: unary<GetServiceStatusRequest, GetServiceStatusResponse>(
      "StatusService/GetServiceStatus",
      log,
      async () => {
        const s = await backend.status();
        return {
          store: s.store,
          location: s.location,
          roles: s.roles,
          storeBytes: s.storeBytes ?? 0,
          backlogBatches: s.backlogBatches,
          backlogRecords: s.backlogRecords ?? 0,
          writerLagSeconds: s.writerLagSeconds,
          storeReachable: s.reachable.store,
          logReachable: s.reachable.log === true,
          readTime: new Date(),
        };
      },
    ),
  };
}
