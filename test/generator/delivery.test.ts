/**
 * Delivery that cannot cause an outage (issue 10), each case as a git round trip in a temp
 * repository through the real CLI: the version file, the rendered tree, the commits and the
 * exit code after typos, staging before a switch, `check --base`, promotion into an
 * environment without a version file, rollback by content (twice, across an image bump and
 * a train commit, failing cleanly), a removed version file, and prod without pinned routes.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { formatProblem, type Problem, type WmsError } from "../../generator/src/errors.ts";
import { conflictMarkerLine, parseYamlSource } from "../../generator/src/yaml-source.ts";
import { fixtureCopy, REPO_ROOT, runCli, snapshotTree } from "../support/cli.ts";
import { git, gitEnv } from "../support/git.ts";

/** Each step spawns the CLI, which renders; on a shared 2-core machine that takes a while. */
const SLOW = 300_000;

const gitFails = (cwd: string, ...args: string[]) => {
  try {
    git(cwd, ...args);
    return false;
  } catch {
    return true;
  }
};
const cli = (root: string, ...args: string[]) =>
  runCli([...args, "--root", root], { env: { ...gitEnv, KUBECONFIG: join(root, ".no-kubeconfig") } });
const read = (root: string, rel: string) => readFileSync(join(root, rel), "utf8");
const head = (root: string) => git(root, "rev-parse", "HEAD").trim();
const message = (root: string, rev = "HEAD") => git(root, "log", "-1", "--format=%B", rev).trimEnd();

/** The fixture, rendered and committed as the first commit of a fresh repository. */
function repo(prepare?: (root: string) => void): string {
  const root = fixtureCopy("basic");
  prepare?.(root);
  git(root, "init", "-q", "-b", "main");
  const r = cli(root, "render");
  expect(r.code, r.stderr).toBe(0);
  git(root, "add", "-A");
  git(root, "commit", "-qm", "initial");
  return root;
}

/** Everything but .git: to prove a failed command changed nothing. */
const tree = (root: string) =>
  Object.fromEntries(Object.entries(snapshotTree(root)).filter(([p]) => !p.startsWith(".git/")));

const noStack = (stderr: string) => {
  expect(stderr).toMatch(/^Error: /);
  expect(stderr).not.toMatch(/^\s+at /m);
};

