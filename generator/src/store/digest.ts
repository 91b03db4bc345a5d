/**
 * Content digests: a model is identified by the sha256 of its bytes (hex, as in the card's
 * `artifact.sha256`) and its byte count. Hashing always streams: models can be hundreds of MB.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface Digest {
  /** Lower-case hex, 64 characters. */
  sha256: string;
  bytes: number;
}

/**
 * A pass-through stream that hashes what flows through it, so a copy or a download is hashed
 * in the same pass that writes it (no second read, and no window for the bytes to change).
 */
export class HashingStream extends Transform {
  private readonly hash = createHash("sha256");
  private count = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
    this.hash.update(chunk);
    this.count += chunk.length;
    done(null, chunk);
  }

  /** Valid once the stream has finished. */
  digest(): Digest {
    return { sha256: this.hash.digest("hex"), bytes: this.count };
  }
}

export async function hashStream(source: NodeJS.ReadableStream): Promise<Digest> {
  const hasher = new HashingStream();
  // Drain into nothing: only the digest is wanted.
  await pipeline(source, hasher, async (chunks: AsyncIterable<Buffer>) => {
    for await (const _ of chunks);
  });
  return hasher.digest();
}

export const hashFile = (path: string): Promise<Digest> => hashStream(createReadStream(path));

export const hexToBase64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");
export const base64ToHex = (b64: string) => Buffer.from(b64, "base64").toString("hex");

export const sameDigest = (a: Digest, b: Digest) => a.sha256 === b.sha256 && a.bytes === b.bytes;

/** `sha256 1a2b3c4d…, 1234 bytes`: short enough for an error message, long enough to tell apart. */
export const describeDigest = (d: Partial<Digest>) =>
  [d.sha256 && `sha256 ${d.sha256}`, d.bytes !== undefined && `${d.bytes} bytes`].filter(Boolean).join(", ");
