/**
 * The serving contract: what the generator renders for the model server and what the server
 * accepts, written once. The generator's `render/stack.ts` builds the container's arguments
 * with `serverArgs` and `config.ts` checks an environment against the memory and thread rules;
 * the server's CLI parses its flags from `SERVER_FLAGS` and applies the same rules. Beside the
 * model card (`model-card.ts`), the other contract both sides share; neither side imports the
 * other's sources.
 */

const MiB = 2 ** 20;

/** The ports the server listens on unless told otherwise, and the ones the Deployments use. */
export const PORTS = { inference: 8080, metrics: 8082 } as const;

/** Share of answered predictions copied to a shadow version when the version file names none. */
export const DEFAULT_SHADOW_SAMPLE = 0.1;

/**
 * Node + ONNX Runtime + a U-Net of ~10 MB with its arenas, measured idle after one 512x512
 * inference (`ps -o rss` of `npm run serve`, this repo's model 1.1.0; docs/benchmarks/server.md).
 */
export const RESERVE_BYTES = 512 * MiB;
/**
 * Each session beyond the first (`--instances`, session-pool.ts) holds the model and its own
 * activation arena (bare onnxruntime-node, the 512x512 U-Net; docs/benchmarks/server.md,
 * "Sessions side by side").
 */
export const SESSION_BYTES = 224 * MiB;
/** the smallest limit the server's split of its memory (model/server/src/memory.ts) is meaningful for */
export const MIN_MEMORY_LIMIT_BYTES = RESERVE_BYTES + 128 * MiB;

/**
 * Sessions a server with `instances` holds: one, or `instances` side by side under load plus
 * the wide one with every thread for a lone request (session-pool.ts).
 */
export function sessionCount(instances = 1): number {
  return instances > 1 ? instances + 1 : 1;
}

/** The fixed reserve and the smallest useful memory limit for a process holding `sessions` sessions. */
export function reserveBytes(sessions = 1): number {
  return RESERVE_BYTES + (sessions - 1) * SESSION_BYTES;
}
export function minMemoryLimitBytes(sessions = 1): number {
  return MIN_MEMORY_LIMIT_BYTES + (sessions - 1) * SESSION_BYTES;
}

/** Each of the sessions side by side needs an inference thread of its own. */
export function instancesFitThreads(instances: number, threads: number): boolean {
  return instances <= threads;
}

/**
 * Every flag of `serve`, as data: its name, the server option it sets and the kind of value.
 * The CLI parses exactly these; `serverArgs` writes them in this order.
 */
export const SERVER_FLAGS = [
  { name: "model", key: "model", kind: "string" },
  { name: "sha256", key: "sha256", kind: "string" },
  { name: "card", key: "card", kind: "string" },
  { name: "host", key: "host", kind: "string" },
  { name: "port", key: "port", kind: "integer" },
  { name: "metrics-port", key: "metricsPort", kind: "integer" },
  { name: "threads", key: "threads", kind: "integer" },
  { name: "instances", key: "instances", kind: "integer" },
  { name: "queue", key: "queue", kind: "integer" },
  { name: "exact-preprocess", key: "exactPreprocess", kind: "boolean" },
  { name: "memory-limit-bytes", key: "memoryLimitBytes", kind: "integer" },
  { name: "shadow", key: "shadowUrl", kind: "url" },
  { name: "shadow-sample", key: "shadowSample", kind: "fraction" },
  { name: "max-batch", key: "maxBatch", kind: "integer" },
  { name: "prefetch", key: "prefetch", kind: "integer" },
  { name: "batch-delay-ms", key: "batchDelayMs", kind: "integer" },
  { name: "max-body-bytes", key: "maxBodyBytes", kind: "integer" },
  { name: "max-json-bytes", key: "maxJsonBytes", kind: "integer" },
  { name: "max-pixels", key: "maxPixels", kind: "integer" },
  { name: "max-inflight-body-bytes", key: "maxInflightBodyBytes", kind: "integer" },
  { name: "min-body-bytes-per-second", key: "minBodyBytesPerSecond", kind: "integer" },
  { name: "body-grace-ms", key: "bodyGraceMs", kind: "integer" },
  { name: "shadow-timeout-ms", key: "shadowTimeoutMs", kind: "integer" },
  { name: "shadow-max-in-flight", key: "shadowMaxInFlight", kind: "integer" },
  { name: "request-timeout-ms", key: "requestTimeoutMs", kind: "integer" },
  { name: "headers-timeout-ms", key: "headersTimeoutMs", kind: "integer" },
  { name: "keep-alive-timeout-ms", key: "keepAliveTimeoutMs", kind: "integer" },
  { name: "drain-ms", key: "drainMs", kind: "integer" },
  { name: "shutdown-timeout-ms", key: "shutdownTimeoutMs", kind: "integer" },
  { name: "ort-spinning", key: "ortSpinning", kind: "boolean" },
  { name: "no-access-log", key: "noAccessLog", kind: "boolean" },
] as const;

export type ServerFlag = (typeof SERVER_FLAGS)[number];
type ValueOf<K extends ServerFlag["kind"]> = K extends "boolean"
  ? boolean
  : K extends "string" | "url"
    ? string
    : number;
/** A value per flag, by the option it sets. */
export type ServerFlagValues = { [F in ServerFlag as F["key"]]: ValueOf<F["kind"]> };

/**
 * The `serve` command line for these values, flags in `SERVER_FLAGS` order; a flag whose value
 * is undefined (or a boolean that is false) is left out, so the server's default applies.
 */
export function serverArgs(values: Partial<ServerFlagValues>): string[] {
  const args = ["serve"];
  for (const f of SERVER_FLAGS) {
    const v = values[f.key];
    if (v === undefined || v === false) continue;
    args.push(`--${f.name}`);
    if (v !== true) args.push(String(v));
  }
  return args;
}
