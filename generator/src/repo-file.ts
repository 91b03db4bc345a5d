/**
 * Reading the files the generator takes as input (environment.yaml, version files, model
 * cards, admission policies): regular files only, never through a symbolic link inside the
 * repository, and at most MAX_INPUT_BYTES, checked before the content is read, so a broken or
 * hostile checkout can neither point the generator at a file elsewhere nor exhaust its memory.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import { inputError } from "./errors.ts";

/** The most bytes one input file may have; the hand-written ones are a few KiB. */
export const MAX_INPUT_BYTES = 1024 * 1024;

/** Refuses more than MAX_INPUT_BYTES; `bytes` from a stat or the length of text read elsewhere (git). */
export function checkInputSize(bytes: number, file: string): void {
  if (bytes <= MAX_INPUT_BYTES) return;
  throw inputError([
    {
      file,
      message: `is ${bytes} bytes, more than the 1 MiB (${MAX_INPUT_BYTES} bytes) an input file may have`,
      hint: "version files, environment.yaml and model cards are a few KiB: remove what does not belong there (e.g. a runaway retain list), or restore the file from git",
    },
  ]);
}

/**
 * The text of `abs`, a regular file of at most MAX_INPUT_BYTES. With `root` (the repository or
 * catalog it lies in) no part of its path below `root` may be a symbolic link. `shown` is the
 * name problems give the file (default: relative to `root`); `what` names it in "cannot read".
 */
export function readInputFile(
  abs: string,
  opts: { root?: string; shown?: string; what?: string } = {},
): string {
  const { root } = opts;
  const file = opts.shown ?? (root ? relative(root, abs) : abs);
  if (root) refuseLinks(root, abs, file);
  let fd: number;
  try {
    // O_NOFOLLOW: a link swapped in after the check is refused too; O_NONBLOCK: a FIFO never blocks
    fd = openSync(abs, constants.O_RDONLY | (root ? constants.O_NOFOLLOW : 0) | constants.O_NONBLOCK);
  } catch (e) {
    throw unreadable(file, e, opts.what);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw inputError([
        { file, message: "is not a regular file", hint: "replace it with the file itself (or remove it)" },
      ]);
    }
    checkInputSize(stat.size, file);
    // read at most one byte more than allowed: a file that grew since the stat is caught as well
    const buf = Buffer.allocUnsafe(MAX_INPUT_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    checkInputSize(n, file);
    return buf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
}

/** Every path component from below `root` down to `abs` must be a real file or folder. */
function refuseLinks(root: string, abs: string, file: string): void {
  const rel = relative(root, abs);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) throw new Error(`${abs} is not inside ${root}`);
  let at = root;
  for (const part of rel.split(sep)) {
    at = join(at, part);
    let isLink: boolean;
    try {
      isLink = lstatSync(at).isSymbolicLink();
    } catch (e) {
      throw unreadable(file, e);
    }
    if (isLink) {
      throw inputError([
        {
          file,
          message:
            at === abs ? "is a symbolic link" : `is reached through a symbolic link (${relative(root, at)})`,
          hint: "replace the link with the file (or folder) itself: the generator reads only what is in the repository",
        },
      ]);
    }
  }
}

function unreadable(file: string, e: unknown, what = "file"): Error {
  const code = (e as NodeJS.ErrnoException).code;
  return inputError([
    {
      file,
      message: `cannot read the ${what}: ${code === "ELOOP" ? "it is a symbolic link" : (code ?? String(e))}`,
    },
  ]);
}
