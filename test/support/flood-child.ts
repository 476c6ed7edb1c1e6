/**
 * A flooding client in a process of its own (started by forkFlooder in fair-traffic.ts): its sending must not
 * share the event loop of the client it is measured against. Floods in the slices it is given, then sends back
 * every call it made.
 */
import { bearer } from "./auth.js";
import { RawIngest, type Slices, slicedFlood } from "./fair-traffic.js";

const client = new RawIngest(Number(process.env.FLOOD_PORT), "flood", Number(process.env.FLOOD_BATCH), () =>
  bearer(process.env.FLOOD_TOKEN ?? ""),
);
const everyMs = Number(process.env.FLOOD_EVERY_MS);

process.on("message", (m: "exit" | (Slices & { endAt: number })) => {
  if (m === "exit") {
    client.close();
    process.disconnect();
    return;
  }
  slicedFlood(client, everyMs, m, m.endAt).then((calls) => process.send?.(calls));
});
process.send?.("ready");
