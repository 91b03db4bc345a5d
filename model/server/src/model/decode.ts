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
  if (format === "jpeg") {
    const scans = jpegScanCount(bytes);
    if (scans > MAX_JPEG_SCANS) {
      throw new TooLargeError(
        `JPEG has more than ${MAX_JPEG_SCANS} scans (decode cost grows with each): re-encode it (baseline or standard progressive)`,
      );
    }
  }
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
    const msg = (err as Error).message ?? String(err);
    if (/pixel limit/i.test(msg)) {
      throw new TooLargeError(`image has more than ${limits.maxPixels} pixels`);
    }
    throw new BadInputError(`cannot decode ${format.toUpperCase()}: ${msg.split("\n")[0]}`);
  }
}