describe("strict CLI: a typo is an error and changes nothing", { timeout: SLOW }, () => {
  it("--canery, --comit, status --bogus and a misspelled command fail with a suggestion", () => {
    const root = repo();
    const before = tree(root);
    const cases: [string[], RegExp][] = [
      [
        ["deploy", "--env", "dev", "--version", "1.0.0", "--canery", "10"],
        /unknown option for deploy; did you mean --canary\?/,
      ],
      [
        ["deploy", "--env", "dev", "--version", "1.0.0", "--comit"],
        /unknown option for deploy; did you mean --commit\?/,
      ],
      [["status", "--bogus"], /\[--bogus\] unknown option for status\n\s+fix: status takes --env, --live/],
      [["deplyo", "--env", "dev", "--version", "1.0.0"], /unknown command "deplyo"; did you mean "deploy"\?/],
      [
        ["deploy", "--env", "dev", "--version", "1.0.0", "--canary", "100"],
        /\[--canary\] "100" is not an integer from 1 to 99/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = cli(root, ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(re);
      noStack(r.stderr);
    }
    expect(tree(root)).toEqual(before);
    expect(git(root, "log", "--format=%s")).toBe("initial\n");
  });
});

describe("prod: stage before switch, check --base, rollback twice", { timeout: SLOW }, () => {
  let root: string;
  const prodFile = "environments/prod/wms.yaml";
  const route = "environments/prod/rendered/wms-routing/httproute.wms.yaml";
  const shas: Record<string, string> = {};
  beforeAll(() => {
    root = repo();
    shas.initial = head(root);
  });

  it("--wait without a reachable cluster fails before writing anything", () => {
    const before = tree(root);
    const r = cli(root, "deploy", "--env", "prod", "--version", "1.2.0", "--wait");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--wait needs a reachable cluster with Argo CD/);
    noStack(r.stderr);
    expect(tree(root)).toEqual(before);
    expect(head(root)).toBe(shas.initial);
  });

  it("deploy of a version prod does not run yet only stages it (retained, no traffic)", () => {
    const r = cli(root, "deploy", "--env", "prod", "--version", "1.2.0", "--commit");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1\.2\.0 staged in prod \(deployed, no traffic\)/);
    expect(r.stdout).toMatch(
      /when prod-wms-1-2-0 is Synced and Healthy .*switch with:\n\s+npm run gen -- deploy --env prod --version 1\.2\.0 --commit/,
    );
    expect(read(root, prodFile)).toBe("model: wms\nlive: 1.1.0\nretain: [ 1.2.0 ]\n");
    expect(existsSync(join(root, "environments/prod/rendered/wms-1.2.0/deployment.wms.yaml"))).toBe(true);
    // the route still sends everything to 1.1.0
    expect(read(root, route)).toMatch(/namespace: prod-wms-1-1-0\n\s+port: 8080\n\s+weight: 100/);
    expect(read(root, route)).not.toMatch(/prod-wms-1-2-0/);
    expect(message(root)).toMatch(
      /^deploy\(prod\): stage wms 1\.2\.0 \(deployed, no traffic yet\)\n\nWms-Deploy: prod$/,
    );
    expect(git(root, "status", "--porcelain")).toBe("");
    shas.stage = head(root);
  });

  it("deploying it again, now that the last commit runs it, switches traffic", () => {
    const r = cli(root, "deploy", "--env", "prod", "--version", "1.2.0", "--commit");
    expect(r.code, r.stderr).toBe(0);
    expect(read(root, prodFile)).toBe("model: wms\nlive: 1.2.0\nretain: [ 1.1.0 ]\n");
    expect(read(root, route)).toMatch(/namespace: prod-wms-1-2-0\n\s+port: 8080\n\s+weight: 100/);
    expect(message(root)).toBe("deploy(prod): wms live 1.2.0 (was 1.1.0)\n\nWms-Deploy: prod");
    expect(git(root, "rev-parse", "HEAD~1").trim()).toBe(shas.stage);
    shas.switch = head(root);
  });

  it("check --base accepts each step and refuses both in one change", () => {
    // the switch against the stage commit, as a pull request would be checked
    const ok = cli(root, "check", "--base", "HEAD~1");
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/every change is safe to sync/);
    const bad = cli(root, "check", "--base", shas.initial as string);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /environments\/prod\/wms\.yaml:2 \[live\] switches traffic to 1\.2\.0, which [0-9a-f]{7} does not deploy/,
    );
    expect(bad.stdout).toMatch(
      /^environments\/prod\/wms\.yaml\s+live 1\.1\.0\s+live 1\.2\.0, retained 1\.1\.0\s+UNSAFE SWITCH$/m,
    );
  });

  it("a rollback that cannot commit leaves the tree exactly as it was", () => {
    const hook = join(root, ".git/hooks/pre-commit");
    writeFileSync(hook, "#!/bin/sh\necho 'refused by hook' >&2\nexit 1\n", { mode: 0o755 });
    const before = tree(root);
    const r = cli(root, "rollback", "--env", "prod", "--commit");
    rmSync(hook);
    expect(r.code).toBe(70); // an internal error (a git command that failed), not a verdict
    expect(r.stderr).toBe("Error: git failed: refused by hook\n");
    expect(tree(root)).toEqual(before);
    expect(head(root)).toBe(shas.switch);
    expect(git(root, "status", "--porcelain")).toBe("");
  });

  it("rollback restores the version file before the switch; a second one goes a deploy further back", () => {
    const r1 = cli(root, "rollback", "--env", "prod", "--commit");
    expect(r1.code, r1.stderr).toBe(0);
    expect(read(root, prodFile)).toBe("model: wms\nlive: 1.1.0\nretain: [ 1.2.0 ]\n");
    expect(read(root, route)).toMatch(/namespace: prod-wms-1-1-0\n\s+port: 8080\n\s+weight: 100/);
    expect(message(root)).toMatch(new RegExp(`\n\nWms-Rollback: prod ${shas.switch}$`));

    const r2 = cli(root, "rollback", "--env", "prod", "--commit");
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(/undoing [0-9a-f]{7} "deploy\(prod\): stage wms 1\.2\.0/);
    expect(read(root, prodFile)).toBe("model: wms\nlive: 1.1.0\n");
    expect(existsSync(join(root, "environments/prod/rendered/wms-1.2.0"))).toBe(false);
    expect(message(root)).toMatch(new RegExp(`\n\nWms-Rollback: prod ${shas.stage}$`));
    // byte for byte where it started; never re-deployed what the first rollback removed
    expect(git(root, "diff", shas.initial as string, "HEAD", "--stat")).toBe("");
    expect(cli(root, "render", "--check").code).toBe(0);

    // a third would empty prod (its version file came with the first commit): refused
    const r3 = cli(root, "rollback", "--env", "prod", "--commit");
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(
      /would remove every deployed version .*\n\s+fix: if you really mean to empty prod, pass --allow-empty prod/,
    );
    expect(git(root, "status", "--porcelain")).toBe("");
  });
});

