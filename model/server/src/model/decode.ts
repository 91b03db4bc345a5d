/**
 * Bytes -> RGB pixels of the photo as displayed. Only PNG and JPEG are decoded: the format is
 * decided by magic bytes (never by Content-Type or file name), and every other libvips loader
 * is blocked process-wide so that a mislabelled TIFF, GIF, WebP or SVG cannot reach its decoder.
 */
import sharp from "sharp";
import { BadInputError, TooLargeError, UnsupportedMediaTypeError } from "../errors.ts";

export type ImageFormat = "jpeg" | "png";

export interface DecodedImage {
  /** interleaved RGB, 8 bits per channel, row-major, as displayed (EXIF orientation applied) */
  data: Buffer;
  width: number;
  height: number;
  format: ImageFormat;
}

export interface DecodeLimits {
  /** width x height allowed in an image header; checked by libvips before decoding */
  maxPixels: number;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function sniffFormat(b: Uint8Array): ImageFormat | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 8 && PNG_MAGIC.every((v, i) => b[i] === v)) return "png";
  return null;
}

/** A name for the error message only; none of these is ever decoded. */
function guessOtherFormat(b: Uint8Array): string {
  const head = Buffer.from(b.subarray(0, 64)).toString("latin1");
  if (head.startsWith("GIF8")) return "GIF";
  if (head.startsWith("RIFF") && head.slice(8, 12) === "WEBP") return "WebP";
  if (head.startsWith("II*\0") || head.startsWith("MM\0*")) return "TIFF";
  if (head.startsWith("BM")) return "BMP";
  if (/^\s*(<\?xml|<svg)/i.test(head)) return "SVG/XML";
  if (head.slice(4, 12).includes("ftyp")) return "HEIF/AVIF";
  return "unknown";
}

/**
 * Most scans a JPEG may have. Each scan of a progressive JPEG is a pass over the whole image,
 * so decode time grows with scans x pixels while the file stays small (883 flat scans of a
 * 2048x2048 grey image: 24 KB, ~1.9 s to decode). Encoders write far fewer: libjpeg's
 * standard progression has 10 scans for colour, mozjpeg's optimised ones about as many.
 * NVIDIA's nvImageCodec caps at 256 for the same reason; 64 leaves room and bounds the cost.
 */
export const MAX_JPEG_SCANS = 64;

/**
 * Count the scans (SOS markers) of a JPEG by walking its markers, without decoding: segments
 * are skipped by their length, entropy-coded data up to the next marker. Stops past `limit`.
 */
export function jpegScanCount(b: Uint8Array, limit = MAX_JPEG_SCANS): number {
  let scans = 0;
  let i = 2; // after SOI
  while (i + 1 < b.length) {
    if (b[i] !== 0xff) return scans; // not at a marker: malformed, left to the decoder to say so
    let marker = b[i + 1] as number;
    while (marker === 0xff && i + 2 < b.length) marker = b[++i + 1] as number; // fill bytes
    i += 2;
    if (marker === 0xd9) return scans; // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (i + 1 >= b.length) return scans;
    const length = ((b[i] as number) << 8) | (b[i + 1] as number);
    i += length;
    if (marker !== 0xda) continue;
    if (++scans > limit) return scans;
    // entropy-coded data: up to the next 0xFF that is neither stuffing (FF00) nor RSTn
    // (indexOf is a native byte search, faster than a JS loop over every byte: docs/benchmarks/
    // server.md, "Shortening the c=1 path")
    for (;;) {
      i = b.indexOf(0xff, i);
      if (i < 0 || i + 1 >= b.length) return scans;
      const next = b[i + 1] as number;
      if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7)) break;
      i++;
    }
  }
  return scans;
}

let restricted = false;

/** Block every libvips loader but JPEG and PNG, once per process. */
export function restrictDecoders(): void {
  if (restricted) return;
  sharp.block({ operation: ["VipsForeignLoad"] });
  sharp.unblock({ operation: ["VipsForeignLoadJpeg", "VipsForeignLoadPng"] });
  // A server decodes each photo once; libvips' operation cache would only hold memory.
  sharp.cache(false);
  restricted = true;
}

/** Orientations that swap width and height when applied (EXIF 5-8: transposed, rotated 90/270). */
const SWAPS = new Set([5, 6, 7, 8]);

/**
 * libjpeg's DCT scaling as sharp 0.35 applies it on load (src/pipeline.cc, "jpegShrinkOnLoad"):
 * the largest of 1/2, 1/4, 1/8 that keeps both sides at or above the target, except that a
 * total shrink whose integer part equals the scale is decoded one scale larger (sharp guards
 * against libjpeg's rounding at the edges that way). So the decoded image is never smaller
 * than the model input, and the resize that follows always reduces.
 *
 * @param width, height the photo as stored (before EXIF orientation)
 * @param target the model input, also as stored (its sides swapped when the orientation swaps them)
 */
