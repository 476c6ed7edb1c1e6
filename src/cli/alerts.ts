import { CrawlerAlert, crawlerAlertReasonToJSON } from "../gen/webmasterid/crawldiag/v1/diagnosis.js";
import { table, useColour, when } from "./format.js";
import { allPages, diagnosis, type ServerFlags } from "./rpc.js";

export interface AlertsFlags extends ServerFlags {
  crawler?: string | undefined;
  json?: boolean | undefined;
}

const reasonName = (r: number) => crawlerAlertReasonToJSON(r).replace(/^CRAWLER_ALERT_REASON_/, "");

/** `alerts`: the 421s the rules blame on how a crawler connected, per crawler and reason. */
export async function alerts(flags: AlertsFlags, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  const d = diagnosis(flags);
  const all: CrawlerAlert[] = [];
  try {
    await allPages(
      async (pageToken) => {
        const res = await d.call(d.client.listCrawlerAlerts, {
          window: undefined,
          crawler: flags.crawler ?? "",
          pageSize: 1000,
          pageToken,
        });
        return { items: res.alerts, next: res.nextPageToken };
      },
      (page) => {
        if (flags.json) for (const a of page) out.write(`${JSON.stringify(CrawlerAlert.toJSON(a))}\n`);
        else all.push(...page);
      },
    );
  } finally {
    d.close();
  }
  if (flags.json) return;
  if (all.length === 0) {
    out.write("No crawler alerts.\n");
    return;
  }
  const colour = useColour(out);
  const rows = all.map((a) => [
    a.crawler,
    { text: reasonName(a.reason), style: "yellow" as const },
    String(a.count),
    a.exampleHosts.join(", "),
    when(a.lastSeen),
  ]);
  out.write(`${table(["CRAWLER", "REASON", "421s", "EXAMPLE HOSTS", "LAST SEEN"], rows, colour)}\n\n`);
  // Each reason's advice once, under the table: repeating it on every row would drown the figures.
  const advice = new Map(all.map((a) => [reasonName(a.reason), a.explanation]));
  for (const [reason, text] of advice) out.write(`${reason}: ${text}\n`);
}