describe("promote into an environment without a version file", { timeout: SLOW }, () => {
  it("creates it, stages the version, then switches: the README's path to prod", () => {
    const root = repo((r) => rmSync(join(r, "environments/prod/wms.yaml")));
    expect(existsSync(join(root, "environments/prod/rendered/wms-routing"))).toBe(false);

    const p1 = cli(root, "promote", "--from", "dev", "--to", "prod", "--commit");
    expect(p1.code, p1.stderr).toBe(0);
    const file = read(root, "environments/prod/wms.yaml");
    expect(file).toMatch(/^# yaml-language-server: \$schema=/);
    expect(file).toMatch(/\nmodel: wms\nretain: \[ 1\.1\.0 \]\n$/);
    expect(existsSync(join(root, "environments/prod/rendered/wms-1.1.0/deployment.wms.yaml"))).toBe(true);
    // no traffic yet: the model's folder holds the version's Namespace and budget, no route
    expect(readdirSync(join(root, "environments/prod/rendered/wms-routing")).sort()).toEqual([
      "app.json",
      "namespace.prod-wms-1-1-0.yaml",
      "poddisruptionbudget.wms-1-1-0.yaml",
    ]);
    expect(p1.stdout).toMatch(/switch with:\n\s+npm run gen -- promote --from dev --to prod --commit/);

    const p2 = cli(root, "promote", "--from", "dev", "--to", "prod", "--commit");
    expect(p2.code, p2.stderr).toBe(0);
    expect(read(root, "environments/prod/wms.yaml")).toMatch(/\nmodel: wms\nlive: 1\.1\.0\n$/);
    expect(read(root, "environments/prod/rendered/wms-routing/httproute.wms.yaml")).toMatch(
      /namespace: prod-wms-1-1-0\n\s+port: 8080\n\s+weight: 100/,
    );
    expect(git(root, "log", "--format=%s", "-2")).toBe(
      "deploy(prod): wms live 1.1.0 (was none)\ndeploy(prod): stage wms 1.1.0 (deployed, no traffic yet)\n",
    );
    expect(cli(root, "render", "--check").code).toBe(0);
  });
});

describe("dev: rollback across an image bump and a train commit", { timeout: SLOW }, () => {
  let root: string;
  const devFile = "environments/dev/wms.yaml";
  const initialDev = "model: wms\nlive: 1.1.0\ncanary: { version: 1.2.0, weight: 20 }\nretain: [1.0.0]\n";
  const newImage = `111122223333.dkr.ecr.eu-central-1.amazonaws.com/wms-server@sha256:${"e".repeat(64)}`;
  const deployment = "environments/dev/rendered/wms-1.2.0/deployment.wms.yaml";
  const shas: Record<string, string> = {};
  beforeAll(() => {
    root = repo();
  });

  it("deploy of the canary is a switch in one commit (it is already up)", () => {
    const r = cli(root, "deploy", "--env", "dev", "--version", "1.2.0", "--commit");
    expect(r.code, r.stderr).toBe(0);
    expect(read(root, devFile)).toBe("model: wms\nlive: 1.2.0\nretain: [ 1.0.0, 1.1.0 ]\n");
    shas.deploy = head(root);

    // the server-image workflow: new digest in environment.yaml, re-rendered, committed
    const envFile = join(root, "environments/dev/environment.yaml");
    writeFileSync(
      envFile,
      read(root, "environments/dev/environment.yaml").replace(/^ {2}image: .*$/m, `  image: ${newImage}`),
    );
    expect(cli(root, "render").code).toBe(0);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "deploy(dev): model server image sha256:eeee");
    expect(read(root, deployment)).toContain(newImage);
    shas.bump = head(root);
  });

  it("a train commit (new model card, staged in dev) is rolled back without losing the card", () => {
    // what .github/workflows/train.yaml does: publish (card), deploy --canary 10, one commit
    const card = JSON.parse(read(root, "model/releases/wms/1.2.0/model-card.json"));
    card.version = "1.3.0";
    card.artifact.uri = "s3://wms-models/wms/1.3.0/model.onnx";
    mkdirSync(join(root, "model/releases/wms/1.3.0"));
    writeFileSync(join(root, "model/releases/wms/1.3.0/model-card.json"), JSON.stringify(card, null, 2));
    const d = cli(root, "deploy", "--env", "dev", "--version", "1.3.0", "--canary", "10");
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/1\.3\.0 staged in dev/);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "release: wms from abc; deploy(dev) canary");
    expect(read(root, devFile)).toBe("model: wms\nlive: 1.2.0\nretain: [ 1.0.0, 1.1.0, 1.3.0 ]\n");

    const r = cli(root, "rollback", "--env", "dev", "--commit");
    expect(r.code, r.stderr).toBe(0);
    expect(read(root, devFile)).toBe("model: wms\nlive: 1.2.0\nretain: [ 1.0.0, 1.1.0 ]\n");
    expect(existsSync(join(root, "model/releases/wms/1.3.0/model-card.json"))).toBe(true);
    expect(existsSync(join(root, "environments/dev/rendered/wms-1.3.0"))).toBe(false);
  });

  it("the next rollback undoes the deploy across the image bump, which stays", () => {
    const r = cli(root, "rollback", "--env", "dev", "--commit");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`undoing ${(shas.deploy as string).slice(0, 7)} "deploy\\(dev\\): wms live 1\\.2\\.0`),
    );
    expect(read(root, devFile)).toBe(initialDev);
    expect(read(root, deployment)).toContain(newImage); // the bump is not undone
    expect(read(root, "environments/dev/rendered/wms-1.1.0/deployment.wms.yaml")).toContain(newImage);
    expect(existsSync(join(root, "model/releases/wms/1.3.0/model-card.json"))).toBe(true);
    expect(message(root)).toMatch(new RegExp(`\n\nWms-Rollback: dev ${shas.deploy}$`));
    expect(
      git(
        root,
        "diff",
        shas.bump as string,
        "HEAD",
        "--name-only",
        "--",
        "environments/dev/environment.yaml",
      ),
    ).toBe("");
    expect(cli(root, "render", "--check").code).toBe(0);
  });

  it("a rollback the gates now refuse fails with one line and leaves the tree clean", () => {
    expect(cli(root, "deploy", "--env", "dev", "--version", "1.2.0", "--commit").code).toBe(0);
    // dev's gate raised after the fact: 1.2.0 (test IoU 0.93) passes, the 1.1.0 before it does not
    const envFile = join(root, "environments/dev/environment.yaml");
    writeFileSync(
      envFile,
      read(root, "environments/dev/environment.yaml").replace("minTestIoU: 0\n", "minTestIoU: 0.92\n"),
    );
    git(root, "commit", "-qam", "dev: stricter gate");
    const sha = head(root);
    const before = tree(root);
    const r = cli(root, "rollback", "--env", "dev", "--commit");
    expect(r.code).toBe(2);
    noStack(r.stderr);
    expect(r.stderr).toMatch(
      /environments\/dev\/wms\.yaml:2 \[live\] quality gate of dev: 1\.1\.0 has test IoU 0\.91 < required 0\.92/,
    );
    expect(tree(root)).toEqual(before);
    expect(head(root)).toBe(sha);
    expect(git(root, "status", "--porcelain")).toBe("");
  });
});

