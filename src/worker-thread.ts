import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { type ResourceLimits, Worker } from "node:worker_threads";
import { DomainError, type ErrorKind } from "./domain/errors.js";

/** A DomainError as it crosses a thread boundary; "internal" is any other error (a bug). */
export interface WireError {
  kind: ErrorKind | "internal";
  message: string;
  retryAfterMs?: number | undefined;
  /** The underlying failure, for the log only. */
  cause?: string | undefined;
}

const FROM_SOURCE = import.meta.url.endsWith(".ts");

/**
 * Starts one of the service's worker threads (`name` is its module's path from src/, without extension) and
 * resolves once it has sent "ready". Built, it runs dist/<name>.js. Run from source (tests, `npm run dev`), Node 20
 * does not give the worker the TypeScript loader (--import tsx) of this thread; registering tsx in each worker took
 * 0.4-0.7 s per start, so the worker's modules are bundled instead, by the esbuild that tsx brings along.
 */
export async function startWorker(name: string, workerData: unknown, resourceLimits: ResourceLimits = {}) {
  const file = new URL(`./${name}${FROM_SOURCE ? ".ts" : ".js"}`, import.meta.url);
  const options = { workerData, resourceLimits };
  if (!FROM_SOURCE) return ready(new Worker(file, options), name);
  const bundle = bundled(fileURLToPath(file), name);
  if (bundle !== undefined) return ready(new Worker(bundle, options), name);
  const boot = `import { register } from "tsx/esm/api"; register(); await import(${JSON.stringify(file.href)});`;
  return ready(new Worker(boot, { ...options, eval: true }), name);
}

/** Bundles left by processes that were killed (SIGKILL skips the exit handler). */
function removeOrphans(dir: string): void {
  for (const f of readdirSync(dir)) {
    const pid = Number(/-(\d+)-[0-9a-f]+\.mjs$/.exec(f)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") rmSync(`${dir}${f}`, { force: true });
    }
  }
}

function ready(worker: Worker, name: string): Promise<Worker> {
  return new Promise((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", (m: unknown) => {
      worker.off("error", reject);
      if (m === "ready") resolve(worker);
      else reject(new Error(`${name} sent ${JSON.stringify(m)} before "ready"`));
    });
  });
}

interface Esbuild {
  buildSync(options: Record<string, unknown>): unknown;
}

// Bundles built by this process, reused by every later start (tests start many servers) and removed at exit.
const BUNDLES = new Map<string, string>();

/**
 * The worker and its imports as one ES module under node_modules/.cache (so that packages resolve), or undefined
 * when that cannot be done (no esbuild, a read-only folder): then the worker registers tsx itself, only slower.
 */
function bundled(entry: string, name: string): string | undefined {
  const built = BUNDLES.get(name);
  if (built !== undefined) return built;
  try {
    const esbuild = createRequire(import.meta.url)("esbuild") as Esbuild;
    const dir = fileURLToPath(new URL("../node_modules/.cache/crawldiag-workers/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    removeOrphans(dir);
    const outfile = `${dir}${name.replaceAll("/", "-")}-${process.pid}-${randomBytes(4).toString("hex")}.mjs`;
    const options = { entryPoints: [entry], outfile, bundle: true, packages: "external", platform: "node" };
    esbuild.buildSync({ ...options, format: "esm", target: "node20", sourcemap: "inline", logLevel: "error" });
    if (BUNDLES.size === 0) {
      process.once("exit", () => {
        for (const f of BUNDLES.values()) rmSync(f, { force: true });
      });
    }
    BUNDLES.set(name, outfile);
    return outfile;
  } catch {
    return undefined;
  }
}

export function toWire(e: unknown): WireError {
  if (e instanceof DomainError) {
    const cause = e.cause === undefined ? undefined : describe(e.cause);
    return { kind: e.kind, message: e.message, retryAfterMs: e.retryAfterMs, cause };
  }
  return { kind: "internal", message: describe(e) };
}

export function fromWire(e: WireError): Error {
  if (e.kind === "internal") return new Error(e.message);
  const cause = e.cause === undefined ? undefined : new Error(e.cause);
  return new DomainError(e.kind, e.message, e.retryAfterMs, { cause });
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err);
}
