/**
 * The README is the front door: short, its Quick start's commands are the ones CI runs (in
 * that order), every word of its glossary is defined, every link it gives resolves in the
 * repository. (test/fresh-clone.test.ts runs the first command on a fresh clone.)
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/cli.ts";

const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
const ci = readFileSync(join(REPO_ROOT, ".ci/run"), "utf8");

/** The `sh` blocks of the numbered Quick start, in order. */
function quickStart(): string[] {
  const start = readme.indexOf("## Quick start");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const numbered = section.slice(0, section.indexOf("\n### ") < 0 ? undefined : section.indexOf("\n### "));
  return [...numbered.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => (m[1] as string).trim());
}

/** .ci/run's commands, comments and shell plumbing left out. */
const ciCommands = ci
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#") && !/^(set|cd|export|trap) /.test(l))
  .map((l) => l.replace(/^time /, ""));

describe("README", () => {
  it("fits a five-minute read (at most 150 lines)", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(150);
  });

  it("has three numbered Quick start commands: render offline, the test suite, the e2e", () => {
    const blocks = quickStart();
    expect(blocks).toEqual([
      "npm ci && npm run render",
      "source scripts/node.sh && bash scripts/setup.sh && npm test",
      "source scripts/node.sh && bash scripts/setup-cluster.sh && npm run cluster -- up && npm run test:e2e",
    ]);
  });

  it("its test and e2e commands are the ones .ci/run runs, in the same order", () => {
    const [, tests, e2e] = quickStart();
    const steps = [tests, e2e].flatMap((b) => (b as string).split(" && "));
    // CI sources node.sh after setup.sh (setup.sh installs it); every other step in order
    const wanted = steps.filter((s) => s !== "source scripts/node.sh");
    const positions = wanted.map((s) => ciCommands.indexOf(s));
    expect(positions, `.ci/run lacks one of ${JSON.stringify(wanted)}`).not.toContain(-1);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(ciCommands).toContain("source scripts/node.sh");
  });

  it("defines every glossary word", () => {
    const glossary = readme.slice(readme.indexOf("## Glossary"));
    for (const word of [
      "version file",
      "retained",
      "staged",
      "trailer",
      "wave",
      "hub / spoke",
      "gitops bridge",
      "kwok",
    ]) {
      expect(glossary).toMatch(new RegExp(`^\\| ${word} \\| \\S`, "m"));
    }
  });

  it("links only to files that exist", () => {
    const links = [...readme.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)].map((m) => m[1] as string);
    expect(links.length).toBeGreaterThan(3);
    for (const link of links.filter((l) => !/^https?:/.test(l))) {
      expect(existsSync(join(REPO_ROOT, link)), link).toBe(true);
    }
  });

  it("docs/e2e.md has the section the Quick start's third command points to", () => {
    expect(readFileSync(join(REPO_ROOT, "docs/e2e.md"), "utf8")).toMatch(/^## Running the suite$/m);
  });
});
