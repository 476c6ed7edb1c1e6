import parsePrometheusTextFormat, { type MetricFamily, type Sample } from "parse-prometheus-text-format";

export interface Scrape {
  text: string;
  contentType: string;
  /** The metric families as the parser reads them (names, types, help). */
  families: MetricFamily[];
  /** The same text with histograms read series by series (`_bucket`, `_sum`, `_count`), labels kept. */
  series: MetricFamily[];
}

/** GET /metrics over HTTP, as Prometheus does, parsed by a Prometheus text format parser. */
export async function scrape(port: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  // parse-prometheus-text-format merges every series of a labelled histogram into one and drops the labels; read
  // without their TYPE lines, each _bucket, _sum and _count series comes out on its own with its labels.
  const untypedHistograms = text.replace(/^# TYPE \S+ histogram$/gm, "");
  return {
    text,
    contentType: res.headers.get("content-type") ?? "",
    families: parsePrometheusTextFormat(text),
    series: parsePrometheusTextFormat(untypedHistograms),
  };
}

/** The samples of a series (`x_total`, `x_count`, `x_sum`, `x_bucket`...) whose labels include `labels`. */
export function samples(s: Scrape, name: string, labels: Record<string, string> = {}): Sample[] {
  const found = s.series.filter((f) => f.name === name);
  if (found.length === 0) throw new Error(`no series ${name} in the scrape`);
  return found.flatMap((f) => f.metrics).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

/** The sum of the values of the matching samples; 0 when none match. */
export function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return samples(s, name, labels).reduce((sum, m) => sum + Number(m.value ?? 0), 0);
}

/** The type of a metric family: COUNTER, GAUGE, HISTOGRAM... */
export function typeOf(s: Scrape, name: string): string | undefined {
  return s.families.find((f) => f.name === name)?.type;
}
