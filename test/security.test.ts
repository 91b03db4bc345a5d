/**
 * Issue 28, "whoever can write a commit must not own the clusters": one hostile commit per hole,
 * refused offline. The ApplicationSets fix project and cluster per environment (an app.json
 * naming `platform` changes nothing), the schema admits only the model projects, `render
 * --check` refuses anything under environments/ it did not write, the model projects create
 * only their own Namespaces, and CODEOWNERS covers what decides where things run.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Workflow = {
  permissions?: Record<string, string> | string;
  jobs: Record<string, { permissions?: unknown; steps: Step[] }>;
};
/** how a GitHub expression opens */
const EXPR = "$" + "{{";
const WORKFLOWS = join(REPO_ROOT, ".github/workflows");
const workflows = readdirSync(WORKFLOWS)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((f) => ({ file: f, wf: parse(readFileSync(join(WORKFLOWS, f), "utf8")) as Workflow }));
const stepsOf = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps);

describe("workflows: a tight supply chain", () => {
  it("finds the workflows", () => {
    expect(workflows.map((w) => w.file)).toEqual(
      expect.arrayContaining(["analyze.yaml", "ci.yaml", "server-image.yaml", "train.yaml"]),
    );
  });

  it("every action is pinned by a full commit SHA (a tag can be moved under the CI role)", () => {
    const loose = workflows.flatMap(({ file, wf }) =>
      stepsOf(wf)
        .map((s) => s.uses)
        .filter((u): u is string => !!u && !u.startsWith("./") && !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(u))
        .map((u) => `${file}: ${u}`),
    );
    expect(loose).toEqual([]);
  });

  it("no GitHub expression inside a run: script (values go through env:)", () => {
    const found = workflows.flatMap(({ file, wf }) =>
      stepsOf(wf)
        .filter((s) => s.run?.includes(EXPR))
        .map((s) => `${file}: ${s.run?.split("\n")[0]}`),
    );
    expect(found).toEqual([]);
  });

  it("every checkout leaves no token in .git/config", () => {
    for (const { file, wf } of workflows)
      for (const s of stepsOf(wf).filter((x) => x.uses?.startsWith("actions/checkout@")))
        expect(s.with?.["persist-credentials"], file).toBe(false);
  });

  it("installs run before any cloud credential is in the environment", () => {
    const installs = /\b(npm (ci|install)|pip install|scripts\/setup\.sh)\b/;
    for (const { file, wf } of workflows)
      for (const job of Object.values(wf.jobs)) {
        const creds = job.steps.findIndex((s) =>
          s.uses?.startsWith("aws-actions/configure-aws-credentials@"),
        );
        if (creds < 0) continue;
        const late = job.steps.slice(creds).filter((s) => s.run && installs.test(s.run));
        expect(
          late.map((s) => s.run?.split("\n")[0]),
          file,
        ).toEqual([]);
      }
  });

  it("permissions are explicit and minimal; no workflow writes to main", () => {
    const allowed: Record<string, Record<string, string>> = {
      "analyze.yaml": { contents: "read" },
      "ci.yaml": { contents: "read" },
      "registry-sync.yaml": { contents: "read" },
      // push a branch and open a pull request; OIDC for the CI role
      "server-image.yaml": { contents: "write", "pull-requests": "write", "id-token": "write" },
      "train.yaml": { contents: "write", "pull-requests": "write", "id-token": "write" },
    };
    for (const { file, wf } of workflows) {
      expect(wf.permissions, file).toEqual(allowed[file]);
      for (const job of Object.values(wf.jobs)) expect(job.permissions, file).toBeUndefined();
      for (const s of stepsOf(wf)) {
        expect(s.run ?? "", file).not.toMatch(/push\b[^\n]*(HEAD:main|HEAD:refs\/heads\/main|origin main)\b/);
      }
    }
  });

  it("analyze proposes its verdict as a pull request with auto-merge, with the deploy App's token", () => {
    const wf = workflows.find((w) => w.file === "analyze.yaml")?.wf as Workflow;
    const steps = stepsOf(wf);
    const token = steps.find((s) => s.uses?.startsWith("actions/create-github-app-token@"));
    expect(token?.with).toMatchObject({ "client-id": `${EXPR} vars.DEPLOY_APP_CLIENT_ID }}` });
    const propose = steps.find((s) => s.run?.includes("gh pr create"));
    expect(propose?.env?.GH_TOKEN).toBe(`${EXPR} steps.app-token.outputs.token }}`);
    expect(propose?.run).toMatch(/gh pr merge [^\n]*--auto/);
    expect(propose?.run).toContain("HEAD:refs/heads/$branch");
  });
});

describe("secrets and updates", () => {
  it("every ClusterSecretStore names the namespaces that may read through it, and only those that do", () => {
    const stores = docs.filter((d) => d.object.kind === "ClusterSecretStore").map((d) => d.object);
    expect(stores.length).toBeGreaterThan(0);
    for (const store of stores) {
      const users = docs
        .map((d) => d.object)
        .filter(
          (o) =>
            o.kind === "ExternalSecret" &&
            o.spec.secretStoreRef?.kind === "ClusterSecretStore" &&
            o.spec.secretStoreRef?.name === store.metadata.name,
        )
        .map((o) => o.metadata.namespace as string);
      expect(store.spec.conditions, store.metadata.name).toEqual([
        { namespaces: [...new Set(users)].sort() },
      ]);
    }
  });

  it("Renovate proposes a release only after it has been public for days (a hijacked release is often pulled sooner)", () => {
    const renovate = JSON.parse(readFileSync(join(REPO_ROOT, "renovate.json"), "utf8"));
    expect(renovate.minimumReleaseAge).toMatch(/^[1-9]\d* days?$/);
    expect(renovate.internalChecksFilter).toBe("strict");
  });
});

describe("namespaces several Applications create", () => {
  // Argo CD applies managedNamespaceMetadata server-side under one field manager for every
  // Application (controller/sync_namespace.go: syncNamespace), so two Applications that give
  // the same namespace different labels take them from each other on every sync.
  it("get the same managedNamespaceMetadata from each", () => {
    const byNamespace = new Map<string, Set<string>>();
    for (const o of docs.map((d) => d.object)) {
      const spec =
        o.kind === "Application" ? o.spec : o.kind === "ApplicationSet" ? o.spec.template.spec : null;
      if (!spec?.syncPolicy?.syncOptions?.includes("CreateNamespace=true")) continue;
      const ns = spec.destination.namespace as string;
      const seen = byNamespace.get(ns) ?? new Set<string>();
      seen.add(JSON.stringify(spec.syncPolicy.managedNamespaceMetadata ?? null));
      byNamespace.set(ns, seen);
    }
    const differing = [...byNamespace].filter(([ns, set]) => ns !== "kube-system" && set.size > 1);
    expect(differing.map(([ns, set]) => `${ns}: ${[...set].join(" vs ")}`)).toEqual([]);
  });
});
