/**
 * Writing files so that a reader never sees half of one: write a temp file beside the target
 * (same directory, so same filesystem), check it, then move it into place in one step.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { link, lstat, mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { storeError } from "../errors.ts";
import { type Digest, describeDigest, HashingStream } from "./digest.ts";

export interface AtomicWriteOptions {
  /** Refuse to commit the file unless its content has this digest. */
  expected?: Partial<Digest>;
  /**
   * Never replace an existing target: the result says `created: false` instead, and the caller
   * decides whether what is there is acceptable. Without it an existing target is replaced.
   */
  exclusive?: boolean;
}

export interface AtomicWriteResult {
  digest: Digest;
  created: boolean;
}

/** Temp names start with a dot and carry `.tmp-`, so stray ones are easy to spot and ignore. */
export const tempPathFor = (target: string) =>
  join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);

export async function writeAtomically(
  target: string,
  content: NodeJS.ReadableStream | string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<AtomicWriteResult> {
  await mkdir(dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  try {
    const hasher = new HashingStream();
    const source =
      typeof content === "string" || content instanceof Uint8Array
        ? Readable.from([Buffer.from(content)])
        : content;
    await pipeline(source, hasher, createWriteStream(temp, { flags: "wx" }));
    const digest = hasher.digest();
    const { expected } = opts;
    if (
      expected &&
      ((expected.sha256 !== undefined && expected.sha256 !== digest.sha256) ||
        (expected.bytes !== undefined && expected.bytes !== digest.bytes))
    ) {
      throw storeError([
        {
          file: target,
          message: `content does not match: expected ${describeDigest(expected)}, got ${describeDigest(digest)}`,
          hint: "the source changed or was corrupted in transit; nothing was written",
        },
      ]);
    }
    if (opts.exclusive) return { digest, created: await linkExclusive(temp, target) };
    await rename(temp, target);
    return { digest, created: true };
  } finally {
    await rm(temp, { force: true });
  }
}

/** link(2) fails with EEXIST instead of replacing: an atomic "create only if absent". */
async function linkExclusive(temp: string, target: string): Promise<boolean> {
  try {
    await link(temp, target);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    // Filesystems without hard links: check-then-rename, which leaves a small race window.
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") {
      if (await exists(target)) return false;
      await rename(temp, target);
      return true;
    }
    throw e;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}