export function jpegShrinkOnLoad(
  width: number,
  height: number,
  target: { width: number; height: number },
): 1 | 2 | 4 | 8 {
  const shrink = Math.min(width / target.width, height / target.height);
  let s: 1 | 2 | 4 | 8 = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (s > 1 && Math.trunc(shrink) === s) s = (s / 2) as 1 | 2 | 4;
  return s;
}

/** Pixels at the model's input size, and the photo's displayed size for the mask. */
export interface ModelInputImage {
  /** RGB at the size the model takes (or, on the exact path, at the photo's full size) */
  decoded: DecodedImage;
  /** the photo as displayed (EXIF orientation applied), full size: the mask is made at this size */
  displayed: { width: number; height: number };
  /** libjpeg's DCT scale denominator used on load (1: decoded at full size) */
  shrink: 1 | 2 | 4 | 8;
}

/**
 * The photo decoded for a model of `target` size. By default (`exact` false) a JPEG is decoded
 * at the smallest DCT scale at or above the model input (jpegShrinkOnLoad) and resized to it
 * by libvips in the same pass (a triangle filter widened with the reduction, as Pillow's
 * bilinear is): no full-size pixels are held, and the JavaScript resize is skipped. Accepted
 * by masks, not bytes (docs/benchmarks/server.md, `npm run bench:decode`). PNG, and every
 * photo with `exact`, take the exact path: full-size decode, Pillow's resize in preprocess().
 */
export async function decodeForModel(
  bytes: Buffer,
  opts: { exifTranspose: boolean; width: number; height: number; exact?: boolean },
  limits: DecodeLimits,
): Promise<ModelInputImage> {
  const format = opts.exact ? null : sniffFormat(bytes);
  if (format !== "jpeg") {
    const decoded = await decodeImage(bytes, opts, limits);
    return { decoded, displayed: { width: decoded.width, height: decoded.height }, shrink: 1 };
  }
  checkJpegScans(bytes);
  restrictDecoders();
  try {
    const input = { failOn: "warning", limitInputPixels: limits.maxPixels, sequentialRead: true } as const;
    // the header only: the stored size and orientation (no pixels are decoded)
    const meta = await sharp(bytes, input).metadata();
    if (meta.width * meta.height > limits.maxPixels) throw new Error("Input image exceeds pixel limit");
    const swap = opts.exifTranspose && SWAPS.has(meta.orientation ?? 1);
    const stored = swap ? { width: opts.height, height: opts.width } : opts;
    const shrink = jpegShrinkOnLoad(meta.width, meta.height, stored);
    // sharp swaps the target for a 90/270 orientation itself: the output is width x height as displayed
    const { data, info } = await sharp(bytes, { ...input, autoOrient: opts.exifTranspose })
      .resize(opts.width, opts.height, { fit: "fill", kernel: "linear", fastShrinkOnLoad: true })
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels, expected 3`);
    return {
      decoded: { data, width: info.width, height: info.height, format },
      displayed: swap
        ? { width: meta.height, height: meta.width }
        : { width: meta.width, height: meta.height },
      shrink,
    };
  } catch (err) {
    throw decodeError(err, format, limits);
  }
}

function checkJpegScans(bytes: Uint8Array): void {
  const scans = jpegScanCount(bytes);
  if (scans > MAX_JPEG_SCANS) {
    throw new TooLargeError(
      `JPEG has more than ${MAX_JPEG_SCANS} scans (decode cost grows with each): re-encode it (baseline or standard progressive)`,
    );
  }
}

function decodeError(err: unknown, format: ImageFormat, limits: DecodeLimits): Error {
  if (err instanceof TooLargeError || err instanceof BadInputError) return err;
  const msg = (err as Error).message ?? String(err);
  if (/pixel limit/i.test(msg)) return new TooLargeError(`image has more than ${limits.maxPixels} pixels`);
  return new BadInputError(`cannot decode ${format.toUpperCase()}: ${msg.split("\n")[0]}`);
}

export async function decodeImage(
  bytes: Buffer,
  opts: { exifTranspose: boolean },
  limits: DecodeLimits,
): Promise<DecodedImage> {
  if (bytes.length === 0) throw new BadInputError("empty body: send PNG or JPEG bytes");
  const format = sniffFormat(bytes);
  if (!format) {
    throw new UnsupportedMediaTypeError(
      `only PNG and JPEG are accepted (the bytes look like ${guessOtherFormat(bytes)})`,
    );
  }
  if (format === "jpeg") checkJpegScans(bytes);
  restrictDecoders();
  try {
    // failOn "warning": a truncated JPEG or a PNG with a bad CRC is rejected, not half-decoded.
    let img = sharp(bytes, { failOn: "warning", limitInputPixels: limits.maxPixels, sequentialRead: true });
    if (opts.exifTranspose) img = img.rotate();
    const { data, info } = await img
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels, expected 3`);
    return { data, width: info.width, height: info.height, format };
  } catch (err) {
    throw decodeError(err, format, limits);
  }
}