describe("a plain git revert of a deploy stays a valid gesture", { timeout: SLOW }, () => {
  it("when an image bump since makes it conflict in rendered/, render --check says so and how to fix it", () => {
    const root = repo();
    const initialProd = read(root, "environments/prod/wms.yaml");
    expect(cli(root, "deploy", "--env", "prod", "--version", "1.2.0", "--commit").code).toBe(0); // stages 1.2.0
    const stage = head(root);
    const envFile = join(root, "environments/prod/environment.yaml");
    writeFileSync(
      envFile,
      read(root, "environments/prod/environment.yaml").replace(
        /@sha256:[0-9a-f]{64}/,
        `@sha256:${"e".repeat(64)}`,
      ),
    );
    expect(cli(root, "render").code).toBe(0);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "deploy(prod): model server image sha256:eeee");

    // the bump changed the Deployment the revert wants to delete: git stops half-way
    expect(gitFails(root, "revert", "--no-edit", stage)).toBe(true);
    expect(read(root, "environments/prod/wms.yaml")).toBe(initialProd); // the version file reverted cleanly
    const r = cli(root, "render", "--check");
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(
      /--- environments\/prod\/rendered\/wms-1\.2\.0\/deployment\.wms\.yaml\tcommitted\n\+\+\+ \/dev\/null/,
    );
    expect(r.stderr).toMatch(/rendered output is stale in 1 file\(s\)/);
    expect(r.stderr).toMatch(
      /after a git revert or merge that conflicted in rendered\/: resolve only the version file, rendered\/ is generated/,
    );

    // doing what it says completes the revert
    expect(cli(root, "render").code).toBe(0);
    git(root, "add", "-A");
    git(root, "-c", "core.editor=true", "revert", "--continue");
    expect(cli(root, "render", "--check").code).toBe(0);
    expect(existsSync(join(root, "environments/prod/rendered/wms-1.2.0"))).toBe(false);
    expect(read(root, "environments/prod/rendered/wms-1.1.0/deployment.wms.yaml")).toContain("e".repeat(64));
    // and rollback knows that deploy is undone: the next one goes further back (here: nothing)
    const rb = cli(root, "rollback", "--env", "prod", "--commit");
    expect(rb.code).toBe(2);
    expect(rb.stderr).toMatch(/would remove every deployed version/);
  });
});

