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
 * its time is part of the "postprocess" stage (measured: docs/benchmarks/server.md).
 */
import { constants, crc32, deflateSync } from "node:zlib";
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
 * The horizontal pass's float32 rows, kept between calls (2 MB for a 512-row map resized to
 * 1000 columns): a fresh one per photo is external memory to V8 and adds to full-GC pressure.
 */
let scratchRows = new Float32Array(0);
function scratch(n: number): Float32Array {
  if (scratchRows.length < n) scratchRows = new Float32Array(n);
  return scratchRows;
}

/** The card's activation of one logit, in float64 (stored as float32 by the callers). */
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const identity = (x: number) => x;

/**
 * Values this far below the threshold cannot reach it through the resize: every output value is
 * a convex combination (non-negative weights summing to 1) of inputs, and float32 rounding moves
 * it by far less than this. Used only to skip work; everything near the threshold is computed.
 */
const skipMargin = (t: number) => Math.max(1e-5, Math.abs(t) * 1e-5);

/**
 * A logit at or below the one whose sigmoid is p (a column whose sigmoid reaches p has at least
 * this raw value): the inverse, less a margin far above float64's rounding in either direction;
 * -Infinity (every column) where p is too close to 0 or 1 for the inverse to be trusted.
 */
function logitBelow(p: number): number {
  if (!(p > 1e-12 && p < 1 - 1e-12)) return Number.NEGATIVE_INFINITY;
  const v = Math.log(p / (1 - p));
  return v - 1e-9 * Math.max(1, Math.abs(v));
}

/**
 * Resize a map of w x h (logits, activated here when `activation` says so, or probabilities) to
 * width x height and threshold it (value >= threshold, compared in float32 like numpy does).
 *
 * The result is exactly that of resizing the whole map and thresholding every pixel, but the
 * work is proportional to the part of the photo near the mask: rows of the map whose largest
 * value stays below the threshold are neither activated nor resized, output rows fed only by
 * such rows are left empty, and the vertical pass runs only over the columns where some input
 * row reaches the threshold. A counter window covers a few percent of a photo, so this skips
 * most of the 1.3 M output pixels of a phone photo (a map near the threshold everywhere, such
 * as an untrained model's, still takes the full pass).
 */
