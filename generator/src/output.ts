/**
 * The only place that writes rendered output. An environment's rendered/ folder is replaced
 * whole: the new tree is written to a temp folder beside it and swapped in with renames, so a
 * failure at any point leaves the previous output as it was, and removed objects disappear.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { createTwoFilesPatch } from "diff";
import type { RenderedFiles } from "./render/index.ts";

export const RENDERED_DIR = "rendered";

export function writeRendered(envDir: string, files: RenderedFiles): void {
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
    rmSync(tmp, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}

/** Every file under dir (relative paths, sorted), or an empty map when dir does not exist. */
export function readTree(dir: string): RenderedFiles {
  const out: RenderedFiles = new Map();
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const abs = join(d, entry.name);
      if (entry.isDirectory()) walk(abs);
      else out.set(relative(dir, abs), readFileSync(abs, "utf8"));
    }
  };
  walk(dir);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
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