describe("an environment is never emptied by accident", { timeout: SLOW }, () => {
  it("a removed or emptied version file needs --allow-empty, in render and in check", () => {
    const root = repo();
    const rendered = () => tree(root);
    const before = rendered();
    rmSync(join(root, "environments/dev/wms.yaml"));
    const r = cli(root, "render");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /environments\/dev\/wms\.yaml would remove every deployed version of wms in dev \(the version file is gone\); rendered\/ deploys 1\.0\.0, 1\.1\.0, 1\.2\.0 with a route\n\s+fix: if you really mean to empty dev, pass --allow-empty dev/,
    );
    const { "environments/dev/wms.yaml": _gone, ...rest } = before;
    expect(rendered()).toEqual(rest);
    expect(cli(root, "render", "--check").code).toBe(2);

    // nothing live where something was: refused too
    writeFileSync(join(root, "environments/dev/wms.yaml"), "model: wms\nretain: [1.1.0]\n");
    const r2 = cli(root, "render");
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/would leave nothing live \(no version gets traffic\) of wms in dev/);

    // on purpose: allowed, and then check --base still asks for it
    rmSync(join(root, "environments/dev/wms.yaml"));
    const ok = cli(root, "render", "--allow-empty", "dev");
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(join(root, "environments/dev/rendered/wms-1.1.0"))).toBe(false);
    git(root, "add", "-A");
    git(root, "commit", "-qm", "remove dev");
    expect(cli(root, "render", "--check").code).toBe(0); // consistent, so only check --base can tell
    const c = cli(root, "check", "--base", "HEAD~1");
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(
      /environments\/dev\/wms\.yaml is removed: would remove every deployed version of wms in dev/,
    );
    expect(cli(root, "check", "--base", "HEAD~1", "--allow-empty", "dev").code).toBe(0);
  });
});

