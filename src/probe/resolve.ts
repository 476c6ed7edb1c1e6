import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";

export type { LookupFunction };

/**
 * Every address of a hostname, in the order the lookup gives them, each name looked up once per run like a
 * browser's DNS cache. `lookup` has the shape of dns.lookup (the `lookup` option of net and tls), so tests and
 * callers can point names anywhere; one that ignores `all` and answers a single address works too.
 */
export function resolver(
  lookup: LookupFunction = dnsLookup as LookupFunction,
): (hostname: string) => Promise<string[]> {
  const cache = new Map<string, Promise<string[]>>();
  return (hostname) => {
    if (isIP(hostname) !== 0) return Promise.resolve([hostname]);
    let answer = cache.get(hostname);
    if (answer === undefined) {
      answer = new Promise<string[]>((resolve, reject) => {
        lookup(hostname, { all: true }, (err, address: string | LookupAddress[]) => {
          if (err) reject(err);
          else {
            const all = typeof address === "string" ? [address] : address.map((a) => a.address);
            if (all.length === 0) reject(new Error(`${hostname} has no address`));
            else resolve(all);
          }
        });
      });
      cache.set(hostname, answer);
    }
    return answer;
  };
}
