/**
 * The only place that writes rendered output. An environment's rendered/ folder is replaced
 * whole: the new tree is written to a temp folder beside it and swapped in with renames, so a
 * failure at any point leaves the previous output as it was, and removed objects disappear.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { createTwoFilesPatch } from "diff";
import { inputError } from "./errors.ts";
import type { RenderedFiles } from "./render/index.ts";

export const RENDERED_DIR = "rendered";

/** Folders an interrupted swap of an earlier run left beside rendered/ (killed mid-rename). */
const DEBRIS = new RegExp(`^\\.${RENDERED_DIR}\\.(tmp|old)-(\\d+)-\\d+$`);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Remove what a killed run left; a running render's own folders (its pid is alive) stay. */
function sweepDebris(envDir: string): void {
  if (!existsSync(envDir)) return;
  for (const name of readdirSync(envDir)) {
    const m = DEBRIS.exec(name);
    if (m && !alive(Number(m[2]))) removeQuietly(join(envDir, name));
  }
}

/** Clean up after a swap that succeeded: a failure here is a warning, the new output is in. */
function removeQuietly(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    console.warn(`warning: could not remove ${dir} (${(e as Error).message}); the new rendered/ is in place`);
  }
}

export function writeRendered(envDir: string, files: RenderedFiles): void {
  sweepDebris(envDir);
  const target = join(envDir, RENDERED_DIR);
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = join(envDir, `.${RENDERED_DIR}.tmp-${stamp}`);
  const old = join(envDir, `.${RENDERED_DIR}.old-${stamp}`);
  try {
    for (const [rel, content] of files) {
      const file = join(tmp, rel);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
    mkdirSync(tmp, { recursive: true });
    if (existsSync(target)) renameSync(target, old);
    renameSync(tmp, target);
  } catch (e) {
    // Put the previous output back if the swap got half-way.
    if (!existsSync(target) && existsSync(old)) renameSync(old, target);
    throw e;
  } finally {
    removeQuietly(tmp);
    removeQuietly(old);
  }
}

/**
 * Every file under dir (relative paths, sorted), or an empty map when dir does not exist.
 * Links are never followed (a committed link into the CI machine would print its target's
 * content in a diff): anything but a plain file or folder is an input error naming it.
 */
export function readTree(dir: string): RenderedFiles {
  const out: RenderedFiles = new Map();
  if (!existsSync(dir) && !isLink(dir)) return out;
  const refuse = (abs: string, what: string) =>
    inputError([
      {
        file: relative(process.cwd(), abs) || abs,
        message: `is ${what}; rendered/ holds only the files the generator writes`,
        hint: `remove it (git rm ${relative(process.cwd(), abs) || abs}) and run npm run render`,
      },
    ]);
  const walk = (d: string) => {
    const st = lstatSync(d);
    if (st.isSymbolicLink()) throw refuse(d, "a symbolic link");
    if (!st.isDirectory()) throw refuse(d, "not a folder");
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const abs = join(d, entry.name);
      if (entry.isSymbolicLink()) throw refuse(abs, "a symbolic link");
      if (entry.isDirectory()) walk(abs);
      else if (entry.isFile()) out.set(relative(dir, abs), readFileSync(abs, "utf8"));
      else throw refuse(abs, "not a regular file");
    }
  };
  walk(dir);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Unified diffs between committed and freshly rendered output; empty when identical. */
export function diffTrees(label: string, committed: RenderedFiles, expected: RenderedFiles): string[] {
  const paths = [...new Set([...committed.keys(), ...expected.keys()])].sort();
  const diffs: string[] = [];
  for (const p of paths) {
    const a = committed.get(p);
    const b = expected.get(p);
    if (a === b) continue;
    diffs.push(
      createTwoFilesPatch(
        a === undefined ? "/dev/null" : `${label}/${p}`,
        b === undefined ? "/dev/null" : `${label}/${p}`,
        a ?? "",
        b ?? "",
        "committed",
        "rendered",
        { context: 2 },
      ),
    );
  }
  return diffs;
}
