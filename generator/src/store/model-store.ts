/**
 * The model store: where published model.onnx files live, addressed by URI and checked by
 * sha256. This module is the contract; `FileStore` and `S3Store` implement it and
 * `open-store.ts` picks one from the URI's scheme.
 */
import type { Digest } from "./digest.ts";

export type { Digest } from "./digest.ts";

/**
 * Where a stored digest came from. `checksum`: computed by the S3 server when the bytes arrived;
 * `content`: hashed just now. The publisher's `x-amz-meta-sha256` is never a source: it is
 * only compared (an object whose metadata disagrees with its checksum or content is refused).
 */
export type DigestSource = "checksum" | "content";

export interface StoredObject extends Digest {
  uri: string;
  source: DigestSource;
}

export interface InspectOptions {
  /** Hash the content even when the store keeps a digest (slower: downloads the object). */
  deep?: boolean;
}

export interface ModelStore {
  /** Size and sha256 of the object at `uri`, or undefined when there is no such object. */
  inspect(uri: string, opts?: InspectOptions): Promise<StoredObject | undefined>;
  /**
   * Upload `localPath` (whose digest the caller computed) to `uri` unless an object is there.
   * "identical" when the same bytes are already stored; throws a store error when different
   * bytes are, or when the bytes that arrived are not the ones described by `digest`.
   */
  putOnce(uri: string, localPath: string, digest: Digest): Promise<"created" | "identical">;
  /**
   * Download `uri` to `destPath` (atomically: a temp file renamed into place), hashing on the
   * way; with `expected`, a mismatch throws and leaves `destPath` untouched.
   */
  get(uri: string, destPath: string, expected?: Partial<Digest>): Promise<Digest>;
  /** Release connections; the store is unusable afterwards. */
  close(): void;
}
