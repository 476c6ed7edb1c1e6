/**
 * `fn` with its results remembered, for pure functions of a string. Crawler traffic repeats the same few thousand
 * hosts, server names and addresses, and parsing them is most of what validating a record costs. At most `max`
 * results are kept; then all are forgotten at once, so hostile input cannot grow memory.
 */
export function memo<T>(fn: (key: string) => T, max = 10_000): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    const hit = cache.get(key);
    if (hit !== undefined || cache.has(key)) return hit as T;
    const value = fn(key);
    if (cache.size >= max) cache.clear();
    cache.set(key, value);
    return value;
  };
}
