/**
 * Pillow's BILINEAR resize of 8-bit RGB, reproduced exactly (libImaging/Resample.c): the same
 * antialiased triangle filter, the same 22-bit fixed-point coefficients and rounding, the same
 * horizontal-then-vertical passes through an 8-bit intermediate. Training resizes with Pillow;
 * libvips' "linear" kernel lands up to a few grey levels away, which a trained model turns into
 * visibly different mask edges (served-vs-training mask IoU fell to 0.98). The coefficients are
 * computed here; the two passes run in WebAssembly with 128-bit SIMD (wasm/pillow-resize.wat),
 * one lane per channel, with the same integer arithmetic as the C code.
 */
import { readFileSync } from "node:fs";

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // per output pixel: first input index, number of taps
  kk: Int32Array; // fixed-point weights, ksize per output pixel
}

const triangle = (x: number) => {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
};

function precompute(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale; // bilinear support is 1
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const pre = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C's (int) truncates toward zero; these values are >= -0.5 so trunc matches
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && ww !== 0 ? (pre[x] as number) / ww : 0;
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** Both passes' coefficients, and the input rows [yFirst, yFirst + rows) the vertical pass reads. */
function plan(inW: number, inH: number, outW: number, outH: number) {
  const h = precompute(inW, outW);
  const v = precompute(inH, outH);
  const yFirst = v.bounds[0] as number;
  const rows = (v.bounds[(outH - 1) * 2] as number) + (v.bounds[(outH - 1) * 2 + 1] as number) - yFirst;
  return { h, v, yFirst, rows };
}

const clip8 = (v: number) => {
  const r = v >> PRECISION_BITS; // arithmetic shift, as in C for the sums in range
  return r < 0 ? 0 : r > 255 ? 255 : r;
};

/**
 * The same resize in plain JavaScript: the reference the WebAssembly passes are tested against
 * (and several times slower: docs/benchmarks/server.md, "Reading it").
 */
export function pillowBilinearRgbJs(
  src: Uint8Array,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
): Uint8Array {
  const { h, v, yFirst, rows } = plan(inW, inH, outW, outH);
  // Locals, not property loads, inside the hot loops.
  const hb = h.bounds;
  const hk = h.kk;
  const hks = h.ksize;
  const vb = v.bounds;
  const vk = v.kk;
  const vks = v.ksize;
  const rowLen = outW * 3;
  const tmp = new Uint8Array(rows * rowLen);
  for (let y = 0; y < rows; y++) {
    const inRow = (y + yFirst) * inW * 3;
    let o = y * rowLen;
    for (let xx = 0; xx < outW; xx++) {
      const n = hb[xx * 2 + 1] as number;
      const k = xx * hks;
      let p = inRow + (hb[xx * 2] as number) * 3;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let x = 0; x < n; x++, p += 3) {
        const w = hk[k + x] as number;
        s0 += (src[p] as number) * w;
        s1 += (src[p + 1] as number) * w;
        s2 += (src[p + 2] as number) * w;
      }
      tmp[o++] = clip8(s0);
      tmp[o++] = clip8(s1);
      tmp[o++] = clip8(s2);
    }
  }
  // Vertical pass: accumulate whole rows (contiguous reads and writes), then round and clip.
  const out = new Uint8Array(outW * outH * 3);
  const acc = new Int32Array(rowLen);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = (vb[yy * 2] as number) - yFirst;
    const n = vb[yy * 2 + 1] as number;
    const k = yy * vks;
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const w = vk[k + y] as number;
      if (w === 0) continue;
      const row = (y + ymin) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] = (acc[i] as number) + (tmp[row + i] as number) * w;
    }
    const outRow = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[outRow + i] = clip8(acc[i] as number);
  }
  return out;
}

// ------------------------------------------------------------------ WebAssembly passes

// The few WebAssembly JS API members used here (this project's TypeScript libs omit them).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface ResizeExports {
  memory: WasmMemory;
  horizontal: (...args: number[]) => void;
  vertical: (...args: number[]) => void;
}
const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object) => { exports: unknown };
    };
  }
).WebAssembly;

const wasmModule = new Wasm.Module(readFileSync(new URL("./wasm/pillow-resize.wasm", import.meta.url)));
let instance: ResizeExports | undefined;
/** Memory kept between calls; a bigger photo grows it, and the instance is dropped afterwards. */
const KEEP_BYTES = 64 * 1024 * 1024;

const align = (n: number) => (n + 15) & ~15;

/** The horizontal pass takes taps two at a time: an even number of weights per output pixel. */
function tapsInPairs(c: Coeffs): Coeffs {
  if (c.ksize % 2 === 0) return c;
  const ksize = c.ksize + 1;
  const kk = new Int32Array((c.kk.length / c.ksize) * ksize);
  for (let o = 0, i = 0; i < c.kk.length; o += ksize, i += c.ksize) kk.set(c.kk.subarray(i, i + c.ksize), o);
  return { ksize, bounds: c.bounds, kk };
}

