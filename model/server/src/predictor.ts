/**
 * One prediction, stage by stage: decode -> preprocess -> queue -> inference -> postprocess.
 * Shared by the HTTP routes and the `predict` command, so both give the same mask.
 */
import type { Stage } from "./metrics.ts";
import { type DecodedImage, type DecodeLimits, decodeForModel, decodeImage } from "./model/decode.ts";
import type { ModelHost } from "./model/lifecycle.ts";
import { encodeMaskPng, type Mask, postprocess } from "./model/postprocess.ts";
import { preprocess } from "./model/preprocess.ts";
import type { Slot } from "./queue.ts";

export type Timings = Record<Stage, number>;

export interface Prediction {
  /**
   * the photo as displayed (width x height: the mask's size); its pixels only when asked for
   * (`keepPixels`: decoded at full size once more when the tensor came from the fast decode)
   */
  image: Omit<DecodedImage, "data"> & { data?: Buffer };
  /** libjpeg's DCT scale denominator the photo was decoded at (1: full size) */
  shrink: number;
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
  opts: { keepPixels?: boolean; exactPreprocess?: boolean } = {},
): Promise<Prediction> {
  const { spec, outputSize, sha256 } = host.require();
  let t0 = 0;
  let t1 = 0;
  // Decode and preprocess when this request's turn comes (a few ahead of inference, not all).
  const turn = await slot.prepare(async () => {
    t0 = performance.now();
    // at the model's scale unless asked for the exact path (decode.ts)
    const exact = opts.exactPreprocess === true;
    const { decoded, displayed, shrink } = await decodeForModel(bytes, { ...spec, exact }, limits);
    t1 = performance.now();
    const tensor = await preprocess(decoded, spec, host.inputBuffer());
    const dims = { ...displayed, format: decoded.format };
    if (!opts.keepPixels) return { image: dims, tensor, shrink };
    // Only when asked for (the overlay of `predict`): the photo's own pixels, at full size.
    // Otherwise they (4 MiB for a phone photo) are dropped here, young: kept through inference
    // they would outlive a minor GC and wait for a full one.
    const data =
      shrink === 1 && decoded.width === displayed.width && decoded.height === displayed.height
        ? decoded.data
        : (await decodeImage(bytes, spec, limits)).data;
    return { image: { ...dims, data }, tensor, shrink };
  });
  const { image, tensor, shrink } = turn.value;
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
    shrink,
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
