/**
 * A model store on a local or mounted filesystem (`file://`): for local work, tests, and
 * stores on shared volumes. Same rules as S3: content-checked, never overwritten.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { storeError } from "../errors.ts";
import { writeAtomically } from "./atomic-file.ts";
import { type Digest, hashFile } from "./digest.ts";
import type { InspectOptions, ModelStore, StoredObject } from "./model-store.ts";
import { acceptExisting } from "./never-overwrite.ts";
import { parseStoreUri } from "./uri.ts";

function pathOf(uri: string): string {
  const loc = parseStoreUri(uri, "artifact.uri");
  if (loc.scheme !== "file") throw new Error(`FileStore given a ${loc.scheme} URI: ${uri}`);
  return loc.path;
}

export class FileStore implements ModelStore {
  // A local file has no stored digest to trust, so every inspect hashes (`deep` is implied).
  async inspect(uri: string, _opts?: InspectOptions): Promise<StoredObject | undefined> {
    const path = pathOf(uri);
    try {
      const s = await stat(path);
      if (!s.isFile()) throw storeError([{ message: `${uri} is not a regular file` }]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    return { uri, source: "content", ...(await hashFile(path)) };
  }

  async putOnce(uri: string, localPath: string, digest: Digest): Promise<"created" | "identical"> {
    const existing = await this.inspect(uri);
    if (existing) return acceptExisting(uri, existing, digest);
    // Hash the copy as it is written: a source that changed after the caller hashed it is caught.
    const { created } = await writeAtomically(pathOf(uri), createReadStream(localPath), {
      expected: digest,
      exclusive: true,
    });
    if (created) return "created";
    // Another publisher got there between our inspect and our link.
    const raced = await this.inspect(uri);
    if (!raced) throw storeError([{ message: `${uri} appeared and vanished while publishing; try again` }]);
    return acceptExisting(uri, raced, digest);
  }

  async get(uri: string, destPath: string, expected?: Partial<Digest>): Promise<Digest> {
    const source = pathOf(uri);
    try {
      await stat(source);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT")
        throw storeError([{ message: `no object at ${uri}` }]);
      throw e;
    }
    return (await writeAtomically(destPath, createReadStream(source), { expected })).digest;
  }

  close() {}
}
