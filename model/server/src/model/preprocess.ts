/**
 * Displayed RGB pixels -> the model's input tensor, exactly as the card says: stretch-resize
 * (bilinear) to the card's width x height, multiply by `scale`, subtract mean, divide by std,
 * NCHW float32. The resize reproduces Pillow's exactly (pillow-resize.ts, a JS loop over the
 * filter taps); the HWC->CHW normalisation is one pass over width*height*3 bytes.
 */
import type { InferenceSpec } from "./card.ts";
import type { DecodedImage } from "./decode.ts";
import { pillowBilinearRgb, pillowBilinearRgbInto } from "./pillow-resize.ts";

export type PreprocessSpec = Pick<InferenceSpec, "width" | "height" | "scale" | "mean" | "std">;

/**
 * Resizing from the fully decoded pixels (not from the JPEG) keeps libjpeg's shrink-on-load out
 * of the way: training decodes at full size and resizes once with Pillow, and so must we.
 */
export async function resizeRgb(
  img: DecodedImage,
  spec: Pick<InferenceSpec, "width" | "height">,
): Promise<Uint8Array> {
  if (img.width === spec.width && img.height === spec.height) return img.data;
  return pillowBilinearRgb(img.data, img.width, img.height, spec.width, spec.height);
}

/** HWC uint8 -> CHW float32 with (x * scale - mean) / std folded into one multiply-add. */
export function normalizeToChw(rgb: Uint8Array, spec: PreprocessSpec, out?: Float32Array): Float32Array {
  const n = spec.width * spec.height;
  if (rgb.length !== n * 3) throw new Error(`expected ${n * 3} bytes of RGB, got ${rgb.length}`);
  const x = out ?? new Float32Array(n * 3);
  const [m0, m1, m2] = spec.mean;
  const [s0, s1, s2] = spec.std;
  const a0 = spec.scale / s0;
  const a1 = spec.scale / s1;
  const a2 = spec.scale / s2;
  const b0 = -m0 / s0;
  const b1 = -m1 / s1;
  const b2 = -m2 / s2;
  const g = n;
  const b = 2 * n;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    x[i] = (rgb[j] as number) * a0 + b0;
    x[g + i] = (rgb[j + 1] as number) * a1 + b1;
    x[b + i] = (rgb[j + 2] as number) * a2 + b2;
  }
  return x;
}

/** `out`, when given, receives the tensor (a reused buffer of 3 x width x height floats). */
export async function preprocess(
  img: DecodedImage,
  spec: PreprocessSpec,
  out?: Float32Array,
): Promise<Float32Array> {
  if (img.width === spec.width && img.height === spec.height) return normalizeToChw(img.data, spec, out);
  // normalised straight from the resize's own memory: no intermediate copy per photo
  return pillowBilinearRgbInto(img.data, img.width, img.height, spec.width, spec.height, (rgb) =>
    normalizeToChw(rgb, spec, out),
  );
}