/**
 * The horizontal pass's weights as the module reads them: per output pixel and pair of taps,
 * 16 i16 lanes, [h0 h1 h0 h1 h0 h1 0 0] then [l0 l1 l0 l1 l0 l1 0 0], with h = w >> 11 and
 * l = w & 2047 (Pillow's weights are 0..2^22, so both halves fit an i16).
 */
function pairWeights(c: Coeffs): Int16Array {
  const out = new Int16Array(c.kk.length * 8);
  for (let i = 0; i < c.kk.length; i += 2) {
    const w0 = c.kk[i] as number;
    const w1 = c.kk[i + 1] as number;
    if (w0 < 0 || w1 < 0 || w0 > ONE || w1 > ONE) throw new Error(`resize weight out of 0..${ONE}`);
    const o = (i / 2) * 16;
    for (let ch = 0; ch < 3; ch++) {
      out[o + 2 * ch] = w0 >> 11;
      out[o + 2 * ch + 1] = w1 >> 11;
      out[o + 8 + 2 * ch] = w0 & 2047;
      out[o + 8 + 2 * ch + 1] = w1 & 2047;
    }
  }
  return out;
}

/**
 * The WebAssembly passes' coefficients per (input size, output size), kept: photos come in a few
 * sizes (1000x1333, 1333x1000, ...) and computing them was a noticeable share of a resize. A handful
 * of sizes are kept; an unusual one beyond that starts the cache afresh.
 */
const plans = new Map<string, ReturnType<typeof computeWasmPlan>>();
const MAX_PLANS = 8;

function computeWasmPlan(inW: number, inH: number, outW: number, outH: number) {
  const { h: h1, v, yFirst, rows } = plan(inW, inH, outW, outH);
  const h = tapsInPairs(h1);
  return { h, hw: pairWeights(h), v, yFirst, rows };
}

function wasmPlan(inW: number, inH: number, outW: number, outH: number) {
  const key = `${inW}x${inH}>${outW}x${outH}`;
  let p = plans.get(key);
  if (!p) {
    if (plans.size >= MAX_PLANS) plans.clear();
    p = computeWasmPlan(inW, inH, outW, outH);
    plans.set(key, p);
  }
  return p;
}

/** HWC RGB uint8 (inW x inH) → HWC RGB uint8 (outW x outH), byte-identical to Pillow. */
export function pillowBilinearRgb(
  src: Uint8Array,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
): Uint8Array {
  return pillowBilinearRgbInto(src, inW, inH, outW, outH, (rgb) => rgb.slice());
}

/**
 * The same, handing `use` a view of the result inside the module's memory, valid only during
 * the call: the caller that normalises straight from it allocates nothing per photo (every
 * large allocation is external memory to V8, and enough of them per second trigger full GCs).
 */
export function pillowBilinearRgbInto<T>(
  src: Uint8Array,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
  use: (rgb: Uint8Array) => T,
): T {
  if (src.length !== inW * inH * 3)
    throw new Error(`expected ${inW * inH * 3} bytes of RGB, got ${src.length}`);
  const { h, hw, v, yFirst, rows } = wasmPlan(inW, inH, outW, outH);
  const rowLen = outW * 3;
  // Layout, 16-byte aligned, each region with slack for the reads and writes past its end (16 bytes;
  // 32 after src, which the unrolled horizontal pass reads up to 17 bytes past).
  const srcOff = 0;
  const tmpOff = align(srcOff + src.length + 32);
  const outOff = align(tmpOff + rows * rowLen + 16);
  const hbOff = align(outOff + outH * rowLen + 16);
  const hkOff = align(hbOff + h.bounds.byteLength);
  const vbOff = align(hkOff + hw.byteLength);
  const vkOff = align(vbOff + v.bounds.byteLength);
  const end = vkOff + v.kk.byteLength;
  instance ??= new Wasm.Instance(wasmModule).exports as ResizeExports;
  const mem = instance.memory;
  if (mem.buffer.byteLength < end) mem.grow(Math.ceil((end - mem.buffer.byteLength) / 65536));
  const heap = new Uint8Array(mem.buffer);
  heap.set(src, srcOff);
  new Int32Array(mem.buffer, hbOff, h.bounds.length).set(h.bounds);
  new Int16Array(mem.buffer, hkOff, hw.length).set(hw);
  new Int32Array(mem.buffer, vbOff, v.bounds.length).set(v.bounds);
  new Int32Array(mem.buffer, vkOff, v.kk.length).set(v.kk);
  instance.horizontal(srcOff, inW, yFirst, rows, outW, hbOff, hkOff, h.ksize, tmpOff);
  instance.vertical(tmpOff, rowLen, outH, vbOff, vkOff, v.ksize, yFirst, outOff);
  try {
    return use(heap.subarray(outOff, outOff + outH * rowLen));
  } finally {
    if (mem.buffer.byteLength > KEEP_BYTES) instance = undefined; // let a one-off big photo's memory go
  }
}
