/**
 * A client in a process of its own (started by forkClient in fair-traffic.ts): neither the measured client nor the
 * flood shares an event loop, a heap or its pauses with the other, or with the test runner and what earlier test
 * files left in it. Sends in the slices it is given, then sends back every call it made.
 */
import { bearer } from "./auth.js";
import { paced, RawIngest, type Slices, slicedFlood, wallMs } from "./fair-traffic.js";

const env = (name: string) => process.env[name] ?? "";
const client = new RawIngest(Number(env("CLIENT_PORT")), env("CLIENT_TAG"), Number(env("CLIENT_BATCH")), () =>
  bearer(env("CLIENT_TOKEN")),
);
const everyMs = Number(env("CLIENT_EVERY_MS"));
const floods = env("CLIENT_MODE") === "flood";

process.on("message", (m: "exit" | (Slices & { endAt: number })) => {
  if (m === "exit") {
    client.close();
    process.disconnect();
    return;
  }
  const calls = floods ? slicedFlood(client, everyMs, m, m.endAt) : paced(client, everyMs, m.endAt - wallMs());
  calls.then((sent) => process.send?.(sent));
});
process.send?.("ready");
