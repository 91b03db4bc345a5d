/**
 * Which store holds a URI: `openStore` picks the implementation from the scheme (s3:// or
 * file://). Apart from model-store.ts, so that the contract does not import what implements it.
 */
import type { Digest } from "./digest.ts";
import { FileStore } from "./file-store.ts";
import type { ModelStore } from "./model-store.ts";
import { type S3Options, S3Store } from "./s3-store.ts";
import { parseStoreUri } from "./uri.ts";

export type { S3Options } from "./s3-store.ts";

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
