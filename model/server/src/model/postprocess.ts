/**
 * Model output -> binary mask at the photo's displayed size, following the card: activation
 * on the small map, then the probability map is resized back and thresholded.
 *
 * Why the resize back is a JS loop and not sharp: training resizes the float probability map
 * (Pillow, mode "F", BILINEAR) and thresholds afterwards; libvips, through sharp, converts a
 * one-band numeric image to 8-bit sRGB on output, so it cannot carry probabilities. Resizing an
 * already thresholded 0/255 map instead moves mask edges by up to a pixel of the small map.
 * The loop below is Pillow's separable triangle filter (same coefficients, horizontal pass
 * first, float32 between passes) fused with the threshold and the coverage/bounding-box count;
 * about 12 ms for a 1000x1333 photo, reported as part of the "postprocess" stage.
 */
import sharp from "sharp";
import type { InferenceSpec } from "./card.ts";

export interface BoundingBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Mask {
  /** one byte per pixel, 0 or 255, row-major */
  data: Uint8Array;
  width: number;
  height: number;
  /** share of pixels set, 0..1 */
  coverage: number;
  /** smallest box around the set pixels; null for an empty mask */
  bbox: BoundingBox | null;
}

export function activate(logits: Float32Array, activation: InferenceSpec["activation"]): Float32Array {
  if (activation === "none") return logits;
  const p = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) p[i] = 1 / (1 + Math.exp(-(logits[i] as number)));
  return p;
}

interface Coefficients {
  weights: Float64Array;
  first: Int32Array;
  count: Int32Array;
  stride: number;
}

/** Pillow's precompute_coeffs() for the bilinear (triangle, support 1) filter. */
function bilinearCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const weights = new Float64Array(outSize * stride);
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let i = 0; i < hi - lo; i++) {
      const t = Math.abs((i + lo - center + 0.5) / filterScale);
      const w = t < 1 ? 1 - t : 0;
      weights[o * stride + i] = w;
      total += w;
    }
    if (total !== 0) for (let i = 0; i < hi - lo; i++) (weights[o * stride + i] as number) /= total;
    first[o] = lo;
    count[o] = hi - lo;
  }
  return { weights, first, count, stride };
}

/** Pillow's NEAREST: the source pixel whose centre is nearest the output pixel's centre. */
function nearestIndex(inSize: number, outSize: number): Int32Array {
  const idx = new Int32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) idx[o] = Math.min(Math.floor((o + 0.5) * scale), inSize - 1);
  return idx;
}

class MaskStats {
  count = 0;
  minX = Number.POSITIVE_INFINITY;
  minY = Number.POSITIVE_INFINITY;
  maxX = -1;
  maxY = -1;
  row(y: number, firstX: number, lastX: number, n: number): void {
    if (n === 0) return;
    this.count += n;
    if (y < this.minY) this.minY = y;
    this.maxY = y;
    if (firstX < this.minX) this.minX = firstX;
    if (lastX > this.maxX) this.maxX = lastX;
  }
  finish(data: Uint8Array, width: number, height: number): Mask {
    const bbox =
      this.count === 0
        ? null
        : { x: this.minX, y: this.minY, width: this.maxX - this.minX + 1, height: this.maxY - this.minY + 1 };
    return { data, width, height, coverage: this.count / (width * height), bbox };
  }
}

/**
 * Resize a (probability) map of w x h to width x height and threshold it (value >= threshold,
 * compared in float32 like numpy does).
 */
export function resizeAndThreshold(
  map: Float32Array,
  w: number,
  h: number,
  width: number,
  height: number,
  threshold: number,
  mode: InferenceSpec["resizeBack"],
): Mask {
  if (map.length !== w * h) throw new Error(`expected a ${w}x${h} map, got ${map.length} values`);
  const t = Math.fround(threshold);
  const out = new Uint8Array(width * height);
  const stats = new MaskStats();
  if (mode === "nearest") {
    const xs = nearestIndex(w, width);
    const ys = nearestIndex(h, height);
    for (let y = 0; y < height; y++) {
      const src = (ys[y] as number) * w;
      let n = 0;
      let fx = -1;
      let lx = -1;
      for (let x = 0; x < width; x++) {
        if ((map[src + (xs[x] as number)] as number) >= t) {
          out[y * width + x] = 255;
          if (fx < 0) fx = x;
          lx = x;
          n++;
        }
      }
      stats.row(y, fx, lx, n);
    }
    return stats.finish(out, width, height);
  }
  const cx = bilinearCoefficients(w, width);
  const cy = bilinearCoefficients(h, height);
  // Horizontal pass first (as Pillow does), into float32.
  const tmp = new Float32Array(h * width);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < width; x++) {
      const o = x * cx.stride;
      const lo = row + (cx.first[x] as number);
      const n = cx.count[x] as number;
      let s = 0;
      for (let i = 0; i < n; i++) s += (map[lo + i] as number) * (cx.weights[o + i] as number);
      tmp[y * width + x] = s;
    }
  }
  // Vertical pass, row by row (contiguous reads), fused with the threshold and the statistics.
  const acc = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    const o = y * cy.stride;
    const lo = cy.first[y] as number;
    const n = cy.count[y] as number;
    acc.fill(0);
    for (let i = 0; i < n; i++) {
      const w = cy.weights[o + i] as number;
      if (w === 0) continue;
      const row = (lo + i) * width;
      for (let x = 0; x < width; x++) acc[x] = (acc[x] as number) + (tmp[row + x] as number) * w;
    }
    let count = 0;
    let fx = -1;
    let lx = -1;
    const base = y * width;
    for (let x = 0; x < width; x++) {
      if (Math.fround(acc[x] as number) >= t) {
        out[base + x] = 255;
        if (fx < 0) fx = x;
        lx = x;
        count++;
      }
    }
    stats.row(y, fx, lx, count);
  }
  return stats.finish(out, width, height);
}

export function postprocess(
  logits: Float32Array,
  spec: Pick<InferenceSpec, "width" | "height" | "activation" | "threshold" | "resizeBack">,
  size: { width: number; height: number },
): Mask {
  return resizeAndThreshold(
    activate(logits, spec.activation),
    spec.width,
    spec.height,
    size.width,
    size.height,
    spec.threshold,
    spec.resizeBack,
  );
}

/** 8-bit greyscale PNG, 0/255; low zlib effort since masks compress well anyway. */
export function encodeMaskPng(mask: Mask): Promise<Buffer> {
  return sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .toColourspace("b-w")
    .png({ compressionLevel: 3, adaptiveFiltering: false })
    .toBuffer();
}

/** The photo as displayed with the mask laid over it in translucent red (for `predict`). */
export async function overlayPng(rgb: Uint8Array, mask: Mask): Promise<Buffer> {
  const { width, height } = mask;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < mask.data.length; i++, j += 4) {
    if (mask.data[i]) {
      rgba[j] = 255;
      rgba[j + 3] = 110;
    }
  }
  const composed = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(rgba.buffer), raw: { width, height, channels: 4 } }])
    .raw()
    .toBuffer({ resolveWithObject: true });
  // composite leaves an alpha band; the photo had none
  return sharp(composed.data, { raw: { width, height, channels: composed.info.channels as 3 | 4 } })
    .removeAlpha()
    .png()
    .toBuffer();
}
