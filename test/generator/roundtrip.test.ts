/**
 * The GitOps contract in a real git repository: deploy = commit a version file with its
 * render; roll back = `git revert`; the tree returns byte for byte and `render --check` is
 * green at every commit. Also: removing a version removes its folder.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixtureCopy, runCli } from "../support/cli.ts";
import { git } from "../support/git.ts";

function check(root: string) {
  const r = runCli(["render", "--check", "--root", root]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

describe("deploy and roll back with git", () => {
  it("revert returns the version file and every rendered file byte for byte", () => {
    const root = fixtureCopy("basic");
    git(root, "init", "-q", "-b", "main");
    expect(runCli(["render", "--root", root]).code).toBe(0);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "initial");
    check(root);
    const initial = git(root, "rev-parse", "HEAD^{tree}").trim();

    // deploy: promote the canary to live, keep the old live for instant rollback
    writeFileSync(join(root, "environments/dev/wms.yaml"), "model: wms\nlive: 1.2.0\nretain: [1.1.0]\n");
    const r = runCli(["render", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/-wms-1\.0\.0/); // the dropped version's folder goes
    expect(existsSync(join(root, "environments/dev/rendered/wms-1.0.0"))).toBe(false);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "deploy wms 1.2.0 to dev");
    check(root);
    expect(git(root, "rev-parse", "HEAD^{tree}").trim()).not.toBe(initial);

    // roll back
    git(root, "revert", "--no-edit", "HEAD");
    check(root);
    expect(git(root, "rev-parse", "HEAD^{tree}").trim()).toBe(initial);
    expect(git(root, "diff", "HEAD~2", "--stat")).toBe("");
  });

  it("render --check fails with a diff when the committed output is stale", () => {
    const root = fixtureCopy("basic");
    expect(runCli(["render", "--root", root]).code).toBe(0);
    writeFileSync(
      join(root, "environments/dev/wms.yaml"),
      "model: wms\nlive: 1.1.0\ncanary: { version: 1.2.0, weight: 50 }\n",
    );
    const r = runCli(["render", "--check", "--root", root]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^-\s+weight: 20$/m);
    expect(r.stdout).toMatch(/^\+\s+weight: 50$/m);
    expect(r.stdout).toMatch(/environments\/dev\/rendered\/wms-1\.0\.0\/deployment\.wms\.yaml/); // removed folder listed
    expect(r.stderr).toMatch(/rendered output is stale in \d+ file\(s\)/);
    expect(r.stderr).toMatch(/fix: run `npm run render` and commit the result/);
  });
});
