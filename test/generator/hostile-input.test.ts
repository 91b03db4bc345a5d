/**
 * Hostile input to the generator (issue 14, generator part): names from options never become
 * paths outside the repository, links inside rendered/ are never followed, and what an
 * interrupted render left behind is swept. Each case fails on the code before the fix.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixtureCopy, runCli, snapshotTree } from "../support/cli.ts";

const SLOW = 60_000;
const cli = (root: string, ...args: string[]) => runCli([...args, "--root", root]);
/** A fixture copy with its rendered output. */
const rendered = () => {
  const root = fixtureCopy("basic");
  const r = cli(root, "render");
  if (r.code !== 0) throw new Error(r.stderr);
  return root;
};
const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe("names from options are checked before they become paths", { timeout: SLOW }, () => {
  const cases: [string, string[], RegExp][] = [
    [
      "--model ../evil",
      ["deploy", "--env", "dev", "--version", "1.1.0", "--model", "../evil"],
      /\[--model\] "\.\.\/evil" is not a model name/,
    ],
    [
      "--env ../x",
      ["deploy", "--env", "../x", "--version", "1.1.0"],
      /\[--env\] "\.\.\/x" is not an environment name/,
    ],
    ["--env on render", ["render", "--env", ".."], /\[--env\] "\.\." is not an environment name/],
    [
      "--version ../1",
      ["deploy", "--env", "dev", "--version", "../1.0.0"],
      /\[--version\] "\.\.\/1\.0\.0" is not a version/,
    ],
    [
      "--to with a slash",
      ["promote", "--from", "dev", "--to", "prod/../../x"],
      /\[--to\] .* is not an environment name/,
    ],
    [
      "--allow-empty ..",
      ["render", "--allow-empty", ".."],
      /\[--allow-empty\] "\.\." is not an environment name/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: exit 2, the option named, nothing written`, () => {
      const root = fixtureCopy("basic");
      const outside = mkdtempSync(join(tmpdir(), "wms-outside-"));
      const before = snapshotTree(root);
      const r = cli(root, ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      noStack(r.stderr);
      expect(snapshotTree(root)).toEqual(before);
      expect(readdirSync(outside)).toEqual([]);
    });
  }
});

describe("links inside rendered/ are refused, never followed", { timeout: SLOW }, () => {
  it("a link to a file outside the repository: exit 2 naming the link, its content never printed", () => {
    const root = rendered();
    const secret = join(mkdtempSync(join(tmpdir(), "wms-secret-")), "credentials");
    writeFileSync(secret, "aws_secret_access_key = DO-NOT-PRINT-ME\n");
    symlinkSync(secret, join(root, "environments/dev/rendered/wms-1.1.0/service.wms.yaml.leak"));
    for (const args of [["render", "--check"], ["render"]]) {
      const r = cli(root, ...args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/rendered\/wms-1\.1\.0\/service\.wms\.yaml\.leak is a symbolic link/);
      expect(r.stderr).toMatch(/fix: remove it/);
      expect(`${r.stdout}${r.stderr}`).not.toContain("DO-NOT-PRINT-ME");
      noStack(r.stderr);
    }
    // and render left the previous output (the link included) as it was
    expect(existsSync(join(root, "environments/dev/rendered/wms-1.1.0/deployment.wms.yaml"))).toBe(true);
  });

  it("a link to a directory: the same error, no EISDIR", () => {
    const root = rendered();
    symlinkSync(tmpdir(), join(root, "environments/dev/rendered/wms-1.1.0/extra"));
    const r = cli(root, "render", "--check");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/rendered\/wms-1\.1\.0\/extra is a symbolic link/);
    expect(r.stderr).not.toMatch(/EISDIR/);
    noStack(r.stderr);
  });
});

describe("an interrupted render leaves nothing behind for long", { timeout: SLOW }, () => {
  it("the next render sweeps .rendered.tmp-* / .rendered.old-* of dead processes", () => {
    const root = fixtureCopy("basic");
    const env = join(root, "environments/dev");
    // a pid that is not running: a finished child's
    const dead = Number(execFileSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]));
    for (const d of [`.rendered.tmp-${dead}-1700000000000`, `.rendered.old-${dead}-1700000000001`]) {
      mkdirSync(join(env, d, "wms-1.1.0"), { recursive: true });
      writeFileSync(join(env, d, "wms-1.1.0/x.yaml"), "x: 1\n");
    }
    // one of a render still running (this process) stays
    const live = `.rendered.tmp-${process.pid}-1700000000002`;
    mkdirSync(join(env, live));
    const r = cli(root, "render");
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(env).filter((f) => f.startsWith(".rendered."))).toEqual([live]);
  });
});
