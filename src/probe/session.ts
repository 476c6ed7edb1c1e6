import type { Target } from "./target.js";

/**
 * Which URLs can share a connection: those on one port whose hosts' DNS answers have an address in common (the
 * condition of IP pooling; the certificate can only be checked once connected), transitively, and every URL of one
 * host. Each URL gets the index of its group's first URL. A URL that did not parse or resolve stands alone, unless
 * its host is the same.
 */
export function groupsOf(
  targets: readonly (Target | undefined)[],
  addresses: readonly (readonly string[] | undefined)[],
): number[] {
  const parent = targets.map((_, i) => i);
  const root = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] ?? r;
    return r;
  };
  const holder = new Map<string, number>();
  targets.forEach((t, i) => {
    if (t === undefined) return;
    const keys = [`host ${t.hostname}`, ...(addresses[i] ?? []).map((a) => `addr ${a}`)];
    for (const key of keys.map((k) => `${k} ${t.port}`)) {
      const j = holder.get(key);
      if (j === undefined) holder.set(key, i);
      else {
        // Joining towards the smaller index keeps each group's root at its first URL.
        const [a, b] = [root(i), root(j)];
        parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
  });
  return targets.map((_, i) => root(i));
}

/**
 * Runs job i for every index of `groups`, the way a browser session visits a site: each group's first job alone,
 * its other jobs only once that one has finished, so they find its connection in the pool instead of racing to
 * open their own. Independent groups go in parallel. At most `limit` jobs run at once, each time the earliest
 * ready one in the given order, so a limit of 1 keeps the order of the list.
 */
export function runSessions(
  groups: readonly number[],
  limit: number,
  job: (i: number) => Promise<void>,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const queue = groups.map((_, i) => i);
    const started = new Set<number>();
    const opened = new Set<number>();
    let running = 0;
    let failed = false;
    const ready = (i: number) => {
      const g = groups[i] ?? i;
      return !started.has(g) || opened.has(g);
    };
    const pump = (): void => {
      while (!failed && running < limit) {
        const at = queue.findIndex(ready);
        const i = queue[at];
        if (i === undefined) break;
        queue.splice(at, 1);
        const g = groups[i] ?? i;
        const first = !started.has(g);
        started.add(g);
        running++;
        job(i).then(
          () => {
            running--;
            if (first) opened.add(g);
            pump();
          },
          (e: unknown) => {
            failed = true;
            reject(e);
          },
        );
      }
      if (!failed && queue.length === 0 && running === 0) resolve();
    };
    pump();
  });
}
