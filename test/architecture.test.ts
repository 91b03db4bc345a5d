/**
 * docs/architecture.md's module tables name every source file of the generator and the model
 * server (their src/, bench/, tools/ and scripts/ folders), so that the page stays a map of the code: a
 * file added without a row, or a row left behind by a removed file, fails here.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/cli.ts";

const DOC = join(REPO_ROOT, "docs/architecture.md");

/** The parts: the table's heading, the package root, its source folders. */
const PARTS = [
  { heading: "## Generator (`generator/src/`)", root: "generator", dirs: ["src", "bench", "tools"] },
  {
    heading: "## Model server (`model/server/src/`)",
    root: "model/server",
    dirs: ["src", "bench", "scripts"],
  },
];

const SOURCE = /\.(ts|mjs|wat|py)$/;

/** Source files under a folder, relative to it (tests excluded: they sit beside their code). */
function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => SOURCE.test(f) && !/\.test\.ts$/.test(f) && !f.split("/").includes("__pycache__"))
    .map((f) => f.replace(/\\/g, "/"))
    .sort();
}

/** The backticked names in the first column of the table under one heading. */
function tableNames(text: string, heading: string): string[] {
  const start = text.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`docs/architecture.md has no heading ${heading}`);
  const rest = text.slice(start + heading.length);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return section
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| ---"))
    .flatMap((l) => [...(l.split(" | ")[0] as string).matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));
}

describe("docs/architecture.md", () => {
  const text = readFileSync(DOC, "utf8");

  for (const part of PARTS) {
    const names = tableNames(text, part.heading);
    // a name is relative to src/ (the table's folder) or to the package (bench/…, scripts/…)
    const named = (file: string) => names.includes(file) || names.includes(file.replace(/^src\//, ""));
    const files = part.dirs.flatMap((d) => sources(join(REPO_ROOT, part.root, d)).map((f) => `${d}/${f}`));

    it(`names every source file of ${part.root} (${part.dirs.join("/, ")}/)`, () => {
      expect(files.length).toBeGreaterThan(20);
      expect(files.filter((f) => !named(f)).map((f) => `${part.root}/${f}`)).toEqual([]);
    });

    it(`names no file ${part.root} does not have`, () => {
      const exists = (n: string) =>
        [join(REPO_ROOT, part.root, "src", n), join(REPO_ROOT, part.root, n)].some((p) => existsSync(p));
      const stale = names.filter((n) => /\.[a-z]+$/.test(n) && !exists(n));
      expect(stale.map((n) => `${relative(REPO_ROOT, DOC)}: ${n}`)).toEqual([]);
    });
  }
});
