/**
 * The photo path's warm-up: the per-photo work around inference (decode, preprocess,
 * postprocess, PNG), run a few times on a synthetic phone-sized photo before the first request.
 */
import sharp from "sharp";
import { errorMessage, ModelLoadError } from "../errors.ts";
import type { Float32Pool } from "./buffer-pool.ts";
import type { InferenceSpec } from "./card.ts";
import { decodeForModel, decodeImage } from "./decode.ts";
import { encodeMaskPng, postprocess } from "./postprocess.ts";
import { preprocess } from "./preprocess.ts";

/**
 * Run decode, preprocess, postprocess and PNG encoding a few times on a synthetic phone-sized
 * photo, so that V8 has compiled their loops and the WebAssembly resize with its optimising
 * tiers before the first request. Without it the first two requests paid more in
 * preprocessing and postprocessing (docs/benchmarks/server.md, "Shortening the c=1 path").
 * `map` is the model's output size; input tensors are taken from and given back to `inputs`.
 */
export async function warmUpPhotoPath(
  spec: InferenceSpec,
  map: { width: number; height: number },
  inputs: Float32Pool,
): Promise<void> {
  const [width, height] = [1000, 1333];
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7) % 251;
  // a disc of logits (or probabilities) crossing the threshold, as a trained model's map does
  const logits = new Float32Array(map.width * map.height);
  const r = Math.min(map.width, map.height) / 4;
  for (let y = 0; y < map.height; y++)
    for (let x = 0; x < map.width; x++) {
      const d = Math.hypot(x - map.width / 2, y - map.height / 2) / r;
      logits[y * map.width + x] = spec.activation === "sigmoid" ? 6 * (1 - d) : 1 - d / 2;
    }
  try {
    const jpeg = await sharp(rgb, { raw: { width, height, channels: 3 } })
      .jpeg()
      .toBuffer();
    for (let round = 0; round < 3; round++) {
      const decoded = await decodeImage(jpeg, spec, { maxPixels: width * height });
      inputs.give(await preprocess(decoded, spec, inputs.take()));
      const mask = postprocess(logits, { ...spec, width: map.width, height: map.height }, decoded);
      await encodeMaskPng(mask);
      // and the default decode, at the model's scale (decode.ts)
      const fast = await decodeForModel(jpeg, spec, { maxPixels: width * height });
      inputs.give(await preprocess(fast.decoded, spec, inputs.take()));
    }
  } catch (err) {
    throw new ModelLoadError(`warm-up of the photo path failed: ${errorMessage(err)}`, { cause: err });
  }
}
