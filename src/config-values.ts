// Checks of single configuration values: each error names its variable first.

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function integer(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < min || n > max) {
    throw new ConfigError(`${name}: "${raw}" is not a whole number from ${min} to ${max}`);
  }
  return n;
}

export function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}: "${raw}" is not one of ${allowed.join(", ")}`);
  }
  return raw as T;
}

export function address(name: string, raw: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(raw) || Number(raw.split(":").pop()) > 65535) {
    throw new ConfigError(`${name}: "${raw}" is not host:port (for example 127.0.0.1:50051)`);
  }
  return raw;
}
