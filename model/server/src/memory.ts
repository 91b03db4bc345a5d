/**
 * Per-request and in-flight limits that follow from the container's memory limit
 * (`--memory-limit-bytes`, rendered from the environment's `resources.limits.memory`).
 *
 * What is left after a fixed reserve for Node, ONNX Runtime and the model is split between the
 * three things a request can make the process hold:
 *   decoding   half: `prefetch` images decode at once (queue.ts), each ~DECODE_BYTES_PER_PIXEL
 *   uploads    a quarter: bodies as they arrive and until their request ends (body.ts)
 *   JSON       a quarter: one v2 body parsed at a time, off the event loop (http/json-worker.mjs),
 *              in a worker whose heap is capped at this share
 * Without a memory limit the fixed DEFAULTS of server.ts apply (local use).
 */

const MiB = 2 ** 20;

/**
 * Node + ONNX Runtime + a U-Net of ~10 MB with its arenas, measured idle after one 512x512
 * inference: RSS 407 MB (`ps -o rss` of `npm run serve`, this repo's model 1.1.0).
 */
export const RESERVE_BYTES = 512 * MiB;
/**
 * Each session beyond the first (`--instances`, session-pool.ts) holds the model and its own
 * activation arena: one 2-thread session peaked at 316 MB RSS, two 1-thread sessions side by
 * side at 528 MB (bare onnxruntime-node, the 512x512 U-Net, 2026-12-03).
 */
export const SESSION_BYTES = 224 * MiB;
/**
 * Peak bytes per decoded pixel: 4 PNGs of 7000x7000 in flight (prefetch 2) took VmHWM from
 * 407 MB to 1321 MB, ~9.3 bytes per pixel (RGB + libvips' line buffers + the resize).
 */
export const DECODE_BYTES_PER_PIXEL = 10;
/**
 * JSON.parse of short numbers ("0,") builds 8 bytes per 2 bytes of text, and the tensor
 * check copies it once more: a body can cost up to ~10x its size while it is parsed; the
 * worker's heap is capped at the JSON share, so a worse body fails there, not the process.
 */
export const JSON_BYTES_PER_BODY_BYTE = 12;
/** the smallest limit the split is meaningful for */
export const MIN_MEMORY_LIMIT_BYTES = RESERVE_BYTES + 128 * MiB;

/** The fixed reserve and the smallest useful limit for a process holding `sessions` sessions. */
export function reserveBytes(sessions = 1): number {
  return RESERVE_BYTES + (sessions - 1) * SESSION_BYTES;
}
export function minMemoryLimitBytes(sessions = 1): number {
  return MIN_MEMORY_LIMIT_BYTES + (sessions - 1) * SESSION_BYTES;
}

export interface MemoryLimits {
  maxPixels: number;
  maxBodyBytes: number;
  maxJsonBytes: number;
  /** body bytes held by all requests together */
  maxInflightBodyBytes: number;
  /** heap of the JSON worker, MiB */
  jsonWorkerHeapMb: number;
}

export function limitsForMemory(
  memoryLimitBytes: number,
  prefetch: number,
  caps: { maxPixels: number; maxBodyBytes: number; maxJsonBytes: number },
  sessions = 1,
): MemoryLimits {
  const min = minMemoryLimitBytes(sessions);
  if (memoryLimitBytes < min) {
    throw new RangeError(
      `a memory limit of ${memoryLimitBytes} bytes leaves nothing for requests: give the container at least ${min / MiB} MiB`,
    );
  }
  const free = memoryLimitBytes - reserveBytes(sessions);
  const uploads = Math.floor(free / 4);
  const json = Math.floor(free / 4);
  return {
    maxPixels: Math.min(caps.maxPixels, Math.floor(free / 2 / (prefetch * DECODE_BYTES_PER_PIXEL))),
    maxBodyBytes: Math.min(caps.maxBodyBytes, uploads),
    maxJsonBytes: Math.min(caps.maxJsonBytes, Math.floor(json / JSON_BYTES_PER_BODY_BYTE)),
    maxInflightBodyBytes: uploads,
    jsonWorkerHeapMb: Math.max(16, Math.floor(json / MiB)),
  };
}
