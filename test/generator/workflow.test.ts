/**
 * The workflow commands end to end in a real git repository: deploy (canary, then live),
 * promote between environments (staged, then switched), a gate refusing a promotion,
 * rollback by content, status. delivery.test.ts has the safety cases.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { fixtureCopy, runCli } from "../support/cli.ts";
import { git, gitEnv } from "../support/git.ts";

describe("deploy, promote, rollback, status", { timeout: 300_000 }, () => {
  let root: string;
  beforeAll(() => {
    root = fixtureCopy("basic");
    // a comment the deploy must keep; 1.2.0 already up (retained), so it can take traffic
    writeFileSync(
      join(root, "environments/dev/wms.yaml"),
      "# dev runs the newest model\nmodel: wms\nlive: 1.1.0\nretain: [1.2.0]\n",
    );
    git(root, "init", "-q", "-b", "main");
    expect(runCli(["render", "--root", root]).code).toBe(0);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "initial");
  });

  it("deploy --canary commits the version file with its render", () => {
    const r = runCli(
      ["deploy", "--env", "dev", "--version", "1.2.0", "--canary", "25", "--commit", "--root", root],
      { env: gitEnv },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /committed [0-9a-f]+: deploy\(dev\): wms canary 1\.2\.0 at 25% \(live 1\.1\.0\)/,
    );
    expect(readFileSync(join(root, "environments/dev/wms.yaml"), "utf8")).toBe(
      "# dev runs the newest model\nmodel: wms\nlive: 1.1.0\ncanary: { version: 1.2.0, weight: 25 }\n",
    );
    // 1.2.0 was already up: the commit moves traffic (route, role) and leaves its Deployment alone
    const changed = git(root, "show", "--name-only", "--format=", "HEAD");
    expect(changed).toMatch(/environments\/dev\/rendered\/wms-routing\/httproute\.wms\.yaml/);
    expect(changed).toMatch(/environments\/dev\/rendered\/wms-1\.2\.0\/app\.json/);
    expect(changed).not.toMatch(/deployment\.wms\.yaml/);
    expect(git(root, "status", "--porcelain")).toBe("");
  });

  it("deploy makes the canary live and retains the previous live", () => {
    const r = runCli(["deploy", "--env", "dev", "--version", "1.2.0", "--commit", "--root", root], {
      env: gitEnv,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(root, "environments/dev/wms.yaml"), "utf8")).toBe(
      "# dev runs the newest model\nmodel: wms\nlive: 1.2.0\nretain: [ 1.1.0 ]\n",
    );
  });

  it("promote refuses what the target's gate refuses, and changes nothing", () => {
    writeFileSync(join(root, "environments/dev/wms.yaml"), "model: wms\nlive: 1.0.0\n");
    git(root, "commit", "-qam", "dev back to 1.0.0 (by hand, rendered below)");
    expect(runCli(["render", "--root", root]).code).toBe(0);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "render");
    const before = readFileSync(join(root, "environments/prod/wms.yaml"), "utf8");
    const r = runCli(["promote", "--from", "dev", "--to", "prod", "--commit", "--root", root], {
      env: gitEnv,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /environments\/prod\/wms\.yaml:2 \[live\] quality gate of prod: 1\.0\.0 has test IoU 0\.88/,
    );
    expect(readFileSync(join(root, "environments/prod/wms.yaml"), "utf8")).toBe(before);
    expect(git(root, "status", "--porcelain")).toBe("");
  });

  it("promote stages, then switches to, the source's live version; two rollbacks return byte for byte", () => {
    writeFileSync(join(root, "environments/dev/wms.yaml"), "model: wms\nlive: 1.2.0\n");
    expect(runCli(["render", "--root", root]).code).toBe(0);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "dev on 1.2.0");
    const tree = git(root, "rev-parse", "HEAD^{tree}").trim();
    for (const step of ["stage", "switch"]) {
      const p = runCli(["promote", "--from", "dev", "--to", "prod", "--commit", "--root", root], {
        env: gitEnv,
      });
      expect(p.code, `${step}: ${p.stderr}`).toBe(0);
    }
    expect(readFileSync(join(root, "environments/prod/wms.yaml"), "utf8")).toBe(
      "model: wms\nlive: 1.2.0\nretain: [ 1.1.0 ]\n",
    );

    const s = runCli(["status", "--root", root]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(
      /^prod\s+wms\s+1\.2\.0\s+-\s+1\.1\.0\s+[0-9a-f]+ \S+ deploy\(prod\): wms live 1\.2\.0 \(was 1\.1\.0\)\s+yes$/m,
    );

    for (const undone of ["wms live 1\\.2\\.0", "stage wms 1\\.2\\.0"]) {
      const r = runCli(["rollback", "--env", "prod", "--commit", "--root", root], { env: gitEnv });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`undoing [0-9a-f]+ "deploy\\(prod\\): ${undone}`));
    }
    expect(git(root, "rev-parse", "HEAD^{tree}").trim()).toBe(tree);
  });

  it("status flags a version file whose render was not committed", () => {
    writeFileSync(join(root, "environments/dev/wms.yaml"), "model: wms\nlive: 1.1.0\n");
    const s = runCli(["status", "--env", "dev", "--root", root]);
    expect(s.stdout).toMatch(/^dev\s+wms\s+1\.1\.0.*STALE \(run render\)$/m);
    git(root, "checkout", "--", ".");
  });

  it("versions lists the catalog newest first with metrics and where each version runs", () => {
    const r = runCli(["versions", "--root", fixtureCopy("basic")]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^MODEL\s+VERSION\s+CREATED\s+VAL IOU\/DICE\s+TEST IOU\/DICE\s+INT8 TEST IOU\s+INPUT\s+SIZE\s+DIGEST\s+RUNS IN$/,
    );
    expect(lines.slice(2).map((l) => l.split(/\s+/)[1])).toEqual(["1.2.0", "1.1.0", "1.0.0"]);
    expect(r.stdout).toMatch(
      /^wms\s+1\.1\.0\s+2026-11-10\s+0\.920\/0\.955\s+0\.910\/0\.950\s+-\s+256x256\s+7\.5 MiB\s+sha256:b2b2b2b2b2b2\s+dev:live prod:live$/m,
    );
    expect(r.stdout).toMatch(/^wms\s+1\.0\.0\s.*dev:retained$/m);
  });

  it("every command answers --help, and a missing flag names it", () => {
    for (const c of ["render", "deploy", "promote", "rollback", "status", "versions"]) {
      const h = runCli([c, "--help"]);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^usage: ${c}`));
    }
    const r = runCli(["deploy", "--env", "dev", "--root", root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[--version\] is required/);
  });
});
