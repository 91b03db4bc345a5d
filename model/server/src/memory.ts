/**
 * Per-request and in-flight limits that follow from the container's memory limit
 * (`--memory-limit-bytes`, rendered from the environment's `resources.limits.memory`).
 *
 * What is left after a fixed reserve for Node, ONNX Runtime and the model (the serving contract,
 * model/serving-contract.ts, which the generator checks environments against) is split between the
 * three things a request can make the process hold:
 *   decoding   half: `prefetch` images decode at once (queue.ts), each ~DECODE_BYTES_PER_PIXEL
 *   uploads    a quarter: bodies as they arrive and until their request ends (body.ts)
 *   JSON       a quarter: one v2 body parsed at a time, off the event loop (http/json-worker.mjs),
 *              in a worker whose heap is capped at this share
 * Without a memory limit the fixed DEFAULTS of server.ts apply (local use).
 */

import { minMemoryLimitBytes, reserveBytes } from "../../serving-contract.ts";

const MiB = 2 ** 20;

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
