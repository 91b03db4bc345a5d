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
  image: DecodedImage;
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
): Promise<Prediction> {
  const { spec, outputSize, sha256 } = host.require();
  const t0 = performance.now();
  const image = await decodeImage(bytes, spec, limits);
  const t1 = performance.now();
  const tensor = await preprocess(image, spec);
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
      queue: done.waitedMs,
      inference: t3 - t2 - done.waitedMs,
      postprocess: t4 - t3,
      total: t4 - t0,
    },
    model: { name: spec.name, version: spec.version, sha256 },
  };
}