describe("version-pinned routes are an environment setting", { timeout: SLOW }, () => {
  it("dev (versionHeaderRoutes: true) has one x-wms-version route per version; prod (default) none", () => {
    const root = repo();
    const routes = (env: string) =>
      git(root, "ls-files", `environments/${env}/rendered/wms-routing`)
        .split("\n")
        .filter((f) => f.includes("httproute."))
        .map((f) => f.split("/").pop());
    expect(routes("dev")).toEqual([
      "httproute.wms-1-0-0.yaml",
      "httproute.wms-1-1-0.yaml",
      "httproute.wms-1-2-0.yaml",
      "httproute.wms.yaml",
    ]);
    expect(routes("prod")).toEqual(["httproute.wms.yaml"]);
    expect(read(root, "environments/prod/rendered/wms-routing/httproute.wms.yaml")).not.toMatch(
      /x-wms-version/,
    );
    // turning it on is a reviewed change of environment.yaml, and renders the pinned route
    const copy = fixtureCopy("basic");
    cpSync(root, copy, { recursive: true });
    const envFile = join(copy, "environments/prod/environment.yaml");
    writeFileSync(
      envFile,
      `${read(copy, "environments/prod/environment.yaml")}routing:\n  versionHeaderRoutes: true\n`,
    );
    expect(cli(copy, "render").code).toBe(0);
    expect(read(copy, "environments/prod/rendered/wms-routing/httproute.wms-1-1-0.yaml")).toMatch(
      /name: x-wms-version\n\s+type: Exact\n\s+value: "1\.1\.0"/,
    );
  });
});

describe("the ApplicationSets never cascade a repository mistake into prod", { timeout: SLOW }, () => {
  it("model folders: create-update; version folders (prod's too) deleted with their folder, never cascading", () => {
    const docs = parseAllDocuments(
      readFileSync(join(REPO_ROOT, "apps/platform/wms-environments.yaml"), "utf8"),
    ).map((d) => d.toJS());
    const byName = Object.fromEntries(docs.map((d) => [d.metadata.name, d]));
    expect(Object.keys(byName).sort()).toEqual(["wms-environments", "wms-environments-prod", "wms-models"]);
    const createUpdate = { applicationsSync: "create-update", preserveResourcesOnDeletion: true };
    const models = byName["wms-models"];
    expect(models.spec.syncPolicy).toEqual(createUpdate);
    // one git generator per environment (its project and cluster fixed: security.test.ts)
    expect(models.spec.generators.map((g: { git: { files: unknown } }) => g.git.files)).toEqual(
      ["dev", "staging", "prod"].map((env) => [{ path: `environments/${env}/rendered/*-routing/app.json` }]),
    );
    // a retired prod version's Application is deleted (create-update would leave it in error);
    // the deletion deletes nothing that runs: no finalizer, preserveResourcesOnDeletion
    const prod = byName["wms-environments-prod"];
    expect(prod.spec.syncPolicy).toEqual({ preserveResourcesOnDeletion: true });
    expect(prod.spec.template.metadata.finalizers).toBeUndefined();
    expect(prod.spec.generators[0].git.files).toEqual([
      { path: "environments/prod/rendered/*/app.json" },
      { path: "environments/prod/rendered/*-routing/app.json", exclude: true },
    ]);
    const rest = byName["wms-environments"];
    expect(rest.spec.syncPolicy).toEqual({ preserveResourcesOnDeletion: true });
    expect(rest.spec.generators.map((g: { git: { files: unknown } }) => g.git.files)).toEqual(
      ["dev", "staging"].map((env) => [
        { path: `environments/${env}/rendered/*/app.json` },
        { path: `environments/${env}/rendered/*-routing/app.json`, exclude: true },
      ]),
    );
    // the same Applications either way
    expect(prod.spec.template).toEqual(rest.spec.template);
    expect(models.spec.template).toEqual(rest.spec.template);
  });

  it("every version's Namespace is in the model's folder, none in a version folder", () => {
    for (const env of ["dev", "staging"]) {
      const rendered = join(REPO_ROOT, "environments", env, "rendered");
      const folders = readdirSync(rendered);
      const versions = folders.filter((f) => !f.endsWith("-routing"));
      expect(versions.length, env).toBeGreaterThan(0);
      for (const f of versions) {
        expect(
          readdirSync(join(rendered, f)).filter((x) => x.startsWith("namespace.")),
          `${env}/${f}`,
        ).toEqual([]);
        const app = JSON.parse(readFileSync(join(rendered, f, "app.json"), "utf8"));
        expect(readdirSync(join(rendered, "wms-routing")), `${env}/wms-routing`).toContain(
          `namespace.${app.namespace}.yaml`,
        );
      }
    }
  });
});

