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

/**
 * HWC uint8 -> CHW float32 with (x * scale - mean) / std folded into one multiply-add per byte
 * value: a byte has 256 values, so each channel's 256 results are computed once (in float64, as
 * the loop did, then stored as float32) and the pass over the photo only looks them up (faster,
 * the same floats; docs/benchmarks/server.md, "Fewer full GCs, and the ceilings the stages
 * allow").
 */
export function normalizeToChw(rgb: Uint8Array, spec: PreprocessSpec, out?: Float32Array): Float32Array {
  const n = spec.width * spec.height;
  if (rgb.length !== n * 3) throw new Error(`expected ${n * 3} bytes of RGB, got ${rgb.length}`);
  const x = out ?? new Float32Array(n * 3);
  const t = lookupTable(spec);
  const g = n;
  const b = 2 * n;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    x[i] = t[rgb[j] as number] as number;
    x[g + i] = t[256 + (rgb[j + 1] as number)] as number;
    x[b + i] = t[512 + (rgb[j + 2] as number)] as number;
  }
  return x;
}

/** Per channel c, entry 256 * c + v: v * (scale / std[c]) - mean[c] / std[c], as float32. */
function lookupTable(spec: PreprocessSpec): Float32Array {
  const key = `${spec.scale} ${spec.mean.join(" ")} ${spec.std.join(" ")}`;
  if (key === tableKey) return table;
  const t = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    const a = spec.scale / (spec.std[c] as number);
    const o = -(spec.mean[c] as number) / (spec.std[c] as number);
    for (let v = 0; v < 256; v++) t[256 * c + v] = v * a + o;
  }
  table = t;
  tableKey = key;
  return t;
}
let table = new Float32Array(768);
let tableKey = "";

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