export function resizeAndThreshold(
  map: Float32Array,
  w: number,
  h: number,
  width: number,
  height: number,
  threshold: number,
  mode: InferenceSpec["resizeBack"],
  activation: InferenceSpec["activation"] = "none",
): Mask {
  if (map.length !== w * h) throw new Error(`expected a ${w}x${h} map, got ${map.length} values`);
  const act = activation === "sigmoid" ? sigmoid : identity;
  const t = Math.fround(threshold);
  const out = new Uint8Array(width * height);
  const stats = new MaskStats();
  if (mode === "nearest") {
    const xs = nearestIndex(w, width);
    const ys = nearestIndex(h, height);
    const row = new Float32Array(w);
    for (let y = 0; y < height; y++) {
      const src = (ys[y] as number) * w;
      for (let x = 0; x < w; x++) row[x] = act(map[src + x] as number);
      let n = 0;
      let fx = -1;
      let lx = -1;
      for (let x = 0; x < width; x++) {
        if ((row[xs[x] as number] as number) >= t) {
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
  const low = t - skipMargin(t);
  // A map row is "hot" when its largest value (activation is monotonic) reaches `low`; in hot
  // rows, [sLo, sHi] spans the map's columns whose raw value reaches rawLow (at or below the
  // value whose activation is `low`, so no column that reaches `low` is left out).
  const rawLow = activation === "sigmoid" ? logitBelow(low) : low;
  const hot = new Uint8Array(h);
  let sLo = w;
  let sHi = -1;
  for (let y = 0; y < h; y++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let x = y * w, end = x + w; x < end; x++) if ((map[x] as number) > m) m = map[x] as number;
    hot[y] = act(m) >= low ? 1 : 0;
    if (!hot[y]) continue;
    for (let x = 0; x < sLo; x++) if ((map[y * w + x] as number) >= rawLow) sLo = x;
    for (let x = w - 1; x > sHi; x--) if ((map[y * w + x] as number) >= rawLow) sHi = x;
  }
  // Output columns [gLo, gHi]: those whose filter window meets [sLo, sHi]. Any other column is a
  // convex combination of values below `low` in every row, so no row's [colLo, colHi] below
  // includes it and the vertical pass never reads it: the horizontal pass skips it.
  let gLo = 0;
  while (gLo < width && (cx.first[gLo] as number) + (cx.count[gLo] as number) <= sLo) gLo++;
  let gHi = width - 1;
  while (gHi >= 0 && (cx.first[gHi] as number) > sHi) gHi--;
  const srcLo = gLo <= gHi ? (cx.first[gLo] as number) : 0;
  const srcHi = gLo <= gHi ? (cx.first[gHi] as number) + (cx.count[gHi] as number) : 0;
  // Horizontal pass (first, as Pillow does) into float32, one map row at a time, on demand;
  // colLo/colHi: the columns of that row whose value reaches `low`.
  const tmp = scratch(h * width); // only rows computed below are read, so no clearing
  const done = new Uint8Array(h);
  const colLo = new Int32Array(h).fill(width);
  const colHi = new Int32Array(h).fill(-1);
  const src = new Float32Array(w);
  const horizontal = (y: number) => {
    if (done[y]) return;
    done[y] = 1;
    for (let x = srcLo, i = y * w + srcLo; x < srcHi; x++, i++) src[x] = act(map[i] as number);
    const base = y * width;
    let lo = width;
    let hi = -1;
    for (let x = gLo; x <= gHi; x++) {
      const o = x * cx.stride;
      const first = cx.first[x] as number;
      const n = cx.count[x] as number;
      let s = 0;
      for (let i = 0; i < n; i++) s += (src[first + i] as number) * (cx.weights[o + i] as number);
      tmp[base + x] = s;
      if ((tmp[base + x] as number) >= low) {
        if (lo === width) lo = x;
        hi = x;
      }
    }
    colLo[y] = lo;
    colHi[y] = hi;
  };
  // Vertical pass, row by row (contiguous reads), fused with the threshold and the statistics.
  const acc = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    const o = y * cy.stride;
    const first = cy.first[y] as number;
    const n = cy.count[y] as number;
    let anyHot = false;
    for (let i = 0; i < n; i++) if (hot[first + i] && cy.weights[o + i] !== 0) anyHot = true;
    if (!anyHot) continue; // every input row stays below the threshold: an empty output row
    let x0 = width;
    let x1 = -1;
    for (let i = 0; i < n; i++) {
      if (cy.weights[o + i] === 0) continue;
      horizontal(first + i);
      if ((colLo[first + i] as number) < x0) x0 = colLo[first + i] as number;
      if ((colHi[first + i] as number) > x1) x1 = colHi[first + i] as number;
    }
    if (x1 < x0) continue;
    acc.fill(0, x0, x1 + 1);
    for (let i = 0; i < n; i++) {
      const wt = cy.weights[o + i] as number;
      if (wt === 0) continue;
      const row = (first + i) * width;
      for (let x = x0; x <= x1; x++) acc[x] = (acc[x] as number) + (tmp[row + x] as number) * wt;
    }
    let count = 0;
    let fx = -1;
    let lx = -1;
    const base = y * width;
    for (let x = x0; x <= x1; x++) {
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
    logits,
    spec.width,
    spec.height,
    size.width,
    size.height,
    spec.threshold,
    spec.resizeBack,
    spec.activation,
  );
}

/** The PNG's scanlines (a filter byte before each row), kept between calls like scratchRows. */
let scanlines = Buffer.alloc(0);

function pngChunk(type: string, data: Uint8Array): Buffer {
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, "latin1");
  chunk.set(data, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * 8-bit greyscale PNG, 0/255 (the same pixels as before, when libvips wrote it), written here:
 * rows unfiltered, deflated with zlib's run-length strategy (a mask is long runs of 0 and 255).
 * About half the time of libvips' encoder for a 1000x1333 mask, and smaller; it runs on this
 * thread, without a round trip through libuv's pool.
 */
export async function encodeMaskPng(mask: Mask): Promise<Buffer> {
  const { width, height, data } = mask;
  const stride = width + 1;
  const n = stride * height;
  // kept up to a 16 MB photo; a bigger one-off gets its own buffer, left to the GC
  if (scanlines.length < n && n <= 16 * 2 ** 20) scanlines = Buffer.alloc(n);
  const rows = scanlines.length >= n ? scanlines : Buffer.alloc(n);
  for (let y = 0; y < height; y++) {
    rows[y * stride] = 0; // filter type None
    rows.set(data.subarray(y * width, (y + 1) * width), y * stride + 1);
  }
  const header = Buffer.alloc(13); // bit depth 8, colour type 0 (greyscale), no interlace
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  const idat = deflateSync(rows.subarray(0, n), { strategy: constants.Z_RLE });
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk("IHDR", header),
    pngChunk("IDAT", idat),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
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
