/**
 * The model store: where published model.onnx files live, addressed by URI and checked by
 * sha256. `openStore` picks the implementation from the URI's scheme.
 */
import type { Digest } from "./digest.ts";
import { FileStore } from "./file-store.ts";
import { type S3Options, S3Store } from "./s3-store.ts";
import { parseStoreUri } from "./uri.ts";

export type { Digest } from "./digest.ts";
export type { S3Options } from "./s3-store.ts";

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

export interface StoreOptions {
  s3?: S3Options;
}

/** The store that holds `uri` (a store root or an object URI). */
export function openStore(uri: string, opts: StoreOptions = {}): ModelStore {
  const loc = parseStoreUri(uri);
  return loc.scheme === "s3" ? new S3Store(opts.s3) : new FileStore();
}

/**
 * Fetch a published model to a local path and check it against the card's digest; for
 * consumers (the model server, the local demo) that only read.
 */
export async function getArtifact(
  uri: string,
  destPath: string,
  opts: StoreOptions & { expected?: Partial<Digest> } = {},
): Promise<Digest> {
  const store = openStore(uri, opts);
  try {
    return await store.get(uri, destPath, opts.expected);
  } finally {
    store.close();
  }
}
