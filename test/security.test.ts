/**
 * Issue 28, "whoever can write a commit must not own the clusters": one hostile commit per hole,
 * refused offline. The ApplicationSets fix project and cluster per environment (an app.json
 * naming `platform` changes nothing), the schema admits only the model projects, `render
 * --check` refuses anything under environments/ it did not write, the model projects create
 * only their own Namespaces, and CODEOWNERS covers what decides where things run.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fixtureCopy, REPO_ROOT, runCli } from "./support/cli.ts";
import { appsDocs, environments, type Obj } from "./support/platform.ts";

const docs = appsDocs(REPO_ROOT);
const SLOW = 60_000;
const cli = (root: string, ...args: string[]) => runCli([...args, "--root", root]);
const rendered = () => {
  const root = fixtureCopy("basic");
  const r = cli(root, "render");
  if (r.code !== 0) throw new Error(r.stderr);
  return root;
};

const modelSets = docs
  .map((d) => d.object)
  .filter((o) => o.kind === "ApplicationSet" && o.spec.generators.some((g: Obj) => g.git));

const destinationOf = (env: string) =>
  (
    parse(readFileSync(join(REPO_ROOT, "environments", env, "environment.yaml"), "utf8")) as {
      destination: { cluster: string; project: string };
    }
  ).destination;

describe("project injection: the ApplicationSets, not the commit, say project and cluster", () => {
  it("three ApplicationSets read app.json files", () => {
    expect(modelSets.map((s) => s.metadata.name).sort()).toEqual([
      "wms-environments",
      "wms-environments-prod",
      "wms-models",
    ]);
  });

  it("no template field reads project, cluster or values from the committed app.json", () => {
    for (const set of modelSets) {
      const t = set.spec.template.spec;
      expect(t.project, set.metadata.name).toBe("{{.values.project}}");
      expect(t.destination.name, set.metadata.name).toBe("{{.values.cluster}}");
      expect(t.destination.server, set.metadata.name).toBeUndefined();
      // the only app.json keys in spec: the namespace (bounded by the project) and the path
      const keys = [...JSON.stringify(t).matchAll(/\{\{\s*\.([A-Za-z.]+)/g)].map((m) => m[1]).sort();
      expect([...new Set(keys)], set.metadata.name).toEqual([
        "namespace",
        "path.path",
        "values.cluster",
        "values.project",
      ]);
    }
  });

  it("every generator reads one named environment, with that environment's project and cluster", () => {
    const covered = new Map<string, string[]>();
    for (const set of modelSets) {
      for (const g of set.spec.generators as Obj[]) {
        const paths: string[] = g.git.files.filter((f: Obj) => !f.exclude).map((f: Obj) => f.path);
        const envs = [
          ...new Set(paths.map((p) => /^environments\/([a-z][a-z0-9-]*)\/rendered\//.exec(p)?.[1])),
        ];
        expect(
          envs,
          `${set.metadata.name}: ${paths.join(", ")} names one environment, no wildcard`,
        ).toHaveLength(1);
        const env = envs[0] as string;
        const dest = destinationOf(env);
        expect(g.git.values, `${set.metadata.name} ${env}`).toEqual({
          project: dest.project,
          cluster: dest.cluster,
        });
        covered.set(env, [...(covered.get(env) ?? []), set.metadata.name]);
      }
    }
    // every environment's model folders and version folders have exactly one generator each
    for (const env of environments(REPO_ROOT)) {
      const sets = (covered.get(env.name) ?? []).sort();
      expect(sets, env.name).toEqual(
        env.name === "prod" ? ["wms-environments-prod", "wms-models"] : ["wms-environments", "wms-models"],
      );
    }
  });

  it("the model projects allow only their environment's cluster and namespaces, and create only those Namespaces", () => {
    for (const env of environments(REPO_ROOT)) {
      const dest = destinationOf(env.name);
      const project = docs.find(
        (d) => d.object.kind === "AppProject" && d.object.metadata.name === dest.project,
      )?.object;
      expect(project, dest.project).toBeDefined();
      expect(project?.spec.destinations).toEqual([{ name: dest.cluster, namespace: `${env.name}-wms-*` }]);
      expect(project?.spec.clusterResourceWhitelist).toEqual([
        { group: "", kind: "Namespace", name: `${env.name}-wms-*` },
      ]);
    }
  });

  it("an environment.yaml naming the platform project: exit 2 naming destination.project", {
    timeout: SLOW,
  }, () => {
    const root = fixtureCopy("basic");
    const file = join(root, "environments/dev/environment.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace(/project: wms-dev/, "project: platform"));
    const r = cli(root, "render");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/environments\/dev\/environment\.yaml.*destination\.project/);
  });

  it("a hand-made environments/x/rendered/y/app.json naming platform: render --check fails naming it", {
    timeout: SLOW,
  }, () => {
    const root = rendered();
    mkdirSync(join(root, "environments/x/rendered/y"), { recursive: true });
    writeFileSync(
      join(root, "environments/x/rendered/y/app.json"),
      JSON.stringify({ appName: "x", project: "platform", cluster: "in-cluster", namespace: "kube-system" }),
    );
    const r = cli(root, "render", "--check");
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("environments/x not written by render: a folder without environment.yaml");
  });

  it("a stray file beside an environment's files: render --check fails naming it", { timeout: SLOW }, () => {
    const root = rendered();
    writeFileSync(join(root, "environments/dev/app.json"), "{}\n");
    const r = cli(root, "render", "--check");
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("environments/dev/app.json not written by render");
  });

  it("an extra folder inside a rendered/: render --check fails with its diff", { timeout: SLOW }, () => {
    const root = rendered();
    mkdirSync(join(root, "environments/dev/rendered/evil"));
    writeFileSync(join(root, "environments/dev/rendered/evil/app.json"), '{"project":"platform"}\n');
    const r = cli(root, "render", "--check");
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toContain("environments/dev/rendered/evil/app.json");
  });
});

/** GitHub's CODEOWNERS matching (gitignore-like; the last matching line wins). */
function ownersOf(codeowners: string, path: string): string[] {
  let owners: string[] = [];
  for (const line of codeowners.split("\n")) {
    const [pattern, ...who] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (!pattern) continue;
    const anchored = pattern.startsWith("/");
    const body = pattern
      .replace(/^\//, "")
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .split("**")
      .map((part) => part.replace(/\*/g, "[^/]*"))
      .join(".*");
    const re = new RegExp(`${anchored ? "^" : "(^|/)"}${body}${pattern.endsWith("/") ? "" : "(/|$)"}`);
    if (re.test(path)) owners = who;
  }
  return owners;
}

describe("CODEOWNERS", () => {
  const text = readFileSync(join(REPO_ROOT, ".github/CODEOWNERS"), "utf8");
  const OWNERS = "@example-org/platform-owners";
  const guarded = [
    "apps/platform/wms-environments.yaml",
    "apps/argocd/project-platform.yaml",
    "policies/namespace-pss/policy.yaml",
    ...environments(REPO_ROOT).map((e) => e.file),
    "environments/newenv/environment.yaml",
    ".github/workflows/ci.yaml",
    ".github/CODEOWNERS",
    "generator/schemas/environment.schema.json",
    "terraform/modules/iam/main.tf",
  ];
  for (const path of guarded) {
    it(`${path} needs the platform owners' review`, () => {
      expect(ownersOf(text, path)).toContain(OWNERS);
    });
  }
  it("a version file and rendered output are not the platform owners' alone (the matcher tells them apart)", () => {
    expect(ownersOf(text, "environments/dev/wms.yaml")).not.toContain(OWNERS);
  });
});
