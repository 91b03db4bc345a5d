/**
 * apps/ (Argo CD wiring and platform apps) checked against the upstream Argo CD, Gateway API
 * and Kubernetes schemas, strictly, plus the GitOps rules the issue fixes: automated sync with
 * prune and self-heal, allowEmpty off, model projects without cluster-wide kinds but Namespace.
 */
import { describe, expect, it } from "vitest";
import { validateObjects } from "../generator/src/validate/index.ts";
import { REPO_ROOT } from "./support/cli.ts";
import { appsDocs } from "./support/platform.ts";

// kustomize config and promtool test files are not Kubernetes objects (and Argo CD's
// non-recursive directory sources never apply the tests/ folders)
const docs = appsDocs(REPO_ROOT);

describe("apps/", () => {
  it("every object passes the upstream schemas strictly", () => {
    expect(docs.length).toBeGreaterThan(8);
    expect(validateObjects(docs)).toEqual([]);
  });

  it("the ApplicationSet makes one Application per rendered folder, labelled, pruning, self-healing, never allowEmpty", () => {
    const set = docs.find(
      (d) => d.object.kind === "ApplicationSet" && d.object.metadata.name === "wms-environments",
    )?.object;
    expect(set?.spec.generators[0].git.files[0].path).toBe("environments/*/rendered/*/app.json");
    const t = set?.spec.template;
    expect(Object.keys(t.metadata.labels)).toEqual(
      expect.arrayContaining(["wms.example/environment", "wms.example/model", "wms.example/version"]),
    );
    expect(t.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(t.metadata.finalizers).toContain("resources-finalizer.argocd.argoproj.io");
    expect(t.spec.source.directory.exclude).toBe("app.json");
  });

  it("model projects allow only this repo, their namespaces, and no cluster-wide kind but Namespace", () => {
    const projects = docs.filter(
      (d) => d.object.kind === "AppProject" && d.object.metadata.name.startsWith("wms-"),
    );
    expect(projects.map((p) => p.object.metadata.name).sort()).toEqual([
      "wms-dev",
      "wms-prod",
      "wms-staging",
    ]);
    for (const { object: p } of projects) {
      const env = p.metadata.name.replace("wms-", "");
      expect(p.spec.sourceRepos).toHaveLength(1);
      expect(p.spec.destinations.map((d: { namespace: string }) => d.namespace)).toEqual([`${env}-wms-*`]);
      expect(p.spec.clusterResourceWhitelist).toEqual([{ group: "", kind: "Namespace" }]);
    }
  });

  it("the validator really rejects an unknown field in an Application", () => {
    const app = docs.find((d) => d.object.kind === "Application");
    if (!app) throw new Error("no Application in apps/");
    const broken = structuredClone(app);
    broken.object.spec.syncPolicy.automated.allowEmpty2 = true;
    expect(
      validateObjects([broken])
        .map((p) => p.message)
        .join("\n"),
    ).toMatch(/allowEmpty2/);
  });
});
