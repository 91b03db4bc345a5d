/**
 * One prediction, stage by stage: decode -> preprocess -> queue -> inference -> postprocess.
 * Shared by the HTTP routes and the `predict` command, so both give the same mask.
 */
import type { Stage } from "./metrics.ts";
import { type DecodedImage, type DecodeLimits, decodeImage } from "./model/decode.ts";
import type { ModelHost } from "./model/lifecycle.ts";
import { encodeMaskPng, type Mask, postprocess } from "./model/postprocess.ts";
import { preprocess } from "./model/preprocess.ts";
import type { Slot } from "./queue.ts";

export type Timings = Record<Stage, number>;

export interface Prediction {
  /** the photo as decoded; its pixels only when asked for (`keepPixels`) */
  image: Omit<DecodedImage, "data"> & { data?: Buffer };
  mask: Mask;
  png: Buffer;
  /** milliseconds per stage */
  timings: Timings;
  model: { name: string; version: string; sha256: string };
}

export type InferenceSlot = Slot<Float32Array, Float32Array>;

export async function predictImage(
  host: ModelHost,
  bytes: Buffer,
  slot: InferenceSlot,
  limits: DecodeLimits,
  opts: { keepPixels?: boolean } = {},
): Promise<Prediction> {
  const { spec, outputSize, sha256 } = host.require();
  let t0 = 0;
  let t1 = 0;
  // Decode and preprocess when this request's turn comes (a few ahead of inference, not all).
  const turn = await slot.prepare(async () => {
    t0 = performance.now();
    const decoded = await decodeImage(bytes, spec, limits);
    t1 = performance.now();
    const tensor = await preprocess(decoded, spec, host.inputBuffer());
    // Unless asked for, the pixels (4 MiB for a phone photo) are dropped here, young: kept
    // through inference they would outlive a minor GC and wait for a full one.
    const { data, ...dims } = decoded;
    return { image: opts.keepPixels ? { ...dims, data } : dims, tensor };
  });
  const { image, tensor } = turn.value;
  const t2 = performance.now();
  const done = await slot.submit(tensor);
  const output = done.value;
  const t3 = performance.now();
  const mask = postprocess(
    output,
    { ...spec, width: outputSize.width, height: outputSize.height },
    { width: image.width, height: image.height },
  );
  const png = await encodeMaskPng(mask);
  const t4 = performance.now();
  return {
    image,
    mask,
    png,
    timings: {
      decode: t1 - t0,
      preprocess: t2 - t1,
      queue: turn.waitedMs + done.waitedMs,
      inference: t3 - t2 - done.waitedMs,
      postprocess: t4 - t3,
      total: t4 - t0 + turn.waitedMs,
    },
    model: { name: spec.name, version: spec.version, sha256 },
  };
}