describe("conflict markers a revert leaves are named, not parsed", { timeout: SLOW }, () => {
  it("a version file with <<<<<<< is an unresolved merge conflict at that line", () => {
    const text = "model: wms\n<<<<<<< HEAD\nlive: 1.2.0\n=======\nlive: 1.1.0\n>>>>>>> parent of abc\n";
    expect(conflictMarkerLine(text)).toBe(2);
    let problems: Problem[] = [];
    try {
      parseYamlSource(text, "environments/dev/wms.yaml");
    } catch (e) {
      problems = (e as WmsError).problems;
    }
    expect(problems.map(formatProblem).join("\n")).toMatch(
      /^environments\/dev\/wms\.yaml:2 unresolved merge conflict .*\n\s+fix: edit the file to the state you want/,
    );
    expect(conflictMarkerLine("model: wms\nlive: 1.2.0 # ======= not a marker\n")).toBeUndefined();
  });
});

describe("rollback with no deploy in the history", { timeout: SLOW }, () => {
  it("a version file changed only in its comments has nothing to roll back: exit 2, nothing written", () => {
    // prod as the repository starts it: a version file that deploys nothing
    const root = repo((r) => writeFileSync(join(r, "environments/prod/wms.yaml"), "model: wms\n"));
    writeFileSync(join(root, "environments/prod/wms.yaml"), "# what runs in prod\nmodel: wms\n");
    git(root, "commit", "-qam", "docs: comment prod's version file");
    const before = tree(root);
    const sha = head(root);
    const r = cli(root, "rollback", "--env", "prod", "--commit");
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toMatch(
      /environments\/prod\/wms\.yaml nothing to roll back: no commit in its history changed what prod deploys/,
    );
    noStack(r.stderr);
    expect(tree(root)).toEqual(before);
    expect(head(root)).toBe(sha);
  });
});

describe("deploy/promote --commit twice in a row", { timeout: SLOW }, () => {
  it("refuses the switch while the staging commit is not pushed, switches once it is", () => {
    const root = repo();
    const remote = `${root}.remote.git`;
    git(root, "init", "-q", "--bare", remote);
    git(root, "remote", "add", "origin", remote);
    git(root, "push", "-q", "-u", "origin", "main");
    const stage = cli(root, "deploy", "--env", "prod", "--version", "1.2.0", "--canary", "20", "--commit");
    expect(stage.code, stage.stderr).toBe(0);
    expect(stage.stdout).toMatch(/1\.2\.0 staged in prod/);
    const before = tree(root);
    const sha = head(root);
    const again = cli(root, "deploy", "--env", "prod", "--version", "1.2.0", "--canary", "20", "--commit");
    expect(again.code, again.stdout).toBe(2);
    expect(again.stderr).toMatch(
      /environments\/prod\/wms\.yaml 1\.2\.0 is staged by a commit that is not pushed yet .*\n\s+fix: push \(git push\), wait until prod-wms-1-2-0 is Synced and Healthy/,
    );
    noStack(again.stderr);
    expect(tree(root)).toEqual(before);
    expect(head(root)).toBe(sha);
    git(root, "push", "-q");
    const pushed = cli(root, "deploy", "--env", "prod", "--version", "1.2.0", "--canary", "20", "--commit");
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(read(root, "environments/prod/rendered/wms-routing/httproute.wms.yaml")).toMatch(
      /namespace: prod-wms-1-2-0\n\s+port: 8080\n\s+weight: 20/,
    );
  });
});
